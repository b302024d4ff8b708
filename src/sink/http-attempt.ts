// One attempt on the wire: a request through undici's low-level `dispatch` (no stream machinery),
// resolved with the answer or with the error and whether the request had been written (undici's
// onConnect fires just before the request bytes go out), within a deadline for the whole attempt.
// This is the HTTP sink's hot path, once per event, so it allocates little: one handler object per
// attempt (which is also its node in the deadline list), the answer's headers parsed only when the
// classification needs them, and one abort listener per signal instead of one per request.
import type { Dispatcher } from 'undici'

export interface AttemptTarget {
  origin: string
  path: string
}

export interface RawAnswer {
  status: number
  /** Lower-case names. For a 2xx only `content-encoding` (the one header read there); all of them
   *  otherwise (Retry-After, Location). */
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** An answer, or an error and whether the request had been written (the server may have it). */
export type WireResult = { answer: RawAnswer } | { error: unknown; written: boolean }

/** Aborts the attempts in flight when their signal aborts, with one listener per signal: adding and
 *  removing an EventTarget listener per request is a measurable part of an event's CPU on loopback. */
export class AbortWatch {
  private readonly attempts = new WeakMap<AbortSignal, Set<WireAttempt>>()

  add(signal: AbortSignal, attempt: WireAttempt): void {
    let set = this.attempts.get(signal)
    if (set === undefined) {
      const watched = new Set<WireAttempt>()
      set = watched
      this.attempts.set(signal, watched)
      signal.addEventListener(
        'abort',
        () => {
          for (const a of [...watched]) a.abortBySignal()
        },
        { once: true },
      )
    }
    set.add(attempt)
  }

