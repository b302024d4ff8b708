// Byte-exact line reader. Every line is reported as absolute byte offsets (decompressed offsets for
// gzip) so the checkpoint can name the exact end of the last line that is done. Lines are split on
// Buffers, never on decoded strings: decoding would change byte counts.
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'

/** One batch of complete lines. Absolute offset of line i: `base + starts[i]` .. `base + ends[i]`.
 *  Each batch owns its buffer: the reader never writes to it after yielding, so a consumer may
 *  keep a batch (or slices of it) while pulling the next one. */
export interface LineBatch {
  /** Holds the lines of this batch (may hold a few bytes more after the last line). */
  buf: Buffer
  /** Absolute (decompressed, for gzip) offset of buf[0]. */
  base: number
  /** Per line: index into buf of the line's first byte. */
  starts: number[]
  /** Per line: index into buf where the content ends (excludes '\n' and a trailing '\r'). */
  contentEnds: number[]
  /** Per line: index just after the line's '\n' (the end of the data for a final piece without
   *  '\n'). `ends[i] - starts[i]` is the line's length in the file; for a truncated line it can
   *  reach beyond `buf.length` (only [starts, contentEnds) is in buf). */
  ends: number[]
  /** Only present when some line exceeded maxLineBytes: its content was cut to maxLineBytes. */
  truncated?: boolean[]
}

export interface ReadOptions {
  /** Absolute byte offset to start at (decompressed offset for gzip: decompress and skip). */
  from?: number
  /** true: a last piece without '\n' at EOF is a line (check, .gz, stdin); false: it is left
   *  unconsumed (a live file that is still being written). */
  final?: boolean
  /** Bytes per read; default 1 MiB. */
  chunkSize?: number
  /** Longest line content kept; longer lines are cut and marked truncated. Default 1 MiB. */
  maxLineBytes?: number
  signal?: AbortSignal
}

/** `path`: opened and closed by the reader. `handle`: an open file the caller keeps (a follower
 *  pinned to one inode across renames); read positionally, never closed by the reader.
 *  `stream`: stdin or another pipe, offsets count from 0; never destroyed by the reader. */
export type ReadInput = { path: string } | { handle: FileHandle } | { stream: NodeJS.ReadableStream }

/** A gzip file that ends before its end-of-stream marker, typically because logrotate is still
 *  compressing it. Lines before the cut were yielded already; the caller decides (retry later). */
export class IncompleteGzipError extends Error {
  override readonly name = 'IncompleteGzipError'
  readonly code = 'INCOMPLETE_GZIP'
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`${path}: gzip data ends early (file still being compressed?)`, options)
  }
}

const MiB = 1024 * 1024
const NL = 0x0a
const CR = 0x0d

/** Fills buf[off, off+len) with the next bytes; 0 means end of input. */
type Fill = (buf: Buffer, off: number, len: number) => Promise<number>

export async function isGzipFile(path: string): Promise<boolean> {
  const fh = await open(path, 'r')
  try {
    return await isGzipHandle(fh)
  } finally {
    await fh.close()
  }
}

export async function isGzipHandle(fh: FileHandle): Promise<boolean> {
  const magic = Buffer.alloc(2)
  const { bytesRead } = await fh.read(magic, 0, 2, 0)
  return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b
}

export async function* readLines(input: ReadInput, o: ReadOptions = {}): AsyncGenerator<LineBatch> {
  const from = o.from ?? 0
  if ('stream' in input) {
    const src = new StreamFill(input.stream, from, false, 'stdin', o.signal)
    try {
      yield* splitLines(src.fill, from, o)
    } finally {
      await src.close(false) // never destroy the caller's stream (stdin)
    }
    return
  }
  const own = 'path' in input
  const fh = own ? await open(input.path, 'r') : input.handle
  try {
    if (await isGzipHandle(fh)) {
      // Compressed bytes come from positional reads, so the handle is neither moved nor closed by
      // stream teardown (a FileHandle read stream closes its handle on destroy).
      const raw = Readable.from(compressedChunks(fh), { objectMode: false })
      const gunzip = createGunzip({ chunkSize: 128 * 1024 })
      pipeline(raw, gunzip, () => {}) // errors surface through the gunzip iterator
      const src = new StreamFill(gunzip, from, true, own ? input.path : `fd ${fh.fd}`, o.signal)
      try {
        yield* splitLines(src.fill, from, o)
      } finally {
        await src.close(true)
        raw.destroy()
      }
      return
    }
    yield* splitLines(readAheadFill(fh, from, Math.max(1, o.chunkSize ?? MiB)), from, o)
  } finally {
    if (own) await fh.close()
  }
}

