// One process per state dir: a pidfile `<dir>/lock` created exclusively. A lock whose
// process is gone (crash, SIGKILL) is stale and taken over. For cron, `flock -n` around the command
// is the kernel-level complement (see docs/delivery.md, "Reading logs and checkpoints").
import { randomUUID } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { link, open, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { asStateWriteError } from '../errors.js'
import { ensureStateDir } from './state-dir.js'

/** Another live process holds the state dir. Exit code 75 (EX_TEMPFAIL): try again later. */
export class LockedError extends Error {
  override readonly name = 'LockedError'
  readonly exitCode = 75
}

export interface StateLock {
  readonly path: string
  /** Removes the lock file if it still holds this process's lock. Idempotent. */
  release(): Promise<void>
  /** The same, synchronously: for process.on('exit'). */
  releaseSync(): void
}

export const LOCK_FILE = 'lock'

// Constant for the life of this process. It tells our own lock apart from a stale one left by an
// earlier process with the same pid (containers restart as pid 1 every time).
const PROCESS_TOKEN = randomUUID()

interface Holder {
  pid: number
  token: string
}

/** Takes the lock of state dir `dir` (created 0700 if needed). Throws LockedError when another
 *  live process holds it, and a StateWriteError (phase 'start': nothing was sent) when the directory
 *  cannot be created or written (read-only, full, no permission). */
export async function acquireLock(dir: string): Promise<StateLock> {
  const file = join(dir, LOCK_FILE)
  const unwritable = (err: unknown) => asStateWriteError(err, dir, 'start', 'creating the lock file')
  await ensureStateDir(dir)
  const content = `${process.pid}\n${PROCESS_TOKEN}\n`
  for (let attempt = 0; attempt < 4; attempt++) {
    let fh
    try {
      fh = await open(file, 'wx', 0o600)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(err)
    }
    if (fh) {
      try {
        try {
          await fh.writeFile(content)
        } finally {
          await fh.close()
        }
      } catch (err) {
        // An empty lock file would hold the next run back until it is judged stale.
        await unlink(file).catch(() => {})
        throw unwritable(err)
      }
      return makeLock(file, content)
    }
    const seen = await readHolder(file)
    if (seen === 'gone') continue // released meanwhile: try again
    if (seen !== null && isAlive(seen)) {
      const self = seen.pid === process.pid ? ' (this process)' : ''
      throw new LockedError(`another swetrix-ingest (pid ${seen.pid}${self}) is using state dir ${dir}; wait for it to finish`)
    }
    await takeOverStale(file, seen, dir).catch((err: unknown) => {
      throw err instanceof LockedError ? err : unwritable(err)
    })
  }
  throw new LockedError(`could not take the lock ${file}: it keeps changing; another swetrix-ingest is starting up`)
}

function makeLock(file: string, content: string): StateLock {
  return {
    path: file,
    async release() {
      try {
        if ((await readFile(file, 'utf8')) === content) await unlink(file)
      } catch (err) {
        if (!leftBehindIsHarmless(err)) throw err
      }
    },
    releaseSync() {
      try {
        if (readFileSync(file, 'utf8') === content) unlinkSync(file)
      } catch (err) {
        if (!leftBehindIsHarmless(err)) throw err
      }
    },
  }
}

/** A lock that could not be removed (gone already, or the state dir turned read-only or unwritable)
 *  is harmless: once this process has exited it is stale and the next one takes it over. Failing the
 *  release would hide the error that ended the run. */
function leftBehindIsHarmless(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'EROFS' || code === 'EIO' || code === 'EACCES' || code === 'EPERM' || code === 'ENOSPC'
}

/** The lock's holder; null when the file holds no pid (its creator died between create and write,
 *  checked again after a moment); 'gone' when the file disappeared. */
async function readHolder(file: string): Promise<Holder | null | 'gone'> {
  for (let i = 0; ; i++) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
      throw err
    }
    const holder = parseHolder(text)
    if (holder !== null || i >= 3) return holder
    await sleep(25) // a starting process writes its pid right after creating the file
  }
}

function parseHolder(text: string): Holder | null {
  const m = /^(\d+)\n([^\n]*)/.exec(text)
  if (!m) return null
  const pid = Number(m[1])
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, token: m[2] as string } : null
}

function isAlive(h: Holder): boolean {
  if (h.pid === process.pid) return h.token === PROCESS_TOKEN
  try {
    process.kill(h.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by someone else
  }
}

/** Moves a stale lock aside (rename is atomic, so of two processes doing this only one gets the
 *  file); if what was moved is not the stale lock we judged (a live lock created meanwhile), put it
 *  back and report it. */
async function takeOverStale(file: string, seen: Holder | null, dir: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomUUID().slice(0, 8)}.tmp`
  try {
    await rename(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const moved = parseHolder(await readFile(aside, 'utf8').catch(() => ''))
  const same = moved === null ? seen === null : seen !== null && moved.pid === seen.pid && moved.token === seen.token
  if (!same && moved !== null && isAlive(moved)) {
    await link(aside, file).catch(() => {})
    await unlink(aside).catch(() => {})
    throw new LockedError(`another swetrix-ingest (pid ${moved.pid}) is using state dir ${dir}; wait for it to finish`)
  }
  await unlink(aside).catch(() => {})
}
