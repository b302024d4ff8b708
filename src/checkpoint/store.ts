// The checkpoint state: one JSON file `<state-dir>/state.json`, keyed by file id (fingerprint).
// Saved atomically and durably; versioned; a damaged file is an error, never a silent reset
// (a reset would re-send every line).
// Hot progress updates (`saveProgress`) go to the slot journal `progress.journal` instead
// (journal.ts); state.json records the journal sequence number it already includes (`journalSeq`),
// and loading applies a newer journal record over it.
//
// Leases (where the kernel tells its boot id): `progress.journal` records go to the page cache only,
// which survives the process being killed but not a power loss or a kernel crash. What a power loss
// could then lose is a reservation (`dispatched`): the next run would send those events again. So
// before any event is sent beyond it, a *lease* is written synced to `progress.lease`: per file, an
// offset up to which requests may have left, some hundreds of lines ahead of the reservations (all
// bytes before it already read). One synced write then covers many reservations, and it is renewed in
// the background once half of it is used and reading went beyond it, so sends do not wait for the disk. Loading trusts the
// newest record exactly when it names the current boot (nothing was lost since); after another boot
// it raises each file's `dispatched` to its lease: events up to it are reported uncertain, never sent
// twice. Without a boot id every progress record is written synced, as before leases.
//
// This class ties the parts together: what the files hold (schema.ts), loading them (recovery.ts),
// the lease bookkeeping (leases.ts), the journal slots (journal.ts). A write the state directory
// refuses (full, read-only, ...) rejects with a StateWriteError naming it (errors.ts).
import * as nodeFs from 'node:fs/promises'
import { dirname } from 'node:path'
import { asStateWriteError } from '../errors.js'
import { writeFileAtomic } from './atomic.js'
import type { FsPromises } from './atomic.js'
import { readBootId } from './boot-id.js'
import { JOURNAL_FILE, ProgressJournal } from './journal.js'
import { LeaseBook } from './leases.js'
import { LEASE_FILE, recover } from './recovery.js'
import { STATE_FILE, STATE_VERSION, stateText } from './schema.js'
import { ensureStateDir } from './state-dir.js'
import type { FileCheckpoint, StateFile } from './schema.js'

export { LEASE_FILE } from './recovery.js'
export { parseState, STATE_FILE, STATE_VERSION, StateError } from './schema.js'
export type { FileCheckpoint, StateFile } from './schema.js'

export interface StoreOptions {
  /** Defaults to node:fs/promises; tests pass memfs' `fs.promises`. */
  fs?: FsPromises
  /** The kernel's boot id (enables leases); default: read from /proc with node:fs, none with an
   *  injected fs. null: no leases, every progress record is written synced. */
  bootId?: string | null
}

export class CheckpointStore {
  private readonly files = new Map<string, FileCheckpoint>()
  private running: Promise<void> | null = null
  private queued: Promise<void> | null = null
  /** Highest journal sequence number handed out (or seen on load); never goes backwards. */
  private seq = 0
  /** Files whose progress since the last completed save() is only in the journal, each with the
   *  stamp of its newest saveProgress call. The journal keeps only its newest record, so every
   *  record holds all of them (group commit: followed files share one durable write). */
  private pending = new Map<string, number>()
  private stamp = 0
  /** Journal writes running now (at most journal.maxConcurrent); they never reject. */
  private readonly journalWrites = new Set<Promise<void>>()
  /** The next journal write, waiting for a running one to end: calls made meanwhile share it. */
  private nextJournalWrite: Promise<void> | null = null
  private startQueuedWrite: (() => void) | null = null
  private readonly leases = new LeaseBook()
  private leaseWrite: Promise<void> | null = null
  /** The state directory (named by a failed write's message). */
  private readonly dir: string

  private constructor(
    /** Absolute or relative path of state.json. */
    readonly file: string,
    private readonly fs: FsPromises,
    private readonly journal: ProgressJournal,
    /** Synced lease records; null without a boot id (then `journal` is synced). */
    private readonly leaseJournal: ProgressJournal | null,
    private readonly bootId: string | null,
  ) {
    this.dir = dirname(file)
  }

