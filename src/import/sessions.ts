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
import { createHash } from 'node:crypto'

/** The longest gap (ms) that keeps a visitor's session: a longer one starts a new session. */
export const SESSION_GAP_MS = 1800 * 1000
/** How far out of order a row may be and still be placed exactly (log time). */
export const DEFAULT_REORDER_MS = Infinity
/** Rows wait for reordering until this many are waiting (a few MB): on a quiet log that is days of
 *  log time, on a busy one minutes. */
export const DEFAULT_MAX_BUFFERED = 10_000
const DAY_MS = 86_400_000

export interface PendingRow {
  /** Epoch ms of the row. */
  time: number
  /** The visitor: client IP and User-Agent (kept in memory only). */
  ip: string
  ua: string
  /** The formatted row up to (not including) its session id. */
  text: string
  seq: number
}

export interface SessionizerOptions {
  salt: string
  /** Emits a row with its session id and the visitor's `country` value, in time order (late rows
   *  excepted). */
  emit: (row: PendingRow, sessionId: string, country: string) => void
  /** The country of a client address, looked up once per visitor and day. */
  country?: (ip: string) => string
  reorderMs?: number
  maxBuffered?: number
}

interface SessionState {
  id: string
  /** Salted hash of the visitor and the day, shared by the visitor's sessions that day. */
  visitor: string
  country: string
  day: number
  first: number
  last: number
}

export interface SessionStats {
  sessions: number
  late: number
}

export class Sessionizer {
  private readonly heap: PendingRow[] = []
  private readonly queue: PendingRow[] = []
  private qHead = 0
  /** Visitors by User-Agent, then IP: the mapper hands the same UA string object for repeated
   *  User-Agents, so its hash is computed once (a joined key would be a new string every row). */
  private readonly open = new Map<string, Map<string, SessionState>>()
  private openCount = 0
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

  push(time: number, ip: string, ua: string, text: string): void {
    if (time < this.watermark) {
      this.stats.late++
      this.assign({ time, ip, ua, text, seq: this.seq++ }, true)
      return
    }
    // A row built by concatenation is a tree of string pieces (~1 KB); charCodeAt makes V8 flatten
    // it to one string, so a waiting row costs its characters only.
    text.charCodeAt(0)
    const row = { time, ip, ua, text, seq: this.seq++ }
    // Rows in time order (nearly all) wait in a FIFO; only those older than its newest go to the heap.
    const q = this.queue
    if (q.length === this.qHead || time >= q[q.length - 1]!.time) q.push(row)
    else heapPush(this.heap, row)
    if (time > this.maxTime) this.maxTime = time
    const until = this.maxTime - this.reorderMs
    for (;;) {
      const next = this.peek()
      if (next === undefined || (next.time > until && this.buffered <= this.maxBuffered)) break
      this.assign(this.take(next), false)
    }
  }

  /** Emits every buffered row (end of input). */
  flush(): void {
    for (let next = this.peek(); next !== undefined; next = this.peek()) this.assign(this.take(next), false)
  }

  private peek(): PendingRow | undefined {
    const a = this.qHead < this.queue.length ? this.queue[this.qHead] : undefined
    const b = this.heap[0]
    if (a === undefined) return b
    if (b === undefined) return a
    return less(b, a) ? b : a
  }

  private take(row: PendingRow): PendingRow {
    if (row === this.heap[0]) return heapPop(this.heap)!
    this.queue[this.qHead++] = undefined as unknown as PendingRow
    if (this.qHead >= 4096 && this.qHead * 2 >= this.queue.length) {
      this.queue.splice(0, this.qHead)
      this.qHead = 0
    }
    return row
  }

  /** Visitors currently remembered (for tests of the memory bound). */
  get remembered(): number {
    return this.openCount
  }

  get buffered(): number {
    return this.heap.length + this.queue.length - this.qHead
  }

  private assign(row: PendingRow, late: boolean): void {
    const day = Math.floor(row.time / DAY_MS)
    let byIp = this.open.get(row.ua)
    if (byIp === undefined) this.open.set(row.ua, (byIp = new Map()))
    let s = byIp.get(row.ip)
    const joins =
      s !== undefined &&
      s.day === day &&
      (late ? row.time >= s.first - SESSION_GAP_MS && row.time <= s.last + SESSION_GAP_MS : row.time - s.last <= SESSION_GAP_MS)
    if (joins) {
      if (row.time > s!.last) s!.last = row.time
      if (row.time < s!.first) s!.first = row.time
    } else {
      const known = s !== undefined
      const sameDay = known && s!.day === day
      const visitor = sameDay ? s!.visitor : visitorHash(this.o.salt, row.ip, row.ua, day)
      const country = sameDay ? s!.country : this.o.country === undefined ? '' : this.o.country(row.ip)
      s = { id: `${visitor}${Math.floor(row.time / 1000).toString(36)}`, visitor, country, day, first: row.time, last: row.time }
      this.stats.sessions++
      if (!known) this.openCount++
      if (!late || !known) byIp.set(row.ip, s)
    }
    if (!late) {
      this.watermark = row.time
      // A sweep costs one step per remembered visitor, so it runs once per that many rows.
      if (++this.sinceSweep >= this.sweepEvery) this.sweep()
    }
    this.o.emit(row, s!.id, s!.country)
  }

  /** Forgets sessions the input has moved more than 30 minutes past (they can only take late rows). */
  private sweep(): void {
    this.sinceSweep = 0
    const before = this.watermark - SESSION_GAP_MS
    for (const [ua, byIp] of this.open) {
      for (const [ip, s] of byIp) {
        if (s.last < before) {
          byIp.delete(ip)
          this.openCount--
        }
      }
      if (byIp.size === 0) this.open.delete(ua)
    }
    this.sweepEvery = Math.max(4096, this.openCount)
  }
}

/** 96 bits of the salted SHA-256 of the visitor and the UTC day (hex). A session id is this plus
 *  the session's first second (base 36): one hash per visitor and day, not per session. */
export function visitorHash(salt: string, ip: string, ua: string, day: number): string {
  return createHash('sha256').update(`${salt}\0${ip}\0${ua}\0${day}`).digest('hex').slice(0, 24)
}

export function sessionId(salt: string, ip: string, ua: string, firstMs: number): string {
  return `${visitorHash(salt, ip, ua, Math.floor(firstMs / DAY_MS))}${Math.floor(firstMs / 1000).toString(36)}`
}

function less(a: PendingRow, b: PendingRow): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}

function heapPush(h: PendingRow[], x: PendingRow): void {
  let i = h.length
  h.push(x)
  while (i > 0) {
    const p = (i - 1) >> 1
    if (!less(x, h[p]!)) break
    h[i] = h[p]!
    i = p
  }
  h[i] = x
}

function heapPop(h: PendingRow[]): PendingRow | undefined {
  const top = h[0]
  const last = h.pop()
  if (h.length === 0 || last === undefined) return top
  let i = 0
  const n = h.length
  for (;;) {
    const l = 2 * i + 1
    if (l >= n) break
    const r = l + 1
    const c = r < n && less(h[r]!, h[l]!) ? r : l
    if (!less(h[c]!, last)) break
    h[i] = h[c]!
    i = c
  }
  h[i] = last
  return top
}
