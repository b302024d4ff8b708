// The delivery window: the items not yet acked, in file order, each with its state, and the numbers a
// progress record is made of (the watermark `acked`, the reserved `dispatched`, doneAhead). Pure: no
// I/O, no timers, no promises; the engine drives it and tests can drive it alone.
import type { DeliveryItem, Progress } from './types.js'

// Entry states.
export const SKIP = 0 // non-event item: done at once
export const HELD = 1 // event read, not yet covered by a reservation (certainly not sent)
export const RESERVED = 2 // covered by a reservation being persisted (or persisted), not yet sent
export const INFLIGHT = 3 // sent (includes writing its dead-letter record)
export const DONE = 4 // accepted, bot-ignored or dead-lettered
export const UNKNOWN = 5 // a request was written and left unanswered, then the send ended: maybe stored
export const REFUSED = 6 // certainly not stored (never written, or every written attempt answered with a refusal): the next run sends it again

/** Undone events read ahead, as a multiple of the concurrency: the events beyond the reservation wait
 *  HELD, so a slot a finished send frees is taken by the next reservation at once, not after a read. */
const HOLD_AHEAD_FACTOR = 2
/** Non-event items held behind an undone event before reading pauses. */
const NON_EVENT_CAP = 10_000
/** Done events kept beyond the watermark (bounds doneAhead): while one event waits out a retry
 *  backoff, the other slots keep sending until this many are done behind it. The absolute cap keeps
 *  a progress record (doneAhead offsets as JSON) inside a journal slot. */
const DONE_AHEAD_FACTOR = 64
const DONE_AHEAD_MAX = 4096
/** Acked entries are dropped in blocks of at least this many, so the arrays never shift per item. */
const COMPACT_FROM = 1024

export class DeliveryWindow {
  // Index = seq - base; entries before `head` are acked.
  private entries: DeliveryItem[] = []
  private states: number[] = []
  private base = 0
  private head = 0
  private nextSeq = 0

  acked: number
  ackedLine: number
  /** End of the last reserved event (persisted or being persisted). */
  private reservedDispatched: number
  /** Seq after the last reserved event; events from here on are HELD. */
  private reserveEndSeq = 0
  /** Seq after the last event whose reservation is durable; RESERVED entries before it may be sent. */
  private sendableEndSeq = 0
  private sendCursor = 0
  private lastHeldSeq = -1

  /** Events by state (SKIP and DONE entries are not counted here). */
  held = 0
  reserved = 0
  inflight = 0
  /** Events read and not done (held, reserved, in flight, unknown or refused). */
  undoneEvents = 0
  private eventsInWindow = 0
  private doneInWindow = 0
  /** Progress changed since the last snapshot. */
  dirty = false

  private readonly maxEventsInWindow: number

