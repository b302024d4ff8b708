// The state directory of a command that keeps checkpoints: created (0700), locked against a second
// process, and its checkpoint store opened. A dry run only reads checkpoints that already exist.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CheckpointStore, STATE_FILE } from '../checkpoint/store.js'
import { JOURNAL_FILE } from '../checkpoint/journal.js'
import { acquireLock, type StateLock } from '../checkpoint/lock.js'

export interface StateDir {
  readonly dir: string
  /** null: a dry run on a directory without state. */
  readonly store: CheckpointStore | null
  /** Folds the journal into state.json (when `save`), closes the store and releases the lock. */
  close(o?: { save?: boolean }): Promise<void>
}

export async function openStateDir(dir: string, o: { dryRun: boolean }): Promise<StateDir> {
  if (o.dryRun) {
    const existing = (await exists(join(dir, STATE_FILE))) || (await exists(join(dir, JOURNAL_FILE)))
    const store = existing ? await CheckpointStore.open(dir) : null
    return { dir, store, close: async () => {} }
  }
  // The lock creates the directory (0700), naming the cause when it cannot.
  const lock: StateLock = await acquireLock(dir)
  // Also on process.exit (a second signal): the next run need not wait for stale-lock detection.
  process.once('exit', () => lock.releaseSync())
  let store: CheckpointStore
  try {
    store = await CheckpointStore.open(dir)
  } catch (err) {
    await lock.release()
    throw err
  }
  return {
    dir,
    store,
    async close({ save = false } = {}) {
      try {
        if (save) await store.save()
        await store.close()
      } finally {
        await lock.release()
      }
    },
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
