// Holds new attempts while the API does not answer. A request that was written and ran out of time
// may have been stored, so writing more into an API that does not answer only adds events in doubt
// (and, for retries, possible duplicates). After such a timeout the circuit opens: attempts wait,
// unsent, while one cheap probe at a time (a request that cannot store an event) asks whether the
// API answers at all, with backoff between probes (p-retry). When a probe is answered one waiting
// attempt goes first (half-open); once an attempt is answered every other one goes. A timeout of
// that first attempt opens the circuit again. Requests timed out since the last answer are in doubt
// (reported uncertain, never retried): once that first attempt too ran out of time and as many are
// in doubt as there are connections, trials pause for a cooldown (doubling, capped), so an API that
// answers its probes but not its events gets one event in doubt per cooldown instead of the rest of
// the log, and one whose hang ended (random hangs, a stalled database) is found again.
import pRetry from 'p-retry'

/** What a waiting attempt was told: go (`trial`: it is the one first attempt after the probe), or
 *  not at all (its send stopped, or its deadline came first). */
export type Admission = 'go' | 'trial' | 'stopped' | 'deadline'

export interface CircuitOptions {
  /** One request that cannot store an event: resolves true once any HTTP answer arrived, false on
   *  anything else (timeout, refused, reset). Must end when `signal` aborts. */
  probe(signal: AbortSignal): Promise<boolean>
  /** Backoff between probes that got no answer (p-retry: doubling, jittered, capped). */
  minDelayMs: number
  maxDelayMs: number
  /** Requests in doubt (timed out since the last answer) past which trials wait for a cooldown. */
  maxInDoubt: number
  /** The cooldown before the next trial past `maxInDoubt`, doubling after each that times out. */
  retrialMinDelayMs: number
  retrialMaxDelayMs: number
}

interface Waiter {
  done(a: Admission): void
}

const OPEN = 1
const HALF_OPEN = 2

export class Circuit {
  /** Attempts start at once (the hot path reads only this). */
  closed = true
  private state = 0
  /** The half-open attempt is out. */
  private trialOut = false
  private readonly waiters: Waiter[] = []
  private probing: AbortController | undefined
  /** Requests timed out since the last answer. */
  private inDoubt = 0
  /** A trial attempt timed out since the last answer. */
  private trialTimedOut = false
  /** Past `maxInDoubt`: a cooldown ended, so one more trial may go after the next answered probe. */
  private retrialDue = false
  private retrialTimer: ReturnType<typeof setTimeout> | undefined
  /** The next cooldown; reset by an answer. */
  private retrialDelayMs: number

  constructor(private readonly o: CircuitOptions) {
    this.retrialDelayMs = o.retrialMinDelayMs
  }

  /** Waits until an attempt may start. Only call while `closed` is false. `deadline` is a
   *  performance.now() time. */
  admit(signal: AbortSignal | undefined, deadline: number): Promise<Admission> | Admission {
    if (this.closed) return 'go'
    if (signal?.aborted) return 'stopped'
    if (this.state === HALF_OPEN && !this.trialOut && this.mayTry()) {
      this.trialOut = true
      return 'trial'
    }
    return new Promise<Admission>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const onAbort = (): void => waiter.done('stopped')
      const waiter: Waiter = {
        done: (a) => {
          const i = this.waiters.indexOf(waiter)
          if (i < 0) return
          this.waiters.splice(i, 1)
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          resolve(a)
        },
      }
      this.waiters.push(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
      const wait = deadline - performance.now()
      if (Number.isFinite(wait)) timer = setTimeout(() => waiter.done('deadline'), Math.max(0, wait))
    })
  }

  /** An attempt got an HTTP answer (any status): the API answers, every waiting attempt goes. */
  answered(): void {
    if (this.closed) return
    this.closed = true
    this.state = 0
    this.trialOut = false
    this.inDoubt = 0
    this.trialTimedOut = false
    this.retrialDue = false
    this.retrialDelayMs = this.o.retrialMinDelayMs
    this.stopRetrialTimer()
    this.stopProbing()
    for (const w of [...this.waiters]) w.done('go')
  }

  /** An attempt was written and ran out of time: hold new attempts and start probing. */
  timedOut(trial: boolean): void {
    this.inDoubt++
    if (trial) {
      this.trialOut = false
      this.trialTimedOut = true
      if (this.retrialDue) {
        this.retrialDue = false
        this.retrialDelayMs = Math.min(this.retrialDelayMs * 2, this.o.retrialMaxDelayMs)
      }
    }
    this.closed = false
    this.state = OPEN
    if (this.mayTry()) this.startProbing()
    else this.startRetrialTimer()
  }

  /** An attempt ended otherwise (refused, reset, never written): if it was the half-open one, the
   *  next waiting attempt goes instead. */
  ended(trial: boolean): void {
    if (!trial || this.closed) return
    this.trialOut = false
    if (this.state === HALF_OPEN) this.releaseTrial()
  }

  /** Stops probing; waiting attempts are told to stop. */
  close(): void {
    this.stopRetrialTimer()
    this.stopProbing()
    for (const w of [...this.waiters]) w.done('stopped')
  }

  private mayTry(): boolean {
    return !this.trialTimedOut || this.inDoubt < this.o.maxInDoubt || this.retrialDue
  }

  /** Past the bound nothing is probed or tried until the cooldown ends; then probing resumes, and an
   *  answered probe lets one trial go. */
  private startRetrialTimer(): void {
    if (this.retrialTimer !== undefined) return
    this.retrialTimer = setTimeout(() => {
      this.retrialTimer = undefined
      if (this.closed) return
      this.retrialDue = true
      this.state = OPEN
      this.startProbing()
    }, this.retrialDelayMs)
    this.retrialTimer.unref?.()
  }

  private stopRetrialTimer(): void {
    clearTimeout(this.retrialTimer)
    this.retrialTimer = undefined
  }

  private releaseTrial(): void {
    if (this.trialOut || !this.mayTry()) return
    const first = this.waiters[0]
    if (first === undefined) return // the next attempt to ask is the trial
    this.trialOut = true
    first.done('trial')
  }

  private startProbing(): void {
    if (this.probing) return
    const ac = new AbortController()
    this.probing = ac
    pRetry(
      async () => {
        if (!(await this.o.probe(ac.signal))) throw new Error('the API did not answer the probe')
      },
      { retries: Infinity, factor: 2, minTimeout: this.o.minDelayMs, maxTimeout: this.o.maxDelayMs, randomize: true, signal: ac.signal },
    ).then(
      () => {
        if (this.probing !== ac) return
        this.probing = undefined
        if (this.closed) return
        this.state = HALF_OPEN
        this.releaseTrial()
      },
      () => {
        // Aborted: the circuit closed or the sink did.
        if (this.probing === ac) this.probing = undefined
      },
    )
  }

  private stopProbing(): void {
    const ac = this.probing
    this.probing = undefined
    ac?.abort()
  }
}