  constructor(
    private readonly concurrency: number,
    initial: { acked: number; ackedLine: number },
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`)
    this.maxEventsInWindow = Math.max(concurrency * 4, Math.min(concurrency * DONE_AHEAD_FACTOR, DONE_AHEAD_MAX))
    this.acked = initial.acked
    this.ackedLine = initial.ackedLine
    this.reservedDispatched = initial.acked
  }

  /** Every item read is acked. */
  get empty(): boolean {
    return this.head === this.entries.length
  }

  /** Whether another item may be read. */
  hasRoom(): boolean {
    return (
      this.undoneEvents < this.concurrency * HOLD_AHEAD_FACTOR &&
      this.eventsInWindow < this.maxEventsInWindow &&
      this.entries.length - this.head < this.maxEventsInWindow + NON_EVENT_CAP
    )
  }

  item(seq: number): DeliveryItem {
    return this.entries[seq - this.base]!
  }

  /** Appends an item read from the source; a non-event item is done at once. */
  add(item: DeliveryItem): void {
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

  /** Undone events the next reservation may cover: with the reserved and sent ones, at most `concurrency`. */
  reservable(): number {
    return this.concurrency - (this.undoneEvents - this.held)
  }

  /** Reserves the oldest held events, at most `cap` (> 0, and held > 0): they become RESERVED and
   *  `dispatched` covers them. Returns the seq after the last one reserved (pass it to markSendable
   *  once the record holding this reservation is durable). */
  reserve(cap: number): number {
    const from = Math.max(this.reserveEndSeq - this.base, this.head)
    let to = this.lastHeldSeq - this.base
    if (cap < this.held) {
      let n = 0
      for (let i = from; i <= to; i++) {
        if (this.states[i] === HELD && ++n === cap) {
          to = i
          break
        }
      }
    }
    let count = 0
    for (let i = from; i <= to; i++) {
      if (this.states[i] === HELD) {
        this.states[i] = RESERVED
        count++
      }
    }
    this.reserved += count
    this.held -= count
    this.reserveEndSeq = this.base + to + 1
    this.reservedDispatched = this.entries[to]!.end
    return this.reserveEndSeq
  }

  /** A record holding the reservations up to `endSeq` is durable (a later record may land first: it
   *  holds the earlier reservations too). */
  markSendable(endSeq: number): void {
    if (endSeq > this.sendableEndSeq) this.sendableEndSeq = endSeq
  }

  /** The next reserved event whose reservation is durable, now INFLIGHT; -1 when there is none. */
  takeSendable(): number {
    const end = this.sendableEndSeq - this.base
    for (let i = Math.max(this.sendCursor - this.base, this.head); i < end; i++) {
      if (this.states[i] !== RESERVED) continue
      this.states[i] = INFLIGHT
      this.reserved--
      this.inflight++
      const seq = this.base + i
      this.sendCursor = seq + 1
      return seq
    }
    this.sendCursor = this.sendableEndSeq
    return -1
  }

  /** An in-flight event is done (accepted, bot, dead-lettered). Returns true if the watermark moved. */
  markDone(seq: number): boolean {
    const i = seq - this.base
    this.states[i] = DONE
    this.inflight--
    this.undoneEvents--
    this.doneInWindow++
    this.dirty = true
    return i === this.head && this.advanceWatermark()
  }

  /** An in-flight event's send ended without an answer that settles it: `maybeStored` (a request was
   *  written and left unanswered) makes it UNKNOWN, otherwise REFUSED (the next run sends it). */
  markFailed(seq: number, maybeStored: boolean): void {
    this.states[seq - this.base] = maybeStored ? UNKNOWN : REFUSED
    this.inflight--
  }

  private advanceWatermark(): boolean {
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
    if (head === this.head) return false
    this.dirty = true
    if (head >= COMPACT_FROM && head * 2 >= len) {
      entries.splice(0, head)
      states.splice(0, head)
      this.base += head
      head = 0
    }
    this.head = head
    return true
  }

  /** Progress while running: everything reserved counts as dispatched. */
  snapshot(): Progress {
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

  /** Progress after a failure or stop, with nothing in flight: only events that were sent and are
   *  done or unknown stay in range; `uncertain` counts the unknown ones. */
  stoppedSnapshot(): { progress: Progress; uncertain: number } {
    const doneAhead: number[] = []
    let dispatched = this.acked
    let uncertain = 0
    for (let i = this.head; i < this.entries.length; i++) {
      const s = this.states[i]
      if (s === DONE) doneAhead.push(this.entries[i]!.start)
      // Done events are in doneAhead; only unknown ones need the uncertain range.
      if (s === UNKNOWN) {
        if (this.entries[i]!.end > dispatched) dispatched = this.entries[i]!.end
        uncertain++
      }
    }
    // Events inside the range that were never delivered (refused, never sent) are listed so the next
    // run sends them instead of taking them for uncertain.
    const unsent: number[] = []
    for (let i = this.head; i < this.entries.length && this.entries[i]!.end <= dispatched; i++) {
      const s = this.states[i]
      if (s === REFUSED || s === HELD || s === RESERVED) unsent.push(this.entries[i]!.start)
    }
    const progress: Progress = {
      acked: this.acked,
      ackedLine: this.ackedLine,
      dispatched,
      doneAhead,
      stoppedCleanly: true,
      ...(unsent.length > 0 ? { unsent } : {}),
    }
    return { progress, uncertain }
  }

  /** Progress at the end of the input, every item acked. */
  finalSnapshot(): Progress {
    return { acked: this.acked, ackedLine: this.ackedLine, dispatched: this.acked, doneAhead: [] }
  }
}