/** Positional reads with one read in flight ahead: while the consumer works on a batch, the next
 *  chunk is already being read (measured: ~15% less wall time for `check` on a 200 MB file). A
 *  read that hits EOF is not repeated ahead of time, so a growing file's new bytes are seen on the
 *  next call. */
function readAheadFill(fh: FileHandle, from: number, size: number): Fill {
  let pos = from
  let ahead: Promise<{ buf: Buffer; n: number }> | null = null
  let spare: Buffer | null = null
  const startAhead = (): void => {
    const buf = Buffer.allocUnsafe(size)
    const at = pos
    ahead = fh.read(buf, 0, size, at).then(({ bytesRead }) => ({ buf, n: bytesRead }))
    // Not awaited here; a failure surfaces at the next fill. Until then, do not report it as unhandled.
    ahead.catch(() => {})
  }
  return async (buf, off, len) => {
    if (spare === null && ahead !== null) {
      const r = await ahead
      ahead = null
      pos += r.n
      if (r.n === 0) return 0
      spare = r.buf.subarray(0, r.n)
      // The next read starts now, not when this chunk is used up: the caller usually takes all but
      // a partial line of it and comes straight back for more.
      startAhead()
    }
    if (spare !== null) {
      const n = spare.copy(buf, off, 0, Math.min(len, spare.length))
      spare = n < spare.length ? spare.subarray(n) : null
      return n
    }
    const { bytesRead } = await fh.read(buf, off, len, pos)
    pos += bytesRead
    if (bytesRead > 0) startAhead()
    return bytesRead
  }
}

async function* compressedChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  for (let pos = 0; ;) {
    const buf = Buffer.allocUnsafe(256 * 1024) // fresh per chunk: zlib may still hold the last one
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
    if (bytesRead === 0) return
    pos += bytesRead
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)
  }
}

/** Pulls chunks from a stream into the reader's buffer; skips the first `skip` bytes. */
class StreamFill {
  private readonly it: AsyncIterator<Buffer | string>
  private pending: Buffer | null = null
  private pendingOff = 0
  private skip: number

  constructor(
    private readonly stream: NodeJS.ReadableStream,
    skip: number,
    /** true: fill the buffer completely (a file); false: return as soon as some data is there (a
     *  live pipe: lines must not wait for a full buffer). */
    private readonly greedy: boolean,
    private readonly name: string,
    private readonly signal?: AbortSignal,
  ) {
    this.skip = skip
    const readable = stream as NodeJS.ReadableStream & { iterator?: (o: { destroyOnReturn: boolean }) => AsyncIterator<Buffer> }
    this.it =
      typeof readable.iterator === 'function'
        ? readable.iterator({ destroyOnReturn: false })
        : (stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>)
  }

  readonly fill: Fill = async (buf, off, len) => {
    let copied = 0
    while (copied < len) {
      if (this.pending === null) {
        if (copied > 0 && !this.greedy) break
        let r: IteratorResult<Buffer | string>
        try {
          r = await (this.signal ? abortable(this.it.next(), this.signal) : this.it.next())
        } catch (err) {
          throw isTruncatedGzip(err) ? new IncompleteGzipError(this.name, { cause: err }) : err
        }
        if (r.done) break
        const chunk = typeof r.value === 'string' ? Buffer.from(r.value, 'latin1') : r.value
        if (this.skip >= chunk.length) {
          this.skip -= chunk.length
          continue
        }
        this.pending = chunk
        this.pendingOff = this.skip
        this.skip = 0
      }
      const k = Math.min(len - copied, this.pending.length - this.pendingOff)
      this.pending.copy(buf, off + copied, this.pendingOff, this.pendingOff + k)
      copied += k
      this.pendingOff += k
      if (this.pendingOff === this.pending.length) this.pending = null
    }
    return copied
  }

