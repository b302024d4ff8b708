// Delivery engine: sends a file's events concurrently while keeping the checkpoint exact.
//
// Three numbers describe progress (all byte offsets in the file being read):
//   acked       end of the longest prefix of items that are done (watermark; never past an undone item)
//   dispatched  persisted BEFORE any event ending beyond it is sent, so after a crash every event in
//               [acked, dispatched) whose start is not in doneAhead is "uncertain" (maybe sent, maybe not)
//               and every event at or beyond dispatched was certainly never sent
//   doneAhead   starts of events beyond acked that are already done, so a restart skips them
// After a failure or a stop, dispatched covers only sends that may have reached the server (a request
// written and left unanswered); events the server certainly does not have (refused connections, DNS
// or TLS failures, answered 429/5xx, aborted before the write, retries exhausted) are left outside
// it, so the next run sends them again: nothing skipped. Only a crash leaves the whole reserved
// range uncertain, and a reservation never covers more than `concurrency` undone events.
// Reservations are made in blocks: events pulled while a durable write runs share the next one
// (group commit), so a freed slot waits for at most about two writes, never for other sends.
// Reading runs up to HOLD_AHEAD_FACTOR x `concurrency` undone events ahead: the events beyond the
// reservation wait HELD (parsed and mapped, certainly not sent), so the slot a finished send frees is
// taken by the next reservation at once instead of after a read.
import { setMaxListeners } from 'node:events'
import type { OutgoingEvent } from '../types.js'
import { mayHaveReachedServer, SendStoppedError } from '../sink/contract.js'
import type { EventSink, SendOutcome } from '../sink/contract.js'

export interface DeliveryItem {
  start: number
  end: number
  line: number
  /** Absent: the line is done at once (skipped, rejected or already delivered). */
  event?: OutgoingEvent
}
export interface Progress {
  acked: number
  ackedLine: number
  dispatched: number
  doneAhead: number[]
  /** Set on the last save of a run that ended by a stop or a failure (not a crash): then
   *  [acked, dispatched) holds only sends that were written and left unanswered. */
  stoppedCleanly?: true
  /** With stoppedCleanly: starts of events in [acked, dispatched) that certainly did not reach the
   *  server (the next run sends them). */
  unsent?: number[]
}
export interface DeliveryStats {
  sent: number
  accepted: number
  botIgnored: number
  deadLettered: number
  retries: number
  /** Events sent whose outcome is unknown when the run ended (failure or aborted after the grace). */
  uncertain: number
  /** Retries that followed an attempt written and left unanswered (timeout, reset after the write):
   *  the one way an event can reach the API twice within a run. */
  unansweredRetries?: number
}
export type DeadOutcome = Extract<SendOutcome, { kind: 'dead' }>
export interface DeliveryOptions {
  /** Max events in flight, and max events in [acked, dispatched) that are not known done. */
  concurrency: number
  sink: EventSink
  /** Durable checkpoint write. Called in order, each with progress at least as new as the one
   *  before; up to `persistConcurrency` calls run at once, and each resolves once its own record
   *  survives a crash (a later one may resolve first; CheckpointStore.saveProgress says what covers
   *  a power loss). */
  persist(p: Progress): Promise<void>
  /** Persist calls that may run at once (default 1): with 2, a reservation does not wait behind a
   *  durable write already running, which is most of what a freed slot waits for otherwise. */
  persistConcurrency?: number
  onDeadLetter(item: DeliveryItem, outcome: DeadOutcome): Promise<void>
  /** An event was retried `count` times after unanswered attempts (it may have been stored twice). */
  onUnansweredRetry?(item: DeliveryItem, count: number): void
  initial: { acked: number; ackedLine: number }
  /** Persist acked progress at least this often while running (default 1000 ms). */
  flushIntervalMs?: number
  /** Graceful stop: stop pulling, let in-flight sends finish within graceMs, persist, resolve stopped. */
  signal?: AbortSignal
  /** Default 10 s; sends still running then are aborted and stay uncertain. */
  graceMs?: number
  onProgress?(p: Progress, stats: DeliveryStats): void
  /** Shared by the engines of one process (follow: several files at once), so that at most
   *  `budget.limit` events are undone, hence uncertain after a crash, across all of them. */
  budget?: DeliveryBudget
}

