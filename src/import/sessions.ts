// Sessions as Swetrix forms them (reference §9): the same client IP and User-Agent within one UTC
// day, a new session when more than 30 minutes (1800 s) pass without an imported row from them.
// Swetrix's Redis session key has a TTL of 1800 s that each event refreshes, and Redis expires a
// key only once now > its expiry, so a gap of exactly 1800 s stays in the session.
// Rows may arrive out of time order (servers log a request when it ends; logs merged from several
// servers): they wait in a small reorder buffer (a min-heap by time) and are assigned in time order.
// The buffer holds at most `maxBuffered` rows (and `reorderMs` of log time, unlimited by default),
// and a session is forgotten once the input is more than 30 minutes past it, so memory stays
// bounded on a year of logs. A row older than what already left the buffer ("late") joins its
// visitor's remembered session when it falls within 30 minutes of it (1800 s included), else
// starts one.
// `session_id` is a salted hash of the visitor and the day, plus the session's first second:
// deterministic, no IP or User-Agent in any file.
// The sessions the input can still extend are handed over to the next backfill of the same log
// (`carried`, `restore`), so a visit spanning two runs keeps one session. A row joins a session when
// it falls within 30 minutes of it on either side, the rule for late rows: for rows in time order it
// is the same as "at most 30 minutes after its last row", and it keeps a carried session from taking
// rows of an older log.
// A row here is a number (the caller's handle for it): waiting rows sit in typed arrays, not as an
// object each, so the 10,000 waiting rows add nothing for the garbage collector to move. The
// caller says per handle who the visitor is and its hash for the row's day (visitorHash, computed
// where the row is formatted, possibly in a worker thread).
import { hash } from 'node:crypto'

/** The longest gap (ms) that keeps a visitor's session: a longer one starts a new session. */
export const SESSION_GAP_MS = 1800 * 1000
/** How far out of order a row may be and still be placed exactly (log time). */
export const DEFAULT_REORDER_MS = Infinity
/** Rows wait for reordering until this many are waiting (a few MB): on a quiet log that is days of
 *  log time, on a busy one minutes. */
export const DEFAULT_MAX_BUFFERED = 10_000
export const DAY_MS = 86_400_000

export interface SessionizerOptions {
  /** visitorHash of the row's visitor and UTC day: the key its sessions are remembered by (a
   *  session never spans two days, and 24 hex characters cost less memory and hashing than the
   *  address and User-Agent), and the first part of its session ids. */
  visitorHash: (row: number) => string
  /** Emits a row with its session id, in time order (late rows excepted). */
  emit: (row: number, sessionId: string) => void
  reorderMs?: number
  maxBuffered?: number
}

interface SessionState {
  id: string
  day: number
  first: number
  last: number
}

/** A session the next run may extend: its visitor key, id, and first and last row (epoch ms). */
export interface CarriedSession {
  key: string
  id: string
  first: number
  last: number
}

export interface SessionStats {
  sessions: number
  late: number
}

export class Sessionizer {
  /** Rows in time order (nearly all) wait in a FIFO; only those older than its newest go to the heap. */
  private readonly queue = new RowQueue()
  private readonly heap = new RowHeap()
  private readonly open = new Map<string, SessionState>()
  private readonly reorderMs: number
  private readonly maxBuffered: number
  private maxTime = -Infinity
  /** Time of the newest row that left the buffer. */
  private watermark = -Infinity
  private seq = 0
  private sinceSweep = 0
  private sweepEvery = 4096
  readonly stats: SessionStats = { sessions: 0, late: 0 }

  constructor(private readonly o: SessionizerOptions) {
    this.reorderMs = o.reorderMs ?? DEFAULT_REORDER_MS
    this.maxBuffered = o.maxBuffered ?? DEFAULT_MAX_BUFFERED
  }

  /** `row`: the caller's handle of a row at `time` (epoch ms). */
  push(time: number, row: number): void {
    const seq = this.seq++
    if (time < this.watermark) {
      this.stats.late++
      this.assign(time, row, true)
      return
    }
    const q = this.queue
    if (q.size === 0 || time >= q.lastTime()) q.push(time, seq, row)
    else this.heap.push(time, seq, row)
    if (time > this.maxTime) this.maxTime = time
    const until = this.maxTime - this.reorderMs
    while (this.buffered > 0) {
      const fromHeap = this.nextIsHeap()
      const t = fromHeap ? this.heap.topTime() : q.firstTime()
      if (t > until && this.buffered <= this.maxBuffered) break
      this.assign(t, fromHeap ? this.heap.pop() : q.shift(), false)
    }
  }

  /** Emits every buffered row (end of input). */
  flush(): void {
    while (this.buffered > 0) {
      const fromHeap = this.nextIsHeap()
      const t = fromHeap ? this.heap.topTime() : this.queue.firstTime()
      this.assign(t, fromHeap ? this.heap.pop() : this.queue.shift(), false)
    }
  }

  /** Whether the oldest waiting row (by time, then arrival) is the heap's. */
  private nextIsHeap(): boolean {
    if (this.heap.size === 0) return false
    if (this.queue.size === 0) return true
    const a = this.queue.firstTime()
    const b = this.heap.topTime()
    return b < a || (b === a && this.heap.topSeq() < this.queue.firstSeq())
  }

  /** Sessions the input can still extend (their last row at most 30 minutes before the newest row
   *  assigned), most recent first, at most `limit`: what the next run of the same log restores. */
  carried(limit: number): CarriedSession[] {
    const since = this.watermark - SESSION_GAP_MS
    const out: CarriedSession[] = []
    for (const [key, s] of this.open) if (s.last >= since) out.push({ key, id: s.id, first: s.first, last: s.last })
    out.sort((a, b) => b.last - a.last)
    return out.length > limit ? out.slice(0, limit) : out
  }

