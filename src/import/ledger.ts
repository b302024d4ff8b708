// `<state-dir>/imports.json`: the import files a backfill wrote and what became of their upload.
// A file is known by its content hash, so writing the same rows again (a rerun after a crash)
// never makes a second entry, and an uploaded file is never uploaded again. Saved atomically.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../checkpoint/atomic.js'
import { StateError } from '../checkpoint/store.js'

export interface UploadRecord {
  /** `started`: recorded durably just before the upload request (it may have reached the server).
   *  `undone`: deleted from Swetrix with `--undo-import`; not uploaded again. */
  state: 'started' | 'uploaded' | 'completed' | 'failed' | 'undone'
  startedAt: string
  importId?: string | number
  finishedAt?: string
  undoneAt?: string
  errorMessage?: string
}

export interface LedgerFile {
  name: string
  path: string
  sha256: string
  bytes: number
  rows: number
  /** UTC ISO times of the first and last row. */
  from: string
  to: string
  writtenAt: string
  /** The project the file was written for, when each project has its own files (sites); absent:
   *  the project of the upload (`-p`). */
  project?: string
  upload?: UploadRecord
}

interface LedgerState {
  version: 1
  files: LedgerFile[]
}

export const LEDGER_FILE = 'imports.json'

export class ImportLedger {
  private constructor(
    readonly file: string,
    private state: LedgerState,
  ) {}

  static async open(stateDir: string): Promise<ImportLedger> {
    const file = join(stateDir, LEDGER_FILE)
    let text: string | null = null
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StateError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code})`)
    }
    if (text === null) return new ImportLedger(file, { version: 1, files: [] })
    let state: LedgerState
    try {
      state = JSON.parse(text) as LedgerState
    } catch {
      throw new StateError(`${file} is damaged (not JSON); move it aside to start over (files may then be uploaded again)`)
    }
    if (state?.version !== 1 || !Array.isArray(state.files)) throw new StateError(`${file}: unknown format; move it aside to start over`)
    return new ImportLedger(file, state)
  }

  get files(): readonly LedgerFile[] {
    return this.state.files
  }

  /** Adds a file unless one with the same content for the same project is known; returns the entry. */
  add(f: LedgerFile): LedgerFile {
    const known = this.state.files.find((x) => x.sha256 === f.sha256 && x.project === f.project)
    if (known) {
      known.path = f.path
      return known
    }
    this.state.files.push(f)
    return f
  }

  async save(): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(this.state, null, 1) + '\n')
  }
}
