// The Swetrix Events API sink: one POST per event over a keep-alive WirePool (./wire.ts, a minimal
// HTTP/1.1 client: undici's per-request CPU cost kept `run` below 70% of a load generator's rate),
// classified by swetrix-api.md §5, retried with p-retry on transient failures. The first attempt runs
// without p-retry (the common case is a single 201), so the hot path is one request and one body read.
import { brotliDecompress, gunzip, inflate } from 'node:zlib'
import { promisify } from 'node:util'
import pRetry, { AbortError } from 'p-retry'
import type { Endpoint, OutgoingEvent } from '../types.js'
import { abortableSleep, createRateLimiter } from './rate.js'
import type { RateLimiter } from './rate.js'
import { WirePool } from './wire.js'
import type { WireResponse } from './wire.js'

export type SendOutcome =
  | { kind: 'accepted'; status: number; attempts: number }
  /** 2xx with "Bot traffic detected, request is ignored": the API dropped it on purpose. */
  | { kind: 'bot'; status: number; attempts: number }
  /** Permanent rejection of this one event (400/403/404/413/other 4xx): dead-letter it. */
  | { kind: 'dead'; status: number; body: string; attempts: number }

/** The API refuses the whole project (unknown/disabled pid, origin policy, 401/402, no such route):
 *  stop the run. The message is one line naming the project id and the API URL. */
export class FatalApiError extends Error {
  override name = 'FatalApiError'
  constructor(
    message: string,
    readonly status: number,
    readonly pid: string,
    readonly url: string,
    /** True when an earlier attempt of this event failed ambiguously (timeout, reset, 5xx), so the
     *  event may have been stored; false means the API certainly did not store it. */
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
  ) {
    super(message)
  }
}

export interface RetryInfo {
  /** Number of the attempt that just failed (1 = first). */
  attempt: number
  status?: number
  error?: string
  /** Wait before the next attempt. */
  delayMs: number
}

export interface HttpSinkOptions {
  /** Events API base, e.g. https://api.swetrix.com/log ('/log' -> it, '/log/custom' -> it + '/custom'). */
  apiUrl: string
  /** Keep-alive pool size (default 16; pass the delivery concurrency). */
  connections?: number
  /** Per attempt: headers and body timeouts (default 30 s). */
  timeoutMs?: number
  /** Give up with DeliveryError after retrying this long (default 10 min). */
  maxRetryTimeMs?: number
  /** Max requests per second, all attempts included (optional). */
  rate?: number
  /** Backoff bounds (defaults 500 ms and 30 s); a Retry-After header raises the delay. */
  minRetryDelayMs?: number
  maxRetryDelayMs?: number
  onRetry?: (info: RetryInfo) => void
  /** Injectable sleep for backoff and rate limiting; must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Injectable clock for the rate limiter (ms). */
  now?: () => number
}

export interface EventSink {
  send(ev: OutgoingEvent, signal?: AbortSignal): Promise<SendOutcome>
  close(): Promise<void>
}

/** Headers of the real request: the event's headers (keys lower-cased) plus the JSON content type;
 *  `Accept-Encoding: identity` unless the event sets its own (we decode compressed replies anyway). */
export function requestHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k in headers) out[k.toLowerCase()] = headers[k]!
  out['content-type'] = 'application/json'
  if (out['accept-encoding'] === undefined) out['accept-encoding'] = 'identity'
  return out
}

/** The three endpoint URLs for an `--api-url`, without double slashes. */
export function endpointUrls(apiUrl: string): Record<Endpoint, string> {
  const base = apiUrl.replace(/\/+$/, '')
  return { '/log': base, '/log/custom': `${base}/custom`, '/log/error': `${base}/error` }
}

const BOT_MESSAGE = 'Bot traffic detected'
/** Server messages that mean the project (not this event) is refused: §5 "fatal". */
const FATAL_MESSAGES = [
  'The provided Project ID (pid) is incorrect',
  'Incoming analytics is disabled for this project',
  'This origin is prohibited',
]
/** Error codes of failures worth retrying: the request may not have reached the API, or its answer was
 *  lost or garbled (EPROTO: e.g. a proxy cut the answer short — transient). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EPROTO', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTCONN',
])

interface Target { origin: string; path: string; url: string }

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
}

/** A failed attempt that may succeed later. Carried through p-retry as the thrown error. */
class TransientFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
  ) {
    super(detail)
  }
}

