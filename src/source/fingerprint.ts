// File identity by content: the first line, hashed over the DECOMPRESSED bytes, so
// access.log -> access.log.1 -> access.log.2.gz keeps one id. (dev, ino) are stored only as hints.
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { pipeline, Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { IncompleteGzipError, isGzipHandle } from './reader.js'

export interface FileIdentity {
  /** null: too short to identify yet (no complete first line and < 1 KiB), or empty. */
  id: string | null
  gzip: boolean
  dev: number
  ino: number
  /** On-disk size. */
  size: number
  mtimeMs: number
}

/** Bytes of the head that make up the id at most. */
export const ID_HEAD_BYTES = 1024

/** The id of a file whose content starts with `head`: the first line including its '\n', capped at
 *  ID_HEAD_BYTES. `head` must hold the file's first min(size, ID_HEAD_BYTES) bytes (more is fine). */
export function idOfHead(head: Buffer): string | null {
  const nl = head.indexOf(0x0a)
  let end: number
  if (nl !== -1 && nl < ID_HEAD_BYTES) end = nl + 1
  else if (head.length >= ID_HEAD_BYTES) end = ID_HEAD_BYTES
  else return null
  return sha(head.subarray(0, end))
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 32)
}

export async function identify(path: string): Promise<FileIdentity> {
  const fh = await open(path, 'r')
  try {
    return await identifyHandle(fh)
  } finally {
    await fh.close()
  }
}

/** `identify` through a handle the caller keeps open (and closes): the follower identifies,
 *  verifies and reads one file through one descriptor, so a rotation between those steps cannot
 *  pair one file's checkpoint with another file's bytes. */
export async function identifyHandle(fh: FileHandle): Promise<FileIdentity> {
  const st = await fh.stat()
  const gzip = await isGzipHandle(fh)
  let head: Buffer
  if (gzip) {
    head = await gunzipRange(fh, 0, ID_HEAD_BYTES, (b) => b.indexOf(0x0a) !== -1, true, '', false)
  } else {
    const buf = Buffer.alloc(ID_HEAD_BYTES)
    const { bytesRead } = await fh.read(buf, 0, ID_HEAD_BYTES, 0)
    head = buf.subarray(0, bytesRead)
  }
  return { id: idOfHead(head), gzip, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }
}

/** Hash of the `length` bytes just before `end` (fewer at the start of the file; decompressed for
 *  gzip). Compare with the hash stored with a checkpoint before resuming at `end`: a file that was
 *  truncated or replaced gives a different hash, also when it is now shorter than `end`. */
export async function hashRange(path: string, gzip: boolean, end: number, length = 64): Promise<string> {
  const start = Math.max(0, end - length)
  const fh = await open(path, 'r')
  if (gzip) return sha(await gunzipRange(fh, start, end - start, () => false, false, path))
  try {
    return await hashBefore(fh, end, length)
  } finally {
    await fh.close()
  }
}

/** `hashRange` for a plain file through a handle the caller keeps open (the checkpoint writer calls
 *  it on every progress save, so it must not open the file each time). */
export async function hashBefore(fh: FileHandle, end: number, length = 64): Promise<string> {
  const start = Math.max(0, end - length)
  const buf = Buffer.alloc(end - start)
  let got = 0
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return sha(buf.subarray(0, got))
}

/** Decompresses fh (closed when done unless `closeHandle` is false) and returns the bytes [start, start+length), or fewer when the
 *  data ends first, or as soon as `enough(collected)` says so. A truncated gzip (still being
 *  written) counts as ending early when `tolerateTruncation`; otherwise the error is thrown. */
async function gunzipRange(
  fh: FileHandle,
  start: number,
  length: number,
  enough: (b: Buffer) => boolean,
  tolerateTruncation: boolean,
  name = '',
  closeHandle = true,
): Promise<Buffer> {
  // Positional reads, not fh.createReadStream: a FileHandle stream closes its handle when destroyed,
  // and a follower's pinned handle must stay open.
  const raw = Readable.from(positionalChunks(fh), { objectMode: false })
  const gunzip = createGunzip({ chunkSize: length > 4096 || start > 0 ? 128 * 1024 : 16 * 1024 })
  pipeline(raw, gunzip, () => {})
  const parts: Buffer[] = []
  let collected = 0
  let pos = 0
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      const from = Math.max(0, start - pos)
      pos += chunk.length
      if (from >= chunk.length) continue
      const part = chunk.subarray(from, from + (length - collected))
      parts.push(part)
      collected += part.length
      if (collected >= length) break
      if (enough(Buffer.concat(parts))) break
    }
  } catch (err) {
    const e = err as { code?: string } | null
    if (e?.code !== 'Z_BUF_ERROR') throw err
    if (!tolerateTruncation) throw new IncompleteGzipError(name, { cause: err })
  } finally {
    gunzip.destroy()
    raw.destroy()
    if (closeHandle) await fh.close().catch(() => {})
  }
  return Buffer.concat(parts, collected)
}

async function* positionalChunks(fh: FileHandle): AsyncGenerator<Buffer> {
  for (let pos = 0; ;) {
    const buf = Buffer.allocUnsafe(64 * 1024)
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos)
    if (bytesRead === 0) return
    pos += bytesRead
    yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)
  }
}

/** Whether the file behind `fh` still starts with the first line of identity `id` (a copytruncate
 *  or an in-place rewrite changes it). */
export async function sameFirstLine(fh: FileHandle, id: string): Promise<boolean> {
  const buf = Buffer.alloc(ID_HEAD_BYTES)
  const { bytesRead } = await fh.read(buf, 0, ID_HEAD_BYTES, 0)
  return idOfHead(buf.subarray(0, bytesRead)) === id
}
