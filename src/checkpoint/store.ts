// The checkpoint state: one JSON file `<state-dir>/state.json`, keyed by file id (fingerprint).
// Saved atomically and durably; versioned; a damaged file is an error, never a silent reset
// (a reset would re-send every line — lessons R3, R4).
import * as nodeFs from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic.js'
import type { FsPromises } from './atomic.js'

export interface FileCheckpoint {
  id: string
  path: string
  dev: number
  ino: number
  gzip: boolean
  /** Bytes seen at last save (decompressed size for gzip once fully read). */
  size: number
  /** Every line before this offset is done: delivered, deliberately skipped, or dead-lettered. */
  acked: number
  /** >= acked; requests for lines before it may have left (durably recorded BEFORE they leave). */
  dispatched: number
  /** Start offsets of event lines in [acked, dispatched) known done — a resume skips them. */
  doneAhead: number[]
  /** Hash of up to 64 bytes before `acked` (fingerprint.hashRange), verified before resuming. */
  ackedTailHash?: string
  /** Number of lines before `acked` (line numbers stay right after a resume). */
  ackedLine: number
  /** A rotated/compressed file read to its end. */
  complete?: boolean
  updatedAt: string
}

export interface StateFile {
  version: 1
  files: Record<string, FileCheckpoint>
}

export const STATE_VERSION = 1
export const STATE_FILE = 'state.json'

/** The state file can't be used. The message names the file and what to do; the tool must stop
 *  rather than start over on its own. */
export class StateError extends Error {
  override readonly name = 'StateError'
}

export interface StoreOptions {
  /** Defaults to node:fs/promises; tests pass memfs' `fs.promises`. */
  fs?: FsPromises
}

export class CheckpointStore {
  private readonly files = new Map<string, FileCheckpoint>()
  private running: Promise<void> | null = null
  private queued: Promise<void> | null = null

  private constructor(
    /** Absolute or relative path of state.json. */
    readonly file: string,
    private readonly fs: FsPromises,
  ) {}

  /** Creates the directory (mode 0700) if needed and loads state.json if present. Stray `*.tmp`
   *  files from an interrupted save are ignored: the last completed save is what counts. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<CheckpointStore> {
    const fs = opts.fs ?? nodeFs
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    const store = new CheckpointStore(join(dir, STATE_FILE), fs)
    let text: string
    try {
      text = await fs.readFile(store.file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return store
      throw new StateError(`cannot read state file ${store.file} (${code ?? String(err)}); fix its permissions, or run with another --state-dir`)
    }
    const state = parseState(text, store.file)
    for (const [key, cp] of Object.entries(state.files)) store.files.set(key, cp)
    return store
  }

  /** The stored checkpoint; treat it as read-only (change it through `set`). */
  get(id: string): FileCheckpoint | undefined {
    return this.files.get(id)
  }

  all(): FileCheckpoint[] {
    return [...this.files.values()]
  }

  /** Stores a copy of `cp` under `cp.id`; persisted by the next `save()`. */
  set(cp: FileCheckpoint): void {
    this.files.set(cp.id, { ...cp, doneAhead: [...cp.doneAhead] })
  }

  delete(id: string): void {
    this.files.delete(id)
  }

  /** Writes the current state atomically and durably. Saves never overlap: a save requested while
   *  one runs waits for it and then writes once more (all requests made meanwhile share that one
   *  write, which holds everything set before it started). */
  save(): Promise<void> {
    if (this.running === null) {
      const run = this.write().finally(() => {
        this.running = null
      })
      this.running = run
      return run
    }
    this.queued ??= this.running
      .catch(() => {})
      .then(() => {
        this.queued = null
        return this.save()
      })
    return this.queued
  }

  private async write(): Promise<void> {
    const state: StateFile = { version: STATE_VERSION, files: Object.fromEntries(this.files) }
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600, fs: this.fs })
  }
}

/** Parses and checks state.json text; throws StateError for anything but a valid version-1 state. */
export function parseState(text: string, file: string): StateFile {
  const aside = `move it aside (mv ${file} ${file}.bad) to start over (logs are then read as on a first run, so lines already sent can be sent again)`
  if (text.trim() === '') throw new StateError(`state file ${file} is empty (interrupted write?); ${aside}`)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new StateError(`state file ${file} is not valid JSON (truncated or edited?); ${aside}`)
  }
  if (!isObject(raw)) throw new StateError(`state file ${file} does not hold a state object; ${aside}`)
  if (raw.version !== STATE_VERSION) {
    const v = typeof raw.version === 'number' ? `version ${raw.version}` : 'no version'
    throw new StateError(`state file ${file} has ${v}, this swetrix-ingest reads version ${STATE_VERSION}; use the swetrix-ingest that wrote it, or ${aside}`)
  }
  if (!isObject(raw.files)) throw new StateError(`state file ${file} has no "files" object; ${aside}`)
  for (const [key, cp] of Object.entries(raw.files)) {
    const problem = checkpointProblem(key, cp)
    if (problem) throw new StateError(`state file ${file}: entry ${JSON.stringify(key)} ${problem}; ${aside}`)
  }
  return raw as unknown as StateFile
}

function checkpointProblem(key: string, cp: unknown): string | null {
  if (!isObject(cp)) return 'is not an object'
  if (cp.id !== key) return 'has an id different from its key'
  if (typeof cp.path !== 'string' || typeof cp.updatedAt !== 'string' || typeof cp.gzip !== 'boolean') return 'lacks path/updatedAt/gzip'
  for (const f of ['dev', 'ino', 'size', 'acked', 'dispatched', 'ackedLine'] as const) {
    const v = cp[f]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `has a bad "${f}"`
  }
  if ((cp.dispatched as number) < (cp.acked as number)) return 'has dispatched < acked'
  if (!Array.isArray(cp.doneAhead) || !cp.doneAhead.every((n) => Number.isSafeInteger(n))) return 'has a bad "doneAhead"'
  if (cp.ackedTailHash !== undefined && typeof cp.ackedTailHash !== 'string') return 'has a bad "ackedTailHash"'
  if (cp.complete !== undefined && typeof cp.complete !== 'boolean') return 'has a bad "complete"'
  return null
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
