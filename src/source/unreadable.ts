// A rotated file that still holds unread lines of ours but cannot be opened (its permissions were
// changed, e.g. chmod 000 or another owner after rotation). Its first line cannot be read, so it is
// recognised by its inode: stat needs no read permission, and the checkpoint keeps dev and ino.
// The bytes after the checkpoint are counted as not read; the run says so and the rest goes on.
import { stat } from 'node:fs/promises'
import type { FileCheckpoint } from '../checkpoint/schema.js'
import { safeText } from '../output/safe-text.js'
import { UsageError } from '../errors.js'

export interface UnreadFile {
  path: string
  dev: number
  ino: number
  /** Where its checkpoint stands: every byte from here is not read. */
  from: number
  /** Bytes not read (its size on disk less the checkpoint). */
  bytes: number
  /** Why it could not be opened (EACCES, EPERM). */
  code: string
}

/** Errors of an open that mean "not allowed to read it", not "gone". */
export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code
  return code === 'EACCES' || code === 'EPERM'
}

/** The unread rest of a file whose open failed with `err`: null when the failure is not about
 *  permissions, no unfinished checkpoint names its inode (history, never ours), or nothing is left. */
export async function unreadRest(path: string, err: unknown, checkpoints: readonly FileCheckpoint[]): Promise<UnreadFile | null> {
  if (!isPermissionError(err)) return null
  const st = await stat(path).catch(() => null)
  if (st === null) return null
  return restOf(path, { dev: st.dev, ino: st.ino, size: st.size }, checkpoints, (err as NodeJS.ErrnoException).code!)
}

/** Pure: the rest of the file with this identity after its unfinished checkpoint, if any. */
export function restOf(path: string, st: { dev: number; ino: number; size: number }, checkpoints: readonly FileCheckpoint[], code: string): UnreadFile | null {
  const cp = checkpoints.find((c) => !c.complete && !c.gzip && c.dev === st.dev && c.ino === st.ino)
  if (cp === undefined || st.size <= cp.acked) return null
  return { path, dev: st.dev, ino: st.ino, from: cp.acked, bytes: st.size - cp.acked, code }
}

/** The one line that names such a file while the rest goes on. */
export function unreadNote(u: UnreadFile): string {
  return `${safeText(u.path)}: cannot be read (${u.code}, permission denied): its last ${u.bytes} bytes, from offset ${u.from}, are not read; the other files are; make it readable by this user and they are read from the checkpoint`
}

/** What ends the run when files were left unread: exit 2 (the README's exit-code table), one line. */
export function unreadError(files: readonly UnreadFile[]): UsageError {
  const [first, ...more] = files
  const bytes = files.reduce((a, f) => a + f.bytes, 0)
  const which = more.length === 0 ? safeText(first!.path) : `${safeText(first!.path)} and ${more.length} more`
  return new UsageError(
    `${which}: permission denied: ${bytes} bytes of rotated log not read (everything else was); make ${more.length === 0 ? 'it' : 'them'} readable and run again to read them from the checkpoint`,
  )
}