/** A count of undone events shared by several engines. Each engine takes one unit per event it
 *  pulls and gives it back when the event is done, refused or left unknown at the end. */
export class DeliveryBudget {
  private used = 0
  private readonly waiters = new Set<() => void>()
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`budget must be a positive integer, got ${limit}`)
  }
  get inUse(): number {
    return this.used
  }
  available(): boolean {
    return this.used < this.limit
  }
  take(): void {
    this.used++
  }
  give(n = 1): void {
    this.used -= n
    this.starving = false
    for (const wake of [...this.waiters]) wake()
  }
  /** `wake` is called on every give() until the returned function removes it. */
  watch(wake: () => void): () => void {
    this.waiters.add(wake)
    return () => this.waiters.delete(wake)
  }
  private readonly flushers = new Set<() => void>()
  /** `flush` is asked to make done events durable (so their units come back) when an engine waits. */
  onStarved(flush: () => void): () => void {
    this.flushers.add(flush)
    return () => this.flushers.delete(flush)
  }
  /** Engines running on this budget now. */
  engines = 0
  /** An engine waits for a unit (set by starved(), cleared by the next give()). */
  starving = false
  starved(): void {
    this.starving = true
    for (const f of [...this.flushers]) f()
  }
}
export interface DeliveryResult {
  progress: Progress
  stats: DeliveryStats
  stopped: boolean
}

/** A second durable write starts only once the running one has taken this long. Measured on the
 *  2-core VM: a record takes ~0.3 ms on a quiet disk and 1.5-2 ms while another process writes a
 *  lot (ext4 commits its data too); one write at a time is cheaper in CPU (on loopback, where CPU
 *  bounds the rate, two at once doubled the writes per event), two at once keep freed slots from
 *  waiting out a slow one. */
const SECOND_PERSIST_AFTER_MS = 0.5
/** Undone events read ahead, as a multiple of the concurrency. Measured on loopback (64 in flight):
 *  with reading limited to `concurrency` undone events each event spent 0.6 ms waiting to be read
 *  and held, 0.9 ms for its reservation and 2.9 ms in flight, so a third of the slots stood idle;
 *  reading ahead took the first part out of the slots (+10% events/s). */
const HOLD_AHEAD_FACTOR = 2
/** Non-event items held behind an undone event before reading pauses. */
const NON_EVENT_CAP = 10_000
/** Done events kept beyond the watermark (bounds doneAhead): while one event waits out a retry
 *  backoff, the other slots keep sending until this many are done behind it. Measured with 20%
 *  transient faults: a cap of 4x the concurrency stalled the window behind each retrying event.
 *  The absolute cap keeps a progress record (doneAhead offsets as JSON) inside a journal slot. */
const DONE_AHEAD_FACTOR = 64
const DONE_AHEAD_MAX = 4096

// Window entry states.
const SKIP = 0 // non-event item: done at once
const HELD = 1 // event pulled, not yet covered by a reservation
const RESERVED = 2 // covered by a reservation being persisted (or persisted), not yet sent
const INFLIGHT = 3 // sent (includes writing its dead-letter record)
const DONE = 4 // accepted, bot-ignored or dead-lettered
const UNKNOWN = 5 // a request was written and left unanswered, then the send ended: maybe stored
const REFUSED = 6 // certainly not stored (never written, or every written attempt answered with a refusal): the next run sends it again

export async function deliver(items: AsyncIterable<DeliveryItem>, o: DeliveryOptions): Promise<DeliveryResult> {
  return new Engine(items[Symbol.asyncIterator](), o).run()
}

class Engine {
  private readonly concurrency: number
  private readonly maxEventsInWindow: number
  private readonly sendAbort = new AbortController()
  /** Aborted on a stop or failure: sends start no further attempt (a backoff wait ends at once). */
  private readonly retryStop = new AbortController()
  private readonly sendControl = { stopRetrying: this.retryStop.signal }
  private readonly stats: DeliveryStats = { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, unansweredRetries: 0 }