  close(destroy: boolean): Promise<void> {
    if (destroy) (this.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
    // Not awaited: after an abort a read may still be pending on a silent pipe, and return() would
    // wait for it.
    else this.it.return?.().catch(() => {})
    return Promise.resolve()
  }
}

/** A pipe may stay silent for hours: an abort must not wait for its next chunk. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted()
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

function isTruncatedGzip(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null
  return e?.code === 'Z_BUF_ERROR' || e?.message === 'unexpected end of file'
}

/** The splitting loop, shared by files, gzip and stdin. Invariant at the top of the loop:
 *  buf[0, scanFrom) holds no '\n'; buf[0] is the first byte of the next line, at offset `base`. */
async function* splitLines(fill: Fill, startAt: number, o: ReadOptions): AsyncGenerator<LineBatch> {
  const chunkSize = Math.max(1, o.chunkSize ?? MiB)
  const maxLine = Math.max(1, o.maxLineBytes ?? MiB)
  const maxCap = Math.max(chunkSize, maxLine + 2) // content + '\r\n' fits
  const final = o.final ?? false
  const signal = o.signal
  let buf = Buffer.allocUnsafe(chunkSize)
  let filled = 0
  let scanFrom = 0
  let base = startAt

  for (;;) {
    signal?.throwIfAborted()
    if (filled > scanFrom) {
      const view = buf.subarray(0, filled)
      let nl = view.indexOf(NL, scanFrom)
      if (nl !== -1) {
        const starts: number[] = []
        const contentEnds: number[] = []
        const ends: number[] = []
        let truncated: boolean[] | undefined
        let lineStart = 0
        do {
          const contentEnd = nl > lineStart && view[nl - 1] === CR ? nl - 1 : nl
          if (contentEnd - lineStart > maxLine) {
            // Only possible for a line that fitted the grown buffer exactly; cut it like the rest.
            truncated ??= new Array<boolean>(starts.length).fill(false)
            truncated.push(true)
            contentEnds.push(lineStart + maxLine)
          } else {
            truncated?.push(false)
            contentEnds.push(contentEnd)
          }
          starts.push(lineStart)
          ends.push(nl + 1)
          lineStart = nl + 1
          nl = view.indexOf(NL, lineStart)
        } while (nl !== -1)
        const batch: LineBatch = { buf: view.subarray(0, lineStart), base, starts, contentEnds, ends }
        if (truncated) batch.truncated = truncated
        // Move the partial rest into a fresh buffer: the yielded one stays untouched.
        const rest = filled - lineStart
        const next = Buffer.allocUnsafe(rest < chunkSize ? chunkSize : Math.min(maxCap, rest * 2))
        view.copy(next, 0, lineStart, filled)
        buf = next
        filled = rest
        scanFrom = rest
        base += lineStart
        yield batch
        continue
      }
      scanFrom = filled
    }

    // buf[0, filled) is one partial line.
    if (filled === buf.length) {
      if (buf.length < maxCap) {
        const grown = Buffer.allocUnsafe(Math.min(maxCap, buf.length * 2))
        buf.copy(grown, 0, 0, filled)
        buf = grown
      } else {
        // Over-long line: keep maxLine bytes of content, skip the rest up to its '\n'.
        let lineLen = filled
        const next = Buffer.allocUnsafe(chunkSize)
        let found = -1
        let n: number
        for (;;) {
          signal?.throwIfAborted()
          n = await fill(next, 0, next.length)
          if (n === 0) break
          found = next.subarray(0, n).indexOf(NL)
          if (found !== -1) break
          lineLen += n
        }
        if (found === -1) {
          // EOF inside the line: a final piece only when the input is final.
          if (final) yield { buf: buf.subarray(0, maxLine), base, starts: [0], contentEnds: [maxLine], ends: [lineLen], truncated: [true] }
          return
        }
        lineLen += found + 1
        const batch: LineBatch = { buf: buf.subarray(0, maxLine), base, starts: [0], contentEnds: [maxLine], ends: [lineLen], truncated: [true] }
        next.copyWithin(0, found + 1, n)
        buf = next
        filled = n - found - 1
        scanFrom = 0
        base += lineLen
        yield batch
        continue
      }
    }

    const n = await fill(buf, filled, buf.length - filled)
    if (n === 0) {
      if (final && filled > 0) {
        const contentEnd = buf[filled - 1] === CR ? filled - 1 : filled
        const batch: LineBatch = { buf: buf.subarray(0, filled), base, starts: [0], contentEnds: [Math.min(contentEnd, maxLine)], ends: [filled] }
        if (contentEnd > maxLine) batch.truncated = [true]
        yield batch
      }
      return
    }
    filled += n
  }
}
