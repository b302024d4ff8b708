// Where a file's reading starts: its checkpoint (verified through the same handle that will read
// it), or the first-run policy. Pure decisions over one pinned FileHandle; the caller notes why.
import type { FileHandle } from 'node:fs/promises'
import type { FileCheckpoint } from '../checkpoint/store.js'
import { hashBefore, type FileIdentity } from './fingerprint.js'
import { formatCount } from '../output/count.js'

export interface StartPoint {
  offset: number
  line: number
  /** Why the start is not the checkpoint or the file's end, for a warning (null: nothing to say). */
  note: string | null
}

export interface StartRules {
  /** Read a file without a checkpoint from its first byte (backfill, --from-beginning, a rotated
   *  predecessor, the next generation of a followed path, a file that appeared after start). */
  fromStart: boolean
  /** follow saw this very file (its pinned handle) cut back in place to this size, its first line
   *  unchanged: bytes after it were written since. */
  shrunkTo?: number
}

export async function chooseStart(fh: FileHandle, ident: FileIdentity, known: FileCheckpoint | undefined, rules: StartRules): Promise<StartPoint> {
  if (known) {
    if (!ident.gzip && ident.size < known.acked) {
      const cutTo = rules.shrunkTo !== undefined ? Math.min(rules.shrunkTo, ident.size) : (await cutBackInPlace(fh, ident, known)) ? ident.size : -1
      if (cutTo >= 0 && cutTo < known.acked) {
        // Line numbers go on from the checkpoint's: counting the lines before the cut would read it all.
        return {
          offset: cutTo,
          line: known.ackedLine ?? 0,
          note: `cut back in place to ${formatCount(cutTo)} bytes, shorter than the ${formatCount(known.acked)} already read; its first line is unchanged, so the bytes before its end were read: reading on from its end`,
        }
      }
      return { offset: 0, line: 0, note: 'the file is shorter than its checkpoint (truncated, e.g. copytruncate); reading it again from the start' }
    }
    const hashAt = known.tailHashAt ?? known.acked
    if (!ident.gzip && known.ackedTailHash && hashAt > 0) {
      if ((await hashBefore(fh, hashAt)) !== known.ackedTailHash) {
        return { offset: 0, line: 0, note: 'the bytes before the checkpoint changed (file replaced); reading it again from the start' }
      }
    }
    return { offset: known.acked, line: known.ackedLine ?? 0, note: null }
  }
  if (rules.fromStart) return { offset: 0, line: 0, note: null }
  const offset = await endOfLastCompleteLine(fh, ident.size)
  const note =
    offset > 0
      ? `first run, starting at its end; passing over ${formatCount(offset)} bytes already in it (use --from-beginning to send them, or backfill)`
      : null
  return { offset, line: 0, note }
}

/** Between two runs: the same inode, and the bytes the checkpoint hashed are still there unchanged
 *  (a first line alone is not proof: W3C files all start with the same directive). */
async function cutBackInPlace(fh: FileHandle, ident: FileIdentity, known: FileCheckpoint): Promise<boolean> {
  const hashAt = known.tailHashAt ?? known.acked
  if (known.dev !== ident.dev || known.ino !== ident.ino || !known.ackedTailHash || hashAt === 0 || hashAt > ident.size) return false
  return (await hashBefore(fh, hashAt)) === known.ackedTailHash
}

/** The offset just after the last `\n` in the first `size` bytes (a first run starts there). */
export async function endOfLastCompleteLine(fh: FileHandle, size: number): Promise<number> {
  const window = 1 << 16
  let end = size
  const buf = Buffer.alloc(window)
  while (end > 0) {
    const from = Math.max(0, end - window)
    const { bytesRead } = await fh.read(buf, 0, end - from, from)
    const nl = buf.subarray(0, bytesRead).lastIndexOf(10)
    if (nl >= 0) return from + nl + 1
    end = from
  }
  return 0
}
