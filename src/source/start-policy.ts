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
}

export async function chooseStart(fh: FileHandle, ident: FileIdentity, known: FileCheckpoint | undefined, rules: StartRules): Promise<StartPoint> {
  if (known) {
    if (!ident.gzip && ident.size < known.acked) {
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