  /** Creates the directory (mode 0700) if needed, loads state.json if present, then applies the
   *  progress journal's newest record if it is newer than state.json (recovery.ts). Stray `*.tmp`
   *  files from an interrupted save are ignored: the last completed save is what counts. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<CheckpointStore> {
    const fs = opts.fs ?? nodeFs
    await ensureStateDir(dir, fs)
    const bootId = opts.bootId !== undefined ? opts.bootId : fs === nodeFs ? await readBootId() : null
    const r = await recover(dir, fs, bootId)
    const store = new CheckpointStore(
      r.file,
      fs,
      new ProgressJournal(r.journal.file, fs, r.journal.slotSeqs, undefined, bootId === null),
      bootId === null ? null : new ProgressJournal(r.leaseJournal.file, fs, r.leaseJournal.slotSeqs, undefined, true, true),
      bootId,
    )
    for (const [id, cp] of r.files) store.files.set(id, cp)
    for (const id of r.pending) store.pending.set(id, 0)
    for (const [id, { at, from }] of r.leases) store.leases.carry(id, at, from)
    store.seq = r.seq
    return store
  }

  /** Opens (creating them if needed) the progress and lease journals in the background, while the
   *  command starts: their creation is synced, and the first reservation would wait for it. */
  prepareJournals(): void {
    this.journal.prepare()
    this.leaseJournal?.prepare()
  }

  /** saveProgress calls that may run at once, each with its own durable write. */
  get progressConcurrency(): number {
    return this.journal.maxConcurrent
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
   *  write, which holds everything set before it started). Rejects with a StateWriteError when the
   *  state directory cannot be written (the previous state.json stays). */
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

  /**
   * The hot path for progress: stores a copy of `cp` (like `set`) and records it in the progress
   * journal — one positional write instead of save()'s atomic rename. A later `open` sees it even if
   * save() is never called. Each record holds every file whose progress is newer than state.json; up
   * to journal.maxConcurrent writes run at once, and calls made while that many run share the next
   * write (group commit). Falls back to a full save() when the record does not fit a journal slot.
   * Each call resolves once its progress survives a crash: without leases, once it is on disk; with
   * leases, once it is in the page cache and `cp.dispatched` lies within the file's durable lease
   * (a synced lease record up to `leaseTo`, an offset ahead whose bytes were all read, is written
   * first when it does not). Rejects with a StateWriteError when the record cannot be written: the
   * progress stays pending for the next record or save, and no lease is held on its account.
   */
  saveProgress(cp: FileCheckpoint, leaseTo = cp.dispatched): Promise<void> {
    this.set(cp)
    this.pending.set(cp.id, ++this.stamp)
    if (this.leaseJournal === null) return this.writeProgress()
    switch (this.leases.offer(cp, leaseTo)) {
      case 'released':
      case 'covered':
        return this.writeProgress()
      case 'renew':
        if (this.leaseWrite === null) this.renewLeases().catch(() => {}) // retried when needed
        return this.writeProgress()
      case 'uncovered':
        return this.leaseCovering(cp.id, cp.dispatched).then(() => this.writeProgress())
    }
  }

  /** Resolves once a completed lease record covers `dispatched` for file `id`. */
  private async leaseCovering(id: string, dispatched: number): Promise<void> {
    while (!this.leases.covers(id, dispatched)) {
      if (this.leaseWrite) await this.leaseWrite.catch(() => {})
      else await this.renewLeases()
    }
  }