type Attempt = SendOutcome | TransientFailure

/** Retry-After as milliseconds from now (delta-seconds or HTTP-date), undefined if absent/invalid. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === '') return undefined
  const trimmed = v.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/** The `message` of a NestJS error body, else the body itself, as one short line. */
function serverMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body)
    if (parsed !== null && typeof parsed === 'object' && 'message' in parsed) {
      const m = (parsed as { message: unknown }).message
      return oneLine(Array.isArray(m) ? m.join('; ') : String(m))
    }
  } catch {
    // not JSON: fall through
  }
  return oneLine(body)
}

/** The error's code, preferring a retryable one on the cause chain (wrapped connect errors). */
function errorCode(err: unknown): string | undefined {
  let first: string | undefined
  let e: unknown = err
  for (let depth = 0; depth < 3 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') {
      if (RETRYABLE_CODES.has(code)) return code
      first ??= code
    }
    e = (e as { cause?: unknown }).cause
  }
  return first
}

export function createHttpSink(o: HttpSinkOptions): EventSink {
  const targets = {} as Record<Endpoint, Target>
  for (const [endpoint, url] of Object.entries(endpointUrls(o.apiUrl)) as [Endpoint, string][]) {
    const u = new URL(url)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`--api-url must be http(s), got ${o.apiUrl}`)
    targets[endpoint] = { origin: u.origin, path: `${u.pathname}${u.search}`, url }
  }
  const timeoutMs = o.timeoutMs ?? 30_000
  const maxRetryTime = o.maxRetryTimeMs ?? 600_000
  // 0.25 s doubling up to 10 s (jittered): a short blip costs little, and after an outage every
  // slot is back within ~10 s of the API; over --max-retry-time that is still a light load.
  const minDelay = o.minRetryDelayMs ?? 250
  const maxDelay = o.maxRetryDelayMs ?? 10_000
  const sleep = o.sleep ?? abortableSleep
  const onRetry = o.onRetry
  const limiter: RateLimiter | undefined =
    o.rate !== undefined ? createRateLimiter({ rate: o.rate, sleep, ...(o.now ? { now: o.now } : {}) }) : undefined
  // One pool per origin (the three endpoints normally share one).
  const pools = new Map<string, WirePool>()
  for (const t of Object.values(targets)) {
    if (!pools.has(t.origin)) pools.set(t.origin, new WirePool({ url: t.origin, connections: o.connections ?? 16, timeoutMs }))
  }
  const poolOf = {} as Record<Endpoint, WirePool>
  for (const endpoint of Object.keys(targets) as Endpoint[]) poolOf[endpoint] = pools.get(targets[endpoint].origin)!

  async function attempt(pool: WirePool, target: Target, headers: Record<string, string>, body: string, pid: string,
    attempts: number, signal: AbortSignal | undefined): Promise<Attempt> {
    if (limiter) await limiter.take(signal)
    const url = target.url
    let res: WireResponse
    try {
      res = await pool.request(target.path, headers, body, signal)
    } catch (err) {
      if (signal?.aborted) throw signal.reason
      const code = errorCode(err)
      if (code !== undefined && RETRYABLE_CODES.has(code)) {
        return new TransientFailure(undefined, `${code}: ${oneLine((err as Error).message ?? String(err), 120)}`, undefined)
      }
      if (code === 'ERR_INVALID_HEADER') {
        // A header value that cannot be sent (CR/LF/NUL, a char above U+00FF): this event never can be.
        return { kind: 'dead', status: 0, body: `request rejected by the HTTP client: ${oneLine((err as Error).message)}`, attempts }
      }
      throw err
    }
    const status = res.status
    const raw = res.body
    const encoding = res.headers['content-encoding']
    const decode = typeof encoding === 'string' ? decoders[encoding.trim().toLowerCase()] : undefined
    // An undecodable body only loses the message; the status still classifies.
    const text = decode ? await decode(raw).then((b) => b.toString('utf8'), () => '') : raw.toString('utf8')
    if (status >= 200 && status < 300) {
      return text.includes(BOT_MESSAGE) ? { kind: 'bot', status, attempts } : { kind: 'accepted', status, attempts }
    }
    if (status === 408 || status === 429 || status >= 500) {
      return new TransientFailure(status, `HTTP ${status} ${serverMessage(text)}`.trimEnd(), parseRetryAfter(res.headers['retry-after']))
    }
    if (status >= 300 && status < 400) {
      // A redirect means --api-url is not the API itself (e.g. http -> https): every event would fail alike.
      const location = res.headers.location
      throw new FatalApiError(
        `Swetrix API ${url} answered HTTP ${status} redirect${location ? ` to ${String(location)}` : ''} for project ${pid || '(no pid)'}: use the final URL as --api-url`,
        status, pid, url, attempts > 1)
    }
    const msg = serverMessage(text)
    if (status === 401 || status === 402 ||
      (status === 400 && FATAL_MESSAGES.some((m) => text.includes(m))) ||
      (status === 404 && (/Project .* was not found/.test(text) || text.includes('Cannot POST')))) {
      throw new FatalApiError(
        `Swetrix API ${url} refused project ${pid || '(no pid)'}: HTTP ${status}${msg ? ` ${msg}` : ''}`,
        status, pid, url, attempts > 1)
    }
    // Bounded: an HTML error page should not bloat the dead-letter file.
    return { kind: 'dead', status, body: text.length > 2000 ? `${text.slice(0, 2000)}…` : text, attempts }
  }

  async function sendWithRetry(pool: WirePool, target: Target, headers: Record<string, string>, body: string, pid: string,
    first: TransientFailure, signal: AbortSignal | undefined): Promise<SendOutcome> {
    const started = performance.now()
    const url = target.url
    let last = first
    let attempts = 1
    let retriesConsumed = 0
    let delay = 0
    // Backoff before the next attempt: p-retry's formula (randomize, factor 2, min/max), raised to
    // Retry-After, never past the retry deadline (so the last attempt happens at about maxRetryTime).
    const plan = (failure: TransientFailure): void => {
      const backoff = Math.min(Math.round((Math.random() + 1) * minDelay * 2 ** retriesConsumed), maxDelay)
      retriesConsumed++
      const remaining = maxRetryTime - (performance.now() - started)
      delay = Math.max(0, Math.min(Math.max(backoff, failure.retryAfterMs ?? 0), remaining))
      onRetry?.(failure.status !== undefined
        ? { attempt: attempts, status: failure.status, delayMs: delay }
        : { attempt: attempts, error: failure.detail, delayMs: delay })
    }
    const giveUp = (): DeliveryError => new DeliveryError(
      `Events API ${url} still failing after ${attempts} attempts over ${Math.round((performance.now() - started) / 1000)} s: ${last.detail}`,
      url, attempts, last.status, last.status === undefined ? last.detail : undefined)
    plan(first)
    // p-retry runs the loop (unbounded retries, maxRetryTime backstop, AbortError unwrapping, signal).
    // Its own timer is bypassed (shouldConsumeRetry: false) so the wait can honour Retry-After, be
    // reported through onRetry and use the injectable sleep.
    return pRetry(async () => {
      let r: Attempt
      try {
        if (delay > 0) await sleep(delay, signal)
        attempts++
        r = await attempt(pool, target, headers, body, pid, attempts, signal)
      } catch (err) {
        // Abort, fatal API answers and unexpected errors end the loop unchanged.
        throw new AbortError(err instanceof Error ? err : new Error(String(err)))
      }
      if (!(r instanceof TransientFailure)) return r
      last = r
      if (performance.now() - started >= maxRetryTime) throw new AbortError(giveUp())
      throw r
    }, {
      retries: Infinity,
      maxRetryTime: maxRetryTime + maxDelay,
      factor: 2,
      randomize: true,
      minTimeout: minDelay,
      maxTimeout: maxDelay,
      ...(signal ? { signal } : {}),
      shouldConsumeRetry: () => false,
      onFailedAttempt: ({ error }) => {
        if (error instanceof TransientFailure) plan(error)
      },
    }).catch((err: unknown) => {
      if (err instanceof TransientFailure) throw giveUp()
      throw err
    })
  }

  return {
    async send(ev, signal) {
      const target = targets[ev.endpoint]
      const headers = requestHeaders(ev.headers)
      const body = JSON.stringify(ev.body)
      const pid = typeof ev.body.pid === 'string' ? ev.body.pid : ''
      const pool = poolOf[ev.endpoint]
      const r = await attempt(pool, target, headers, body, pid, 1, signal)
      if (!(r instanceof TransientFailure)) return r
      return sendWithRetry(pool, target, headers, body, pid, r, signal)
    },
    async close() {
      await Promise.all([...pools.values()].map((p) => p.close()))
    },
  }
}
