// Delivery engine: sends a file's events concurrently while keeping the checkpoint exact. It ties
// the window (./window.ts: states in file order, the watermark, what a record holds), group commit
// (./group-commit.ts: durable reservations in blocks) and a shared budget (./budget.ts) to the
// source and the sink: it reads, reserves, sends once a reservation is durable, applies outcomes,
// and stops (a signal, with a grace period) or fails (the first error) with an exact last record.
//
// After a failure or a stop, dispatched covers only sends that may have reached the server (a request
// written and left unanswered); events the server certainly does not have (refused connections, DNS
// or TLS failures, answered 429/5xx, aborted before the write, retries exhausted) are left outside
// it, so the next run sends them again: nothing skipped. Only a crash leaves the whole reserved
// range uncertain, and a reservation never covers more than `concurrency` undone events.
import { setMaxListeners } from 'node:events'
import { mayHaveReachedServer, SendStoppedError } from '../sink/contract.js'
import type { SendOutcome } from '../sink/contract.js'
import { BudgetShare } from './budget.js'
import { callPersist, GroupCommit } from './group-commit.js'
import type { DeliveryItem, DeliveryOptions, DeliveryResult, DeliveryStats, Progress } from './types.js'
import { DeliveryWindow } from './window.js'

export { DeliveryBudget } from './budget.js'
export type { DeadOutcome, DeliveryItem, DeliveryOptions, DeliveryResult, DeliveryStats, Progress } from './types.js'

export async function deliver(items: AsyncIterable<DeliveryItem>, o: DeliveryOptions): Promise<DeliveryResult> {
  return new Engine(items[Symbol.asyncIterator](), o).run()
}

class Engine {
  private readonly window: DeliveryWindow
  private readonly commit: GroupCommit
  private share: BudgetShare | undefined
  private readonly sendAbort = new AbortController()
  /** Aborted on a stop or failure: sends start no further attempt (a backoff wait ends at once). */
  private readonly retryStop = new AbortController()
  private readonly sendControl = { stopRetrying: this.retryStop.signal }
  private readonly stats: DeliveryStats = { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, unansweredRetries: 0 }

  private exhausted = false
  private stopping = false
  private aborted = false
  private finishing = false
  private failure: { error: unknown } | undefined
  private roomWaiter: (() => void) | undefined
  private graceTimer: NodeJS.Timeout | undefined
  private flushTimer: NodeJS.Timeout | undefined
  private readonly persist = (p: Progress): Promise<void> => this.o.persist(p)
  private resolve!: (r: DeliveryResult) => void
  private reject!: (e: unknown) => void

  constructor(
    private readonly it: AsyncIterator<DeliveryItem>,
    private readonly o: DeliveryOptions,
  ) {
    this.window = new DeliveryWindow(o.concurrency, o.initial)
    this.commit = new GroupCommit(this.persist, Math.max(1, Math.floor(o.persistConcurrency ?? 1)), {
      reported: (p) => this.o.onProgress?.(p, this.stats),
      failed: (err) => this.fail(err),
      changed: () => this.schedule(),
    })
    // Every in-flight send listens on these signals.
    setMaxListeners(0, this.sendAbort.signal)
    setMaxListeners(0, this.retryStop.signal)
  }

  run(): Promise<DeliveryResult> {
    const done = new Promise<DeliveryResult>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
    const signal = this.o.signal
    if (signal) {
      if (signal.aborted) this.onAbort()
      else signal.addEventListener('abort', this.onAbort, { once: true })
    }
    if (this.o.budget) {
      this.share = new BudgetShare(
        this.o.budget,
        () => {
          if (this.window.held > 0 && !this.finishing) setImmediate(() => this.schedule())
        },
        () => {
          if (this.finishing || this.commit.flushWanted) return
          this.commit.flushWanted = true
          setImmediate(() => this.schedule())
        },
      )
    }
    this.flushTimer = setInterval(this.onFlushTick, this.o.flushIntervalMs ?? 1000)
    this.flushTimer.unref()
    if (!this.stopping) void this.pump()
    this.schedule()
    return done
  }

  // ---- reading ----

  private async pump(): Promise<void> {
    try {
      while (!this.stopping) {
        if (!this.window.hasRoom()) {
          await new Promise<void>((wake) => {
            this.roomWaiter = wake
          })
          continue
        }
        const r = await this.it.next()
        if (r.done) {
          this.exhausted = true
          break
        }
        // An item read after a stop is dropped: it is not acked, so the next run reads it again.
        if (this.stopping) break
        this.window.add(r.value)
        this.schedule()
      }
    } catch (err) {
      this.fail(err)
      this.schedule()
      return
    }
    if (!this.exhausted) Promise.resolve(this.it.return?.()).catch(() => {})
    this.schedule()
  }

  private wakePump(): void {
    const wake = this.roomWaiter
    if (wake) {
      this.roomWaiter = undefined
      wake()
    }
  }

  // ---- reservations and sends ----

  /** false: nothing reserved (no room under `concurrency`, or the shared budget has no unit free now). */
  private reserve(): boolean {
    let cap = this.window.reservable()
    if (cap <= 0) return false
    const share = this.share
    if (share) {
      // Only as many events as there are units may be reserved: reserved events are the ones a
      // crash could leave uncertain.
      const units = share.free()
      if (units <= 0) {
        // Our own done events may hold units too: make them durable (in schedule).
        if (share.starve()) this.commit.flushWanted = true
        return false
      }
      cap = Math.min(cap, units)
    }
    const before = this.window.held
    const sendableEnd = this.window.reserve(cap)
    share?.take(before - this.window.held)
    this.startPersist(this.window.snapshot(), sendableEnd)
    return true
  }

