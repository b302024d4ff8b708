// One attempt on the wire: a POST through undici's low-level `dispatch` (no stream machinery), resolved
// with the answer or with the error and whether the request had been written (undici's onConnect
// fires just before the request bytes go out). This is the HTTP sink's hot path, once per event, so
// it allocates little: one handler object per attempt, the answer's headers parsed only when the
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
 *  removing an EventTarget listener per request cost ~1 µs of the ~60 µs an event takes on loopback. */
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

  constructor(
    private readonly resolve: (r: WireResult) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly watch: AbortWatch,
  ) {}

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
    if (this.signal !== undefined) this.watch.delete(this.signal, this)
    this.resolve(r)
  }
}

/** Sends one request through `dispatcher`. */
export function dispatchAttempt(
  dispatcher: Dispatcher,
  target: AttemptTarget,
  headers: string[],
  body: string,
  signal: AbortSignal | undefined,
  watch: AbortWatch,
): Promise<WireResult> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve({ error: signal.reason, written: false })
      return
    }
    const attempt = new WireAttempt(resolve, signal, watch)
    if (signal !== undefined) watch.add(signal, attempt)
    try {
      dispatcher.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers, body }, attempt)
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