  // Window of items not yet acked, in file order. Index = seq - base; entries before `head` are acked.
  private entries: DeliveryItem[] = []
  private states: number[] = []
  private base = 0
  private head = 0
  private nextSeq = 0

  private acked: number
  private ackedLine: number
  /** End of the last reserved event (persisted or being persisted). */
  private reservedDispatched: number
  /** Seq after the last reserved event; events from here on are HELD. */
  private reserveEndSeq = 0
  /** Seq after the last event whose reservation is durable; RESERVED entries before it may be sent. */
  private sendableEndSeq = 0
  private sendCursor = 0
  private lastHeldSeq = -1

  private held = 0
  private reserved = 0
  private inflight = 0
  private undoneEvents = 0
  private eventsInWindow = 0
  private doneInWindow = 0

  private readonly maxPersists: number
  /** Persist calls running now. */
  private persists = 0
  /** The running persist has taken SECOND_PERSIST_AFTER_MS: another may start beside it. */
  private persistSlow = false
  private persistSlowTimer: ReturnType<typeof setTimeout> | undefined
  /** Numbers persist calls in start order, so progress is reported only forward. */
  private persistStarted = 0
  private persistReported = 0
  private dirty = false
  private flushWanted = false
  private exhausted = false
  private stopping = false
  private aborted = false
  private finishing = false
  private failure: { error: unknown } | undefined
  private roomWaiter: (() => void) | undefined
  private graceTimer: NodeJS.Timeout | undefined
  private flushTimer: NodeJS.Timeout | undefined
  /** Pending "reserve what is held now" tick; see schedule(). */
  private reserveTick: NodeJS.Immediate | undefined
  private reserveDue = false
  /** Units of o.budget this engine holds (one per undone event it pulled). */
  private budgetHeld = 0
  /** Events done since the last snapshot; their units are given back when a record holding them is durable. */
  private doneUnpersisted = 0
  /** Done events the snapshot just taken holds that no earlier snapshot did. */
  private snapshotDone = 0
  private unwatchBudget: (() => void) | undefined
  private unwatchStarved: (() => void) | undefined
  private resolve!: (r: DeliveryResult) => void
  private reject!: (e: unknown) => void