  delete(signal: AbortSignal, attempt: WireAttempt): void {
    this.attempts.get(signal)?.delete(attempt)
  }
}

/** The error an attempt ends with when its deadline passes (code for classify.ts). */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError'
  readonly code = REQUEST_TIMEOUT_CODE
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms (--request-timeout)`)
  }
}
export const REQUEST_TIMEOUT_CODE = 'SWX_REQUEST_TIMEOUT'

/** Deadlines of the attempts in flight: connect, write, headers and the whole body within `timeoutMs`
 *  (undici's own timeouts are per phase, and its body timeout is per chunk, so an answer trickling in
 *  a byte at a time never ends). Every attempt gets the same timeout, so deadlines come in start
 *  order: the attempts form a list, oldest first, that a periodic sweep cuts from the front. No timer
 *  per request; an attempt ends at most one sweep period after its deadline. */
export class AttemptDeadlines {
  private first: WireAttempt | undefined
  private last: WireAttempt | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly periodMs: number

  constructor(readonly timeoutMs: number) {
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`request timeout must be a positive number of ms, got ${timeoutMs}`)
    this.periodMs = Math.min(1000, Math.max(10, Math.round(timeoutMs / 10)))
  }

  add(a: WireAttempt): void {
    a.deadline = performance.now() + this.timeoutMs
    a.prev = this.last
    if (this.last) this.last.next = a
    else this.first = a
    this.last = a
    if (this.timer === undefined) {
      this.timer = setInterval(this.sweep, this.periodMs)
      // The sockets keep the process alive while attempts run; this timer alone must not.
      this.timer.unref()
    }
  }

  delete(a: WireAttempt): void {
    const { prev, next } = a
    if (prev) prev.next = next
    else if (this.first === a) this.first = next
    else return // not in the list
    if (next) next.prev = prev
    else this.last = prev
    a.prev = a.next = undefined
  }

  close(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  private readonly sweep = (): void => {
    const now = performance.now()
    for (let a = this.first; a !== undefined && a.deadline <= now; a = this.first) a.expire(this.timeoutMs)
  }
}

const NO_HEADERS: Record<string, string | string[] | undefined> = Object.freeze({})
const CONTENT_ENCODING = 'content-encoding'

/** undici's handler for one attempt (the legacy handler methods are undici's own lean path). */
export class WireAttempt implements Dispatcher.DispatchHandler {
  private written = false
  private settled = false
  private status = 0
  private headers = NO_HEADERS
  private chunks: Buffer[] = []
  private abortRequest: ((err?: Error) => void) | undefined
  /** Node in AttemptDeadlines' list. */
  deadline = 0
  prev: WireAttempt | undefined = undefined
  next: WireAttempt | undefined = undefined

  constructor(
    private readonly resolve: (r: WireResult) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly watch: AbortWatch,
    private readonly deadlines: AttemptDeadlines,
  ) {}

  /** The deadline passed: as an abort (before the write the request is dropped unsent). */
  expire(timeoutMs: number): void {
    const err = new RequestTimeoutError(timeoutMs)
    this.abortRequest?.(err)
    this.settle({ error: err, written: this.written })
  }

  /** The signal aborted: before the write the request is dropped unsent (aborted at onConnect);
   *  after it, torn down. */
  abortBySignal(): void {
    const reason: unknown = this.signal?.reason
    this.abortRequest?.(reason as Error)
    this.settle({ error: reason, written: this.written })
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortRequest = abort
    if (this.settled) abort(this.signal?.reason as Error)
    else this.written = true
  }

  onHeaders(statusCode: number, raw: Buffer[] | string[] | null): boolean {
    this.status = statusCode
    const names = raw as Buffer[] | null
    if (names !== null) this.headers = statusCode >= 200 && statusCode < 300 ? contentEncodingOnly(names) : parseHeaders(names)
    return true
  }

  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk)
    return true
  }

  onComplete(): void {
    const chunks = this.chunks
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    this.settle({ answer: { status: this.status, headers: this.headers, body } })
  }

  onError(err: Error): void {
    this.settle({ error: err, written: this.written })
  }

  private settle(r: WireResult): void {
    if (this.settled) return
    this.settled = true
    this.deadlines.delete(this)
    if (this.signal !== undefined) this.watch.delete(this.signal, this)
    this.resolve(r)
  }
}

/** Sends one request through `dispatcher` (`body` undefined: none, as for the OPTIONS probe). */
export function dispatchAttempt(
  dispatcher: Dispatcher,
  target: AttemptTarget,
  method: 'POST' | 'OPTIONS',
  headers: string[],
  body: string | undefined,
  signal: AbortSignal | undefined,
  watch: AbortWatch,
  deadlines: AttemptDeadlines,
): Promise<WireResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ error: signal.reason, written: false })
      return
    }
    const attempt = new WireAttempt(resolve, signal, watch, deadlines)
    if (signal !== undefined) watch.add(signal, attempt)
    deadlines.add(attempt)
    try {
      dispatcher.dispatch({ origin: target.origin, path: target.path, method, headers, body }, attempt)
    } catch (err) {
      attempt.onError(err as Error)
    }
  })
}

/** All headers of an answer, names lower-cased; repeated names collect into an array. */
export function parseHeaders(raw: readonly Buffer[]): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) addHeader(out, raw[i]!.toString('latin1').toLowerCase(), raw[i + 1]!)
  return out
}

/** Only the Content-Encoding of an answer (names compared by length first: most never match). */
function contentEncodingOnly(raw: readonly Buffer[]): Record<string, string | string[] | undefined> {
  let out = NO_HEADERS
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!
    if (name.length !== CONTENT_ENCODING.length || name.toString('latin1').toLowerCase() !== CONTENT_ENCODING) continue
    if (out === NO_HEADERS) out = {}
    addHeader(out, CONTENT_ENCODING, raw[i + 1]!)
  }
  return out
}

function addHeader(out: Record<string, string | string[] | undefined>, name: string, raw: Buffer): void {
  const v = raw.toString('latin1')
  const prev = out[name]
  out[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
}
