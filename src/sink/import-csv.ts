// The Data Import destination: rows go into Simple Analytics CSV files in `--out`, each kept under
// the upload limit (100 MB by default) by starting a new file before a row would cross it. A file
// is written as `<name>.partial` (mode 0600), fsync'd and renamed when complete, so a file with
// its final name is always whole. Sibling of the HTTP sink (http.ts): the same pipeline feeds it.
import { createHash, type Hash } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { IMPORT_HEADER } from '../import/csv.js'

export const UPLOAD_LIMIT_BYTES = 100 * 1000 * 1000

export interface ImportFileInfo {
  name: string
  path: string
  bytes: number
  rows: number
  sha256: string
  /** Epoch ms of the oldest and newest row. */
  firstMs: number
  lastMs: number
}

export interface ImportCsvSinkOptions {
  dir: string
  /** File names: `<prefix>-0001.csv`, … */
  prefix: string
  maxBytes?: number
  /** Count rows and bytes, write nothing. */
  dryRun?: boolean
}

const FLUSH_BYTES = 256 * 1024

interface OpenFile {
  info: ImportFileInfo
  fd: number
  hash: Hash
}

export class ImportCsvSink {
  readonly files: ImportFileInfo[] = []
  private current: OpenFile | null = null
  private readonly maxBytes: number
  private readonly headerBytes = Buffer.byteLength(IMPORT_HEADER)
  /** Encoded rows of the open file not yet written; [0, used). */
  private readonly buf = Buffer.allocUnsafe(FLUSH_BYTES)
  private used = 0

  constructor(private readonly o: ImportCsvSinkOptions) {
    this.maxBytes = o.maxBytes ?? UPLOAD_LIMIT_BYTES
    if (this.maxBytes < this.headerBytes + 2) throw new RangeError('import file limit is smaller than the header')
    if (!o.dryRun) mkdirSync(o.dir, { recursive: true, mode: 0o700 })
  }

  /** Appends one row: bytes [start, end) of `src` (UTF-8), then `tail` (its last cells and `\n`). */
  write(src: Buffer, start: number, end: number, tail: string, timeMs: number): void {
    const size = end - start + Buffer.byteLength(tail)
    if (this.headerBytes + size > this.maxBytes) throw new RangeError(`a row of ${size} bytes does not fit an import file of ${this.maxBytes} bytes`)
    let f = this.current
    if (f !== null && f.info.bytes + size > this.maxBytes) {
      this.finish(f)
      f = null
    }
    f ??= this.start(timeMs)
    // Copied straight into the file buffer (no per-row Buffer or joined string).
    const buf = this.buf
    if (this.used + size > buf.length) this.drain()
    if (size <= buf.length) {
      this.used += src.copy(buf, this.used, start, end)
      this.used += buf.write(tail, this.used)
    } else this.writeOut(f, Buffer.concat([src.subarray(start, end), Buffer.from(tail)])) // a row larger than the buffer: on its own
    f.info.bytes += size
    f.info.rows++
    if (timeMs > f.info.lastMs) f.info.lastMs = timeMs
    if (timeMs < f.info.firstMs) f.info.firstMs = timeMs
  }

  /** Completes the open file; returns every file written. */
  close(): ImportFileInfo[] {
    if (this.current !== null) this.finish(this.current)
    return this.files
  }

  /** Removes a half-written file (the command failed or was stopped). */
  abort(): void {
    const f = this.current
    this.current = null
    this.used = 0
    if (f === null || this.o.dryRun) return
    closeSync(f.fd)
    try {
      unlinkSync(f.info.path + '.partial')
    } catch {
      // already gone
    }
  }

  private start(timeMs: number): OpenFile {
    const name = `${this.o.prefix}-${String(this.files.length + 1).padStart(4, '0')}.csv`
    const path = join(this.o.dir, name)
    const info: ImportFileInfo = { name, path, bytes: this.headerBytes, rows: 0, sha256: '', firstMs: timeMs, lastMs: timeMs }
    const fd = this.o.dryRun ? -1 : openSync(path + '.partial', 'w', 0o600)
    const f: OpenFile = { info, fd, hash: createHash('sha256') }
    this.current = f
    this.writeOut(f, Buffer.from(IMPORT_HEADER))
    return f
  }

  /** Writes the buffered rows to the open file. */
  private drain(): void {
    if (this.used === 0) return
    const f = this.current
    if (f !== null) this.writeOut(f, this.buf.subarray(0, this.used))
    this.used = 0
  }

  private writeOut(f: OpenFile, chunk: Buffer): void {
    if (this.o.dryRun) return
    f.hash.update(chunk)
    let off = 0
    while (off < chunk.length) off += writeSync(f.fd, chunk, off)
  }

  private finish(f: OpenFile): void {
    this.drain()
    this.current = null
    if (!this.o.dryRun) {
      fsyncSync(f.fd)
      closeSync(f.fd)
      renameSync(f.info.path + '.partial', f.info.path)
      f.info.sha256 = f.hash.digest('hex')
    }
    this.files.push(f.info)
  }
}

/** fsync a directory so renames in it are durable. */
export function syncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
