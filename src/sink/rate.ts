// Request-rate limiter for `--rate N` (requests per second).
//
// GCRA / virtual scheduling: every caller reserves the next free slot on a
// timeline and sleeps until it; no queue, no polling, FIFO by call order.
// A small burst (a tenth of a second's worth) keeps high rates from being
// throttled by timer granularity while the long-run rate never exceeds N/s.

export interface RateLimiterOptions {
  /** Maximum requests per second (> 0). */
  rate: number
  /** Requests allowed back to back after an idle period; default max(1, floor(rate / 10)). */
  burst?: number
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number
  /** Sleep that rejects when `signal` aborts; injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export interface RateLimiter {
  /** Resolves when the caller may send one request; rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void>
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export function createRateLimiter(o: RateLimiterOptions): RateLimiter {
  if (!(o.rate > 0) || !Number.isFinite(o.rate)) throw new RangeError(`rate must be a positive number, got ${o.rate}`)
  const interval = 1000 / o.rate
  const burst = Math.max(1, Math.floor(o.burst ?? o.rate / 10))
  const tolerance = (burst - 1) * interval
  const now = o.now ?? (() => performance.now())
  const sleep = o.sleep ?? abortableSleep
  // Theoretical arrival time of the next request.
  let tat = -Infinity
  const ready = Promise.resolve()

  return {
    take(signal) {
      const t = now()
      if (tat < t) tat = t
      const wait = tat - tolerance - t
      tat += interval
      return wait > 0 ? sleep(wait, signal) : ready
    },
  }
}