  /** Remembers sessions an earlier run left open (before the first row; a visitor already known keeps its own). */
  restore(sessions: readonly CarriedSession[]): void {
    for (const c of sessions) if (!this.open.has(c.key)) this.open.set(c.key, { id: c.id, day: Math.floor(c.first / DAY_MS), first: c.first, last: c.last })
  }

  /** Visitors currently remembered (for tests of the memory bound). */
  get remembered(): number {
    return this.open.size
  }

  get buffered(): number {
    return this.heap.size + this.queue.size
  }

  private assign(time: number, row: number, late: boolean): void {
    const day = Math.floor(time / DAY_MS)
    const key = this.o.visitorHash(row)
    let s = this.open.get(key)
    const joins = s !== undefined && s.day === day && time >= s.first - SESSION_GAP_MS && time <= s.last + SESSION_GAP_MS
    if (joins) {
      if (time > s!.last) s!.last = time
      if (time < s!.first) s!.first = time
    } else {
      const known = s !== undefined
      s = { id: `${key}${Math.floor(time / 1000).toString(36)}`, day, first: time, last: time }
      this.stats.sessions++
      if (!late || !known) this.open.set(key, s)
    }
    if (!late) {
      this.watermark = time
      // A sweep costs one step per remembered visitor, so it runs once per that many rows.
      if (++this.sinceSweep >= this.sweepEvery) this.sweep()
    }
    this.o.emit(row, s!.id)
  }

  /** Forgets sessions the input has moved more than 30 minutes past (they can only take late rows). */
  private sweep(): void {
    this.sinceSweep = 0
    const before = this.watermark - SESSION_GAP_MS
    for (const [key, s] of this.open) if (s.last < before) this.open.delete(key)
    this.sweepEvery = Math.max(4096, this.open.size)
  }
}

/** 96 bits of the salted SHA-256 of the visitor and the UTC day (hex). A session id is this plus
 *  the session's first second (base 36): one hash per visitor and day, not per session. */
export function visitorHash(salt: string, ip: string, ua: string, day: number): string {
  return hash('sha256', `${salt}\0${ip}\0${ua}\0${day}`, 'hex').slice(0, 24)
}

export function sessionId(salt: string, ip: string, ua: string, firstMs: number): string {
  return `${visitorHash(salt, ip, ua, Math.floor(firstMs / DAY_MS))}${Math.floor(firstMs / 1000).toString(36)}`
}

/** A growable ring of (time, seq, row) in typed arrays. */
class RowQueue {
  private times = new Float64Array(1024)
  private seqs = new Float64Array(1024)
  private rows = new Float64Array(1024)
  private head = 0
  size = 0

  push(time: number, seq: number, row: number): void {
    if (this.size === this.times.length) this.grow()
    const i = (this.head + this.size) & (this.times.length - 1)
    this.times[i] = time
    this.seqs[i] = seq
    this.rows[i] = row
    this.size++
  }

  shift(): number {
    const row = this.rows[this.head]!
    this.head = (this.head + 1) & (this.times.length - 1)
    this.size--
    return row
  }

  firstTime(): number {
    return this.times[this.head]!
  }

  firstSeq(): number {
    return this.seqs[this.head]!
  }

  lastTime(): number {
    return this.times[(this.head + this.size - 1) & (this.times.length - 1)]!
  }

  private grow(): void {
    const n = this.times.length
    const order = (a: Float64Array) => {
      const b = new Float64Array(n * 2)
      b.set(a.subarray(this.head))
      b.set(a.subarray(0, this.head), n - this.head)
      return b
    }
    this.times = order(this.times)
    this.seqs = order(this.seqs)
    this.rows = order(this.rows)
    this.head = 0
  }
}

/** A binary min-heap of (time, seq, row) in typed arrays, ordered by time, then seq. */
class RowHeap {
  private times = new Float64Array(1024)
  private seqs = new Float64Array(1024)
  private rows = new Float64Array(1024)
  size = 0

  topTime(): number {
    return this.times[0]!
  }

  topSeq(): number {
    return this.seqs[0]!
  }

  push(time: number, seq: number, row: number): void {
    if (this.size === this.times.length) this.grow()
    let i = this.size++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.less(time, seq, p)) break
      this.move(p, i)
      i = p
    }
    this.set(i, time, seq, row)
  }

  pop(): number {
    const top = this.rows[0]!
    const n = --this.size
    if (n === 0) return top
    const time = this.times[n]!
    const seq = this.seqs[n]!
    const row = this.rows[n]!
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.before(r, l) ? r : l
      if (!this.less(this.times[c]!, this.seqs[c]!, -1, time, seq)) break
      this.move(c, i)
      i = c
    }
    this.set(i, time, seq, row)
    return top
  }

  /** (time, seq) before entry j, or before (t2, s2) when j is -1. */
  private less(time: number, seq: number, j: number, t2 = this.times[j]!, s2 = this.seqs[j]!): boolean {
    return time < t2 || (time === t2 && seq < s2)
  }

  private before(a: number, b: number): boolean {
    return this.less(this.times[a]!, this.seqs[a]!, b)
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!
    this.seqs[to] = this.seqs[from]!
    this.rows[to] = this.rows[from]!
  }

  private set(i: number, time: number, seq: number, row: number): void {
    this.times[i] = time
    this.seqs[i] = seq
    this.rows[i] = row
  }

  private grow(): void {
    const grow = (a: Float64Array) => {
      const b = new Float64Array(a.length * 2)
      b.set(a)
      return b
    }
    this.times = grow(this.times)
    this.seqs = grow(this.seqs)
    this.rows = grow(this.rows)
  }
}