  /** Writes one synced lease record: the progress of every pending file and the leases of every file
   *  that holds or wants one. */
  private renewLeases(): Promise<void> {
    if (this.leaseWrite) return this.leaseWrite
    const journal = this.leaseJournal!
    const lease = this.leases.beginWrite(this.files)
    const cps = this.pendingCheckpoints()
    const seq = ++this.seq
    const payload = JSON.stringify({ boot: this.bootId, files: cps, leases: Object.fromEntries(lease.targets) })
    const run = async (): Promise<void> => {
      try {
        // Too large for a slot: a save() records the leases being written in state.json, as durably.
        if (!(await journal.append(seq, payload))) await this.save()
      } catch (err) {
        throw asStateWriteError(err, this.dir, 'run', `saving a lease to ${LEASE_FILE}`)
      }
      this.leases.written(lease)
    }
    const write = run().finally(() => {
      this.leaseWrite = null
      this.leases.endWrite()
    })
    this.leaseWrite = write
    return write
  }

  private pendingCheckpoints(): FileCheckpoint[] {
    return [...this.pending.keys()].map((id) => this.files.get(id)).filter((c): c is FileCheckpoint => c !== undefined)
  }

  /** Writes the pending progress to the journal (see saveProgress). */
  private writeProgress(): Promise<void> {
    if (this.nextJournalWrite) return this.nextJournalWrite
    if (this.journalWrites.size < this.journal.maxConcurrent) return this.startJournalWrite()
    const next = new Promise<void>((start) => {
      this.startQueuedWrite = start
    }).then(() => {
      this.nextJournalWrite = null
      return this.startJournalWrite()
    })
    this.nextJournalWrite = next
    return next
  }

  /** Numbers a record with the data as of now and writes it. A save() snapshot taken later includes
   *  this data and records a journalSeq >= seq, so this record can never be applied over newer state;
   *  records are numbered in the order they start, and the journal keeps the newest completed one. */
  private startJournalWrite(): Promise<void> {
    const cps = this.pendingCheckpoints()
    if (cps.length === 0) return Promise.resolve() // a save() meanwhile holds all of it
    const seq = ++this.seq
    const payload =
      this.bootId !== null ? JSON.stringify({ boot: this.bootId, files: cps }) : cps.length === 1 ? JSON.stringify(cps[0]) : JSON.stringify({ files: cps })
    const written = this.journal.append(seq, payload).then(
      async (fits) => {
        if (!fits) await this.save()
      },
      (err: unknown) => {
        throw asStateWriteError(err, this.dir, 'run', `saving progress to ${JOURNAL_FILE}`)
      },
    )
    const release = (): void => {
      this.journalWrites.delete(running)
      const start = this.startQueuedWrite
      this.startQueuedWrite = null
      start?.()
    }
    const running = written.then(release, release)
    this.journalWrites.add(running)
    return written
  }

  /** Waits for pending journal writes and closes the journal file. Does not save: call save()
   *  first to fold the journal into state.json. The store stays usable (the journal reopens). */
  async close(): Promise<void> {
    while (this.journalWrites.size > 0 || this.nextJournalWrite || this.leaseWrite)
      await Promise.all([...this.journalWrites, this.nextJournalWrite?.catch(() => {}), this.leaseWrite?.catch(() => {})])
    try {
      await this.journal.close()
      await this.leaseJournal?.close()
    } catch (err) {
      throw asStateWriteError(err, this.dir, 'run', 'closing the progress journals')
    }
  }

  private async write(): Promise<void> {
    // Every journal record numbered so far holds data already in this.files, so this snapshot
    // supersedes them all.
    const journalSeq = this.seq
    const stamp = this.stamp
    const { entries: files, moot } = this.leases.forSave(this.files)
    const state: StateFile = { version: STATE_VERSION, journalSeq, ...(this.bootId !== null ? { boot: this.bootId } : {}), files }
    try {
      await writeFileAtomic(this.file, stateText(state), { mode: 0o600, fs: this.fs })
    } catch (err) {
      throw asStateWriteError(err, this.dir, 'run', `saving ${STATE_FILE}`)
    }
    // Progress set after the snapshot stays pending: the next journal record must hold it.
    for (const [id, s] of this.pending) if (s <= stamp) this.pending.delete(id)
    this.leases.saved(moot, this.files)
  }
}