  constructor(
    private readonly it: AsyncIterator<DeliveryItem>,
    private readonly o: DeliveryOptions,
  ) {
    if (!Number.isInteger(o.concurrency) || o.concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${o.concurrency}`)
    this.concurrency = o.concurrency
    this.maxPersists = Math.max(1, Math.floor(o.persistConcurrency ?? 1))
    this.maxEventsInWindow = Math.max(o.concurrency * 4, Math.min(o.concurrency * DONE_AHEAD_FACTOR, DONE_AHEAD_MAX))
    this.acked = o.initial.acked
    this.ackedLine = o.initial.ackedLine
    this.reservedDispatched = o.initial.acked
    // Every in-flight send listens on this one signal.
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
      this.o.budget.engines++
      this.unwatchBudget = this.o.budget.watch(() => {
        if (this.held > 0 && !this.finishing) setImmediate(() => this.schedule())
      })
      this.unwatchStarved = this.o.budget.onStarved(() => {
        if (this.doneUnpersisted === 0 || this.finishing || this.flushWanted) return
        this.flushWanted = true
        setImmediate(() => this.schedule())
      })
    }
    const flushMs = this.o.flushIntervalMs ?? 1000
    this.flushTimer = setInterval(this.onFlushTick, flushMs)
    this.flushTimer.unref()
    if (!this.stopping) void this.pump()
    this.schedule()
    return done
  }

  // ---- reading ----

  private hasRoom(): boolean {
    return (
      this.undoneEvents < this.concurrency * HOLD_AHEAD_FACTOR &&
      this.eventsInWindow < this.maxEventsInWindow &&
      this.entries.length - this.head < this.maxEventsInWindow + NON_EVENT_CAP
    )
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopping) {
        if (!this.hasRoom()) {
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
        this.add(r.value)
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

  private add(item: DeliveryItem): void {
    const seq = this.nextSeq++
    this.entries.push(item)
    if (item.event === undefined) {
      this.states.push(SKIP)
      if (seq === this.base + this.head) this.advanceWatermark()
      return
    }
    this.states.push(HELD)
    this.held++
    this.undoneEvents++
    this.eventsInWindow++
    this.lastHeldSeq = seq
  }

  // ---- the watermark ----

  private advanceWatermark(): void {
    const states = this.states
    const entries = this.entries
    let head = this.head
    const len = entries.length
    while (head < len) {
      const s = states[head]!
      if (s !== SKIP && s !== DONE) break
      const item = entries[head]!
      this.acked = item.end
      this.ackedLine = item.line
      if (s === DONE) {
        this.doneInWindow--
        this.eventsInWindow--
      }
      head++
    }
    if (head === this.head) return
    this.dirty = true
    // Drop acked entries in bulk so the arrays stay small without shifting on every item.
    if (head >= 1024 && head * 2 >= len) {
      entries.splice(0, head)
      states.splice(0, head)
      this.base += head
      head = 0
    }
    this.head = head
    this.wakePump()
  }

  // ---- reservations and sends ----

  /** Undone events the next reservation may cover: with the reserved and sent ones, at most `concurrency`. */
  private reservable(): number {
    return this.concurrency - (this.undoneEvents - this.held)
  }

  /** false: nothing reserved (no room under `concurrency`, or the shared budget has no unit free now). */
  private reserve(): boolean {
    const from = this.reserveEndSeq - this.base
    let to = this.lastHeldSeq - this.base
    // The reservation covers the oldest held events, at most as many as may be undone in it.
    let cap = this.reservable()
    if (cap <= 0) return false
    const budget = this.o.budget
    if (budget) {
      // A shared budget (several files): only as many events as there are units may be reserved,
      // since reserved events are the ones a crash could leave uncertain.
      const units = budget.limit - budget.inUse
      if (units <= 0) {
        // Our own done events may hold units too: make them durable (below, in schedule).
        if (this.doneUnpersisted > 0) this.flushWanted = true
        budget.starved()
        return false
      }
      cap = Math.min(cap, units)
    }
    if (cap < this.held) {
      let n = 0
      for (let i = Math.max(from, this.head); i <= to; i++) {
        if (this.states[i] === HELD && ++n === cap) {
          to = i
          break
        }
      }
    }
    let count = 0
    for (let i = Math.max(from, this.head); i <= to; i++) {
      if (this.states[i] === HELD) {
        this.states[i] = RESERVED
        count++
      }
    }
    if (budget) {
      for (let k = 0; k < count; k++) budget.take()
      this.budgetHeld += count
    }
    this.reserved += count
    this.held -= count
    this.reserveEndSeq = this.base + to + 1
    this.reservedDispatched = this.entries[to]!.end
    const snapshot = this.snapshot()
    const sendableEnd = this.reserveEndSeq
    this.startPersist(snapshot, () => {
      // A later reservation's record may become durable first: it holds this one's events too.
      if (sendableEnd > this.sendableEndSeq) this.sendableEndSeq = sendableEnd
      this.sendReserved()
    })
    return true
  }

  private sendReserved(): void {
    if (this.stopping) return
    const end = this.sendableEndSeq - this.base
    const signal = this.sendAbort.signal
    for (let i = Math.max(this.sendCursor - this.base, this.head); i < end; i++) {
      if (this.states[i] !== RESERVED) continue
      this.states[i] = INFLIGHT
      this.reserved--
      this.inflight++
      this.stats.sent++
      const seq = this.base + i
      let pending: Promise<SendOutcome>
      try {
        pending = this.o.sink.send(this.entries[i]!.event!, signal, this.sendControl)
      } catch (err) {
        pending = Promise.reject(err)
      }
      pending.then(
        (outcome) => this.onOutcome(seq, outcome),
        (err: unknown) => this.onSendError(seq, err),
      )
    }
    this.sendCursor = this.sendableEndSeq
  }

  private noteUnanswered(seq: number, count: number | undefined): void {
    if (!count) return
    this.stats.unansweredRetries! += count
    this.o.onUnansweredRetry?.(this.entries[seq - this.base]!, count)
  }

  private onOutcome(seq: number, outcome: SendOutcome): void {
    if (outcome.attempts > 1) this.stats.retries += outcome.attempts - 1
    this.noteUnanswered(seq, outcome.unansweredRetries)
    if (outcome.kind === 'dead') {
      const item = this.entries[seq - this.base]!
      this.o.onDeadLetter(item, outcome).then(
        () => {
          this.stats.deadLettered++
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
    const i = seq - this.base
    this.states[i] = DONE
    this.inflight--
    this.undoneEvents--
    // With other engines on the budget, its unit comes back once a durable record shows it done:
    // until then a crash would report it uncertain, so it counts against the process-wide bound.
    const budget = this.o.budget
    if (budget && budget.engines <= 1) {
      // Alone on the budget, the engine's own window already bounds what its latest record leaves
      // uncertain; the unit comes back now (measured: waiting for the next durable record raised
      // append-to-accept p50 from ~0.2 s to ~0.7 s on the loaded 2-core machine).
      this.giveBudget(1)
    } else if (budget) {
      this.doneUnpersisted++
      if (budget.starving) this.flushWanted = true
    }
    this.doneInWindow++
    this.dirty = true
    if (i === this.head) this.advanceWatermark()
    else this.wakePump()
    this.schedule()
  }

  private onSendError(seq: number, err: unknown): void {
    const i = seq - this.base
    // A send that certainly did not reach the server stays before the checkpoint and the next run
    // sends it again ("nothing is skipped"); one that may have (written, unanswered) stays uncertain.
    this.states[i] = mayHaveReachedServer(err) ? UNKNOWN : REFUSED
    this.inflight--
    if (err instanceof SendStoppedError) this.noteUnanswered(seq, err.unansweredRetries)
    // Errors caused by our own stop or abort are expected; anything else ends the run.
    if (!this.sendAbort.signal.aborted && !(err instanceof SendStoppedError)) this.fail(err)
    this.schedule()
  }

  private giveBudget(n: number): void {
    if (n <= 0 || !this.o.budget) return
    this.budgetHeld -= n
    this.o.budget.give(n)
  }

  // ---- persistence ----

  private snapshot(): Progress {
    this.snapshotDone = this.doneUnpersisted
    this.doneUnpersisted = 0
    const doneAhead: number[] = []
    if (this.doneInWindow > 0) {
      for (let i = this.head; i < this.entries.length; i++) if (this.states[i] === DONE) doneAhead.push(this.entries[i]!.start)
    }
    this.dirty = false
    return {
      acked: this.acked,
      ackedLine: this.ackedLine,
      dispatched: Math.max(this.acked, this.reservedDispatched),
      doneAhead,
    }
  }

  /** After a failure or stop: only what was actually sent and is done or unknown stays in range. */
  private stoppedSnapshot(): Progress {
    const doneAhead: number[] = []
    let dispatched = this.acked
    for (let i = this.head; i < this.entries.length; i++) {
      const s = this.states[i]
      if (s === DONE) doneAhead.push(this.entries[i]!.start)
      // Done events are in doneAhead; only unknown ones need the uncertain range.
      if (s === UNKNOWN) {
        if (this.entries[i]!.end > dispatched) dispatched = this.entries[i]!.end
        this.stats.uncertain++
      }
    }
    // Events inside the range that were never delivered (refused, never sent) are listed so the next
    // run sends them instead of taking them for uncertain.
    const unsent: number[] = []
    for (let i = this.head; i < this.entries.length && this.entries[i]!.end <= dispatched; i++) {
      const s = this.states[i]
      if (s === REFUSED || s === HELD || s === RESERVED) unsent.push(this.entries[i]!.start)
    }
    return { acked: this.acked, ackedLine: this.ackedLine, dispatched, doneAhead, stoppedCleanly: true, ...(unsent.length > 0 ? { unsent } : {}) }
  }

  /** `persist` as a promise even if it throws synchronously. */
  private callPersist(p: Progress): Promise<void> {
    try {
      return this.o.persist(p)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private startPersist(p: Progress, after?: () => void): void {
    this.persists++
    if (this.persists === 1 && this.maxPersists > 1) this.armPersistSlow()
    this.flushWanted = false
    const number = ++this.persistStarted
    const pending = this.callPersist(p)
    const given = this.snapshotDone
    pending.then(
      () => {
        this.persists--
        this.persistDone()
        this.giveBudget(given)
        after?.()
        if (number > this.persistReported) {
          this.persistReported = number
          this.o.onProgress?.(p, this.stats)
        }
        this.schedule()
      },
      (err: unknown) => {
        // A reservation that did not become durable is never sent (`after` is not called).
        this.persists--
        this.persistDone()
        this.fail(err)
        this.schedule()
      },
    )
  }

  private armPersistSlow(): void {
    this.persistSlow = false
    clearTimeout(this.persistSlowTimer)
    this.persistSlowTimer = setTimeout(this.onPersistSlow, SECOND_PERSIST_AFTER_MS)
  }

  /** A persist ended: the one still running (if any) is timed from now. */
  private persistDone(): void {
    if (this.persists > 0 && this.maxPersists > 1) this.armPersistSlow()
    else {
      this.persistSlow = false
      clearTimeout(this.persistSlowTimer)
    }
  }

  private readonly onPersistSlow = (): void => {
    this.persistSlowTimer = undefined
    this.persistSlow = true
    this.schedule()
  }

  private readonly onReserveTick = (): void => {
    this.reserveTick = undefined
    this.reserveDue = true
    this.schedule()
  }

  private readonly onFlushTick = (): void => {
    if (!this.dirty || this.finishing) return
    this.flushWanted = true
    this.schedule()
  }

  // ---- control ----

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
    if (this.stopping) {
      if (this.inflight > 0) {
        if (this.aborted && this.graceTimer === undefined) {
          this.graceTimer = setTimeout(() => this.sendAbort.abort(new Error('delivery stopped: grace period over')), this.o.graceMs ?? 10_000)
        }
        return
      }
      if (this.persists > 0) return
      this.finish(this.stoppedSnapshot())
      return
    }
    if (this.exhausted && this.head === this.entries.length) {
      if (this.persists > 0) return
      this.finish({ acked: this.acked, ackedLine: this.ackedLine, dispatched: this.acked, doneAhead: [] })
      return
    }
    if (this.persists >= (this.persistSlow ? this.maxPersists : 1)) return
    // Held events beyond `concurrency` undone wait for a send to end (markDone calls this again).
    if (this.held > 0 && this.reservable() > 0) {
      // Held events are reserved at the end of this event-loop turn, once no durable write runs
      // (or the running one is slow): every answer and line that arrived in the turn shares one
      // write, so on loopback, where answers come in bursts, blocks stay large (each write costs
      // ~50 µs of CPU to hand to the thread pool), while against a distant API a freed slot waits
      // for little more than its own write.
      if (this.reserveDue) {
        this.reserveDue = false
        if (this.reserve()) return
      }
      this.reserveTick ??= setImmediate(this.onReserveTick)
    }
    if (this.flushWanted && this.dirty) this.startPersist(this.snapshot())
  }

  private finish(p: Progress): void {
    this.finishing = true
    // Unknown and refused events are outside this run's hands now: their units go back.
    if (this.unwatchBudget) this.o.budget!.engines--
    this.unwatchBudget?.()
    this.unwatchStarved?.()
    this.giveBudget(this.budgetHeld)
    clearInterval(this.flushTimer)
    clearTimeout(this.persistSlowTimer)
    clearTimeout(this.graceTimer)
    if (this.reserveTick) clearImmediate(this.reserveTick)
    this.o.signal?.removeEventListener('abort', this.onAbort)
    this.wakePump()
    const settle = (): void => {
      if (this.failure) this.reject(this.failure.error)
      else this.resolve({ progress: p, stats: this.stats, stopped: this.aborted })
    }
    const pending = this.callPersist(p)
    pending.then(
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
