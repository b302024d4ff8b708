// The contract between the delivery engine and a sink (the Events API over HTTP, the dry-run stdout
// printer, later a Data Import sink): what `send` resolves to, and the errors it may reject with.
// Every rejection says whether an attempt of the event MAY have reached the server (`maybeDelivered`);
// the engine keeps an event "uncertain" only then, and otherwise leaves it for the next run to send.
import type { OutgoingEvent } from '../types.js'

export type SendOutcome =
  | { kind: 'accepted'; status: number; attempts: number; unansweredRetries?: number }
  /** 2xx with "Bot traffic detected, request is ignored": the API dropped it on purpose. */
  | { kind: 'bot'; status: number; attempts: number; unansweredRetries?: number }
  /** Permanent rejection of this one event (400/403/404/413/other 4xx): dead-letter it. */
  | { kind: 'dead'; status: number; body: string; attempts: number; unansweredRetries?: number }
  /** The request was written and no answer came within the request timeout: the API may have
   *  stored it. Not retried (a retry could store it twice): the event is reported uncertain. */
  | { kind: 'unanswered'; status: 0; attempts: number; unansweredRetries?: number }

export interface SendControl {
  /** Aborted on a clean stop: start no further attempt (a backoff wait ends at once); the attempt
   *  on the wire, if any, may still finish. The send then rejects with SendStoppedError. */
  stopRetrying?: AbortSignal
}

export interface EventSink {
  /** `signal` aborts the attempt on the wire too (end of the grace period). */
  send(ev: OutgoingEvent, signal?: AbortSignal, control?: SendControl): Promise<SendOutcome>
  close(): Promise<void>
}

/** The API refuses the whole project (unknown/disabled pid, origin policy, 401/402, no such route):
 *  stop the run. The message is one line naming the project id and the API URL. */
export class FatalApiError extends Error {
  override name = 'FatalApiError'
  constructor(
    message: string,
    readonly status: number,
    readonly pid: string,
    readonly url: string,
    /** True when an earlier attempt of this event went unanswered (timeout, reset after the write),
     *  so the event may have been stored; false means the API certainly did not store it. */
    readonly maybeDelivered: boolean,
  ) {
    super(message)
  }
}

/** Transient failures lasted longer than maxRetryTimeMs: exit 1 and keep the checkpoint. */
export class DeliveryError extends Error {
  override name = 'DeliveryError'
  constructor(
    message: string,
    readonly url: string,
    readonly attempts: number,
    readonly lastStatus?: number,
    readonly lastError?: string,
    /** True when some attempt was written and went unanswered. */
    readonly maybeDelivered = false,
  ) {
    super(message)
  }
}

/** The API's TLS certificate is not trusted (self-signed, expired, wrong host, unknown CA). Retrying
 *  cannot fix it, so the run stops at once; no request was written, so nothing is uncertain. */
export class CertificateError extends Error {
  override name = 'CertificateError'
  /** Documented in the README (Exit codes): a configuration problem, like a refused project. */
  readonly exitCode = 2
  readonly maybeDelivered = false
  constructor(
    message: string,
    readonly code: string,
    readonly url: string,
  ) {
    super(message)
  }
}

/** The send ended because of a stop (stopRetrying, or the abort signal after the grace period). */
export class SendStoppedError extends Error {
  override name = 'SendStoppedError'
  constructor(
    /** True when the attempt on the wire was aborted after its request was written, or an earlier
     *  attempt went unanswered: the server may have stored the event. */
    readonly maybeDelivered: boolean,
    readonly unansweredRetries = 0,
  ) {
    super(maybeDelivered ? 'send stopped while a request was unanswered' : 'send stopped before the request reached the server')
  }
}

/** Whether a rejection from `send` means the event may have reached the server. Errors that do not
 *  say (a bug, a crash of the sink) count as "may have": uncertain rather than sent twice. */
export function mayHaveReachedServer(err: unknown): boolean {
  if (err !== null && typeof err === 'object' && 'maybeDelivered' in err) return (err as { maybeDelivered: unknown }).maybeDelivered !== false
  return true
}
