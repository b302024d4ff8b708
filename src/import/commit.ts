// The end of a backfill's writing, in the order that makes a crash at any point safe: the files
// are durable (fsync'd, renamed, their directory synced), then listed in the ledger, then each
// input's checkpoint moves. A crash before the checkpoints makes the rerun write the same rows,
// which the ledger knows by content (never uploaded twice).
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import { syncDir, type ImportFileInfo } from '../sink/import-csv.js'
import type { ImportLedger } from './ledger.js'

export interface WrittenSet {
  dir: string
  files: readonly ImportFileInfo[]
  /** The project the files belong to when each project has its own set (sites). */
  project?: string
}

export interface CommitOptions {
  sets: readonly WrittenSet[]
  ledger: ImportLedger
  store: CheckpointStore
  checkpoints: readonly FileCheckpoint[]
  /** Runs after the ledger is saved and before the checkpoints are (the sessions carried over). */
  beforeCheckpoints?: () => Promise<void>
  now: () => number
}

export async function commitImport(o: CommitOptions): Promise<void> {
  const at = new Date(o.now()).toISOString()
  for (const set of o.sets) {
    if (set.files.length === 0) continue
    syncDir(set.dir)
    for (const f of set.files)
      o.ledger.add({
        name: f.name,
        path: f.path,
        sha256: f.sha256,
        bytes: f.bytes,
        rows: f.rows,
        from: iso(f.firstMs),
        to: iso(f.lastMs),
        writtenAt: at,
        ...(set.project === undefined ? {} : { project: set.project }),
      })
  }
  await o.ledger.save()
  await o.beforeCheckpoints?.()
  for (const cp of o.checkpoints) o.store.set(cp)
  await o.store.save()
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