  /** A durable write of `p`; once it lands, the done events it newly holds give their units back and,
   *  for a reservation (`sendableEnd` >= 0), the events it covers are sent. */
  private startPersist(p: Progress, sendableEnd: number): void {
    const given = this.share?.snapshot() ?? 0
    this.commit.start(p, () => {
      this.share?.give(given)
      if (sendableEnd >= 0) {
        this.window.markSendable(sendableEnd)
        this.sendReserved()
      }
    })
  }

  private sendReserved(): void {
    if (this.stopping) return
    const signal = this.sendAbort.signal
    for (let seq = this.window.takeSendable(); seq >= 0; seq = this.window.takeSendable()) {
      this.stats.sent++
      let pending: Promise<SendOutcome>
      try {
        pending = this.o.sink.send(this.window.item(seq).event!, signal, this.sendControl)
      } catch (err) {
        pending = Promise.reject(err)
      }
      pending.then(
        (outcome) => this.onOutcome(seq, outcome),
        (err: unknown) => this.onSendError(seq, err),
      )
    }
  }

  private noteUnanswered(seq: number, count: number | undefined): void {
    if (!count) return
    this.stats.unansweredRetries! += count
    this.o.onUnansweredRetry?.(this.window.item(seq), count)
  }

  private onOutcome(seq: number, outcome: SendOutcome): void {
    if (outcome.attempts > 1) this.stats.retries += outcome.attempts - 1
    this.noteUnanswered(seq, outcome.unansweredRetries)
    if (outcome.kind === 'dead') {
      this.o.onDeadLetter(this.window.item(seq), outcome).then(
        () => {
          this.stats.deadLettered++
          this.markDone(seq)
        },
        (err: unknown) => this.onSendError(seq, err),
      )
      return
    }
    if (outcome.kind === 'unanswered') {
      // Done for the watermark (it is never sent again), listed as uncertain.
      Promise.resolve(this.o.onUnanswered?.(this.window.item(seq))).then(
        () => {
          this.stats.uncertain++
          this.markDone(seq)
        },
        (err: unknown) => this.onSendError(seq, err),
      )
      return
    }
    if (outcome.kind === 'accepted') this.stats.accepted++
    else this.stats.botIgnored++
    this.markDone(seq)
  }

  private markDone(seq: number): void {
    this.window.markDone(seq)
    if (this.share?.done()) this.commit.flushWanted = true
    this.wakePump()
    this.schedule()
  }

  private onSendError(seq: number, err: unknown): void {
    // A send that certainly did not reach the server stays before the checkpoint and the next run
    // sends it again ("nothing is skipped"); one that may have (written, unanswered) stays uncertain.
    this.window.markFailed(seq, mayHaveReachedServer(err))
    if (err instanceof SendStoppedError) this.noteUnanswered(seq, err.unansweredRetries)
    // Errors caused by our own stop or abort are expected; anything else ends the run.
    if (!this.sendAbort.signal.aborted && !(err instanceof SendStoppedError)) this.fail(err)
    this.schedule()
  }

  // ---- control ----

  private readonly onFlushTick = (): void => {
    if (!this.window.dirty || this.finishing) return
    this.commit.flushWanted = true
    this.schedule()
  }

  private readonly onAbort = (): void => {
    this.aborted = true
    this.stopping = true
    this.retryStop.abort()
    this.wakePump()
    this.schedule()
  }

  private fail(err: unknown): void {
    this.failure ??= { error: err }
    this.stopping = true
    this.retryStop.abort()
    this.wakePump()
  }

  /** Decides the next step after any change. Synchronous; every async completion calls it again. */
  private schedule(): void {
    if (this.finishing) return
    const window = this.window
    if (this.stopping) {
      if (window.inflight > 0) {
        if (this.aborted && this.graceTimer === undefined) {
          this.graceTimer = setTimeout(() => this.sendAbort.abort(new Error('delivery stopped: grace period over')), this.o.graceMs ?? 10_000)
        }
        return
      }
      if (!this.commit.idle) return
      const { progress, uncertain } = window.stoppedSnapshot()
      this.stats.uncertain += uncertain
      this.finish(progress)
      return
    }
    if (this.exhausted && window.empty) {
      if (!this.commit.idle) return
      this.finish(window.finalSnapshot())
      return
    }
    if (!this.commit.canStart()) return
    // Held events beyond `concurrency` undone wait for a send to end (markDone calls this again).
    if (window.held > 0 && window.reservable() > 0) {
      // Reserved at the end of this event-loop turn, once no durable write runs (or the running one
      // is slow): every answer and line that arrived in the turn shares one write, so blocks stay
      // large where answers come in bursts, while against a distant API a freed slot waits for little
      // more than its own write.
      if (this.commit.takeTurn() && this.reserve()) return
      this.commit.reserveLater()
    }
    if (this.commit.flushWanted && window.dirty) this.startPersist(window.snapshot(), -1)
  }

  private finish(p: Progress): void {
    this.finishing = true
    this.share?.leave()
    clearInterval(this.flushTimer)
    clearTimeout(this.graceTimer)
    this.commit.close()
    this.o.signal?.removeEventListener('abort', this.onAbort)
    this.wakePump()
    const settle = (): void => {
      if (this.failure) this.reject(this.failure.error)
      else this.resolve({ progress: p, stats: this.stats, stopped: this.aborted })
    }
    callPersist(this.persist, p).then(
      () => {
        this.o.onProgress?.(p, this.stats)
        settle()
      },
      (err: unknown) => {
        this.failure ??= { error: err }
        settle()
      },
    )
  }
}
