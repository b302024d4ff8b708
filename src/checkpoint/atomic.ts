// Atomic, durable file replacement: temp file in the same directory,
// fsync, rename over the target, fsync the directory so the rename itself survives a power cut.
// Hand-rolled because write-file-atomic skips the directory fsync and bypasses memfs.
import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** The part of `node:fs/promises` the checkpoint code uses; inject memfs' `fs.promises` in tests. */
export type FsPromises = Pick<typeof nodeFs, 'open' | 'rename' | 'unlink' | 'readFile' | 'mkdir'>

export interface WriteAtomicOptions {
  /** Mode of the new file; default 0o600 (state can name log paths). */
  mode?: number
  fs?: FsPromises
}

/** Temp files are `<name>.<random>.tmp` next to the target; readers ignore `*.tmp`. */
export function isTempName(name: string): boolean {
  return name.endsWith('.tmp')
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteAtomicOptions = {}): Promise<void> {
  const fs = opts.fs ?? nodeFs
  const mode = opts.mode ?? 0o600
  const dir = dirname(path)
  const tmp = join(dir, `${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await fs.open(tmp, 'wx', mode)
  let renamed = false
  try {
    try {
      await fh.writeFile(data)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await fs.rename(tmp, path)
    renamed = true
  } finally {
    if (!renamed) await fs.unlink(tmp).catch(() => {})
  }
  await syncDir(fs, dir)
}

async function syncDir(fs: FsPromises, dir: string): Promise<void> {
  let dh: nodeFs.FileHandle
  try {
    dh = await fs.open(dir, 'r')
  } catch (err) {
    // Some platforms/filesystems can't open a directory for fsync; the rename is still atomic.
    if (isUnsupported(err)) return
    throw err
  }
  try {
    await dh.sync()
  } catch (err) {
    if (!isUnsupported(err)) throw err
  } finally {
    await dh.close()
  }
}

function isUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'EISDIR' || code === 'EINVAL' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EBADF'
}
