// Creating the state directory (mode 0700, with its parents).
import * as nodeFs from 'node:fs/promises'
import { asStateWriteError } from '../errors.js'
import type { FsPromises } from './atomic.js'

/** Creates `dir` if needed; a StateWriteError (phase 'start') when it cannot be. */
export async function ensureStateDir(dir: string, fs: Pick<FsPromises, 'mkdir'> = nodeFs): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    // A recursive mkdir reports ENOENT for a directory it could not create on a read-only file
    // system; creating the last one alone tells the cause.
    const direct = await fs.mkdir(dir, { mode: 0o700 }).then(
      () => null,
      (e: unknown) => e,
    )
    if (direct === null) return
    const code = (direct as NodeJS.ErrnoException).code
    throw asStateWriteError(code === 'ENOENT' || code === 'EEXIST' ? err : direct, dir, 'start', 'creating it')
  }
}
