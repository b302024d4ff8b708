// Joins a wrapper's physical lines into the inner lines, per stream (a runtime interleaves stdout
// and stderr lines in one file, so a stdout line split into parts may have stderr lines between its
// parts), and gives them out in file order of their first part: a line completed while an earlier
// one is still open waits for it. Memory is bounded: a joined line keeps at most maxLineBytes of
// content, and one still open after maxHoldBytes of file is given out as truncated (its later parts
// are skipped), so lines behind it are never held without limit.
import type { Framer, LogicalLines, PartParser, PhysicalLines, StreamChoice } from './types.js'
import { WRAPPER_SKIP } from './types.js'

const CR = 0x0d
const EMPTY = Buffer.alloc(0)
/** Index of a stream in per-stream state. */
type StreamIx = 0 | 1

interface Entry {
  /** Absolute offset of its first physical line. */
  start: number
  /** Absolute end of its last physical line so far. */
  lastEnd: number
  complete: boolean
  skip: string | null
  truncated: boolean
  /** Content parts; null for a skipped entry (nothing kept). */
  chunks: Buffer[] | null
  bytes: number
}

export interface JoinOptions {
  stream: StreamChoice
  /** Longest inner line kept (the reader's limit, 1 MiB by default). */
  maxLineBytes: number
  /** Bytes of file a joined line may stay open over before it is given out cut: while it is open,
   *  every line after it is held. Default 8 × maxLineBytes (a Docker entry escapes a line to up to
   *  six times its length, and a runtime adds a header to every part). */
  maxHoldBytes?: number
}

export function createJoiningFramer(parsePart: PartParser, o: JoinOptions): Framer {
  return new JoiningFramer(parsePart, o)
}

function emptyLines(): LogicalLines {
  return { starts: [], ends: [], contents: [], truncated: [], skips: [], resumeFrom: [] }
}

class JoiningFramer implements Framer {
  private readonly maxLine: number
  private readonly maxSpan: number
  private readonly wanted: readonly [boolean, boolean]
  /** Entries not given out yet, in order of their start; queue[head] is the first. */
  private queue: Entry[] = []
  private head = 0
  /** The open (partial) entry of each stream. */
  private readonly open: [Entry | null, Entry | null] = [null, null]
  /** The next part of this stream continues a line that was given out cut short. */
  private readonly rest: [boolean, boolean] = [false, false]
  /** Entries given out whose last part lies beyond the last boundary given out (interleaving). */
  private crossing: Entry[] = []
  /** Absolute end of the last physical line taken in. */
  private consumedEnd = 0

  constructor(
    private readonly parsePart: PartParser,
    o: JoinOptions,
  ) {
    this.maxLine = Math.max(1, o.maxLineBytes)
    this.maxSpan = Math.max(1, o.maxHoldBytes ?? 8 * this.maxLine)
    this.wanted = [o.stream !== 'stderr', o.stream !== 'stdout']
  }

  get openFrom(): number | null {
    return this.head < this.queue.length ? this.queue[this.head]!.start : null
  }

  frame(batch: PhysicalLines): LogicalLines {
    const { buf, base, starts, contentEnds, ends, truncated } = batch
    for (let i = 0; i < starts.length; i++) {
      const start = base + starts[i]!
      const end = base + ends[i]!
      this.consumedEnd = end
      const cut = truncated?.[i] === true
      const part = this.parsePart(buf, starts[i]!, contentEnds[i]!)
      if (part === null) {
        // A physical line over the reader's limit is too long whatever it holds (a Docker entry cut
        // in the middle cannot be read as JSON any more).
        const e: Entry = { start, lastEnd: end, complete: true, skip: cut ? null : WRAPPER_SKIP.notWrapped, truncated: cut, chunks: null, bytes: 0 }
        this.queue.push(e)
        continue
      }
      const s: StreamIx = part.stream === 'stdout' ? 0 : 1
      let e = this.open[s]
      if (e === null) {
        const skip = this.rest[s] ? WRAPPER_SKIP.restOfLongLine : this.wanted[s] ? null : WRAPPER_SKIP.otherStream
        this.rest[s] = false
        e = { start, lastEnd: end, complete: false, skip, truncated: false, chunks: skip === null ? [] : null, bytes: 0 }
        this.queue.push(e)
      }
      e.lastEnd = end
      if (e.chunks !== null) this.append(e, part.content)
      if (cut) e.truncated = true
      if (part.partial) this.open[s] = e
      else {
        e.complete = true
        this.open[s] = null
      }
      this.boundOpen(end)
    }
    return this.emit()
  }

  flush(): LogicalLines {
    for (const s of [0, 1] as const) {
      const e = this.open[s]
      if (e !== null) e.complete = true
      this.open[s] = null
      this.rest[s] = false
    }
    const out = this.emit()
    this.crossing = []
    return out
  }

  private append(e: Entry, content: Buffer): void {
    if (content.length === 0) return
    const room = this.maxLine - e.bytes
    if (content.length > room) {
      e.truncated = true
      if (room <= 0) return
      content = content.subarray(0, room)
    }
    e.chunks!.push(content)
    e.bytes += content.length
  }

  /** A line still open after maxSpan bytes of file holds every line behind it: give it out cut. */
  private boundOpen(end: number): void {
    for (const s of [0, 1] as const) {
      const e = this.open[s]
      if (e === null || end - e.start <= this.maxSpan) continue
      e.complete = true
      e.truncated = true
      this.open[s] = null
      this.rest[s] = true
    }
  }

  private emit(): LogicalLines {
    const out = emptyLines()
    while (this.head < this.queue.length && this.queue[this.head]!.complete) {
      const e = this.queue[this.head++]!
      const next = this.head < this.queue.length ? this.queue[this.head]! : null
      const end = next !== null ? next.start : this.consumedEnd
      if (this.crossing.length > 0) this.crossing = this.crossing.filter((c) => c.lastEnd > end)
      if (e.lastEnd > end) this.crossing.push(e)
      out.starts.push(e.start)
      out.ends.push(end)
      out.resumeFrom.push(this.crossing.length > 0 ? this.crossing[0]!.start : end)
      out.skips.push(e.skip)
      out.truncated.push(e.skip === null && e.truncated)
      out.contents.push(e.skip === null ? contentOf(e) : EMPTY)
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return out
  }
}

function contentOf(e: Entry): Buffer {
  const chunks = e.chunks ?? []
  let c = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, e.bytes)
  // The reader drops a '\r' before '\n' from plain lines; a wrapped CRLF line keeps it inside.
  if (c.length > 0 && c[c.length - 1] === CR) c = c.subarray(0, c.length - 1)
  return c
}
