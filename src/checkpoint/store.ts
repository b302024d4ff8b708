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
// the background once half of it is used, so sends do not wait for the disk. Loading trusts the
// newest record exactly when it names the current boot (nothing was lost since); after another boot
// it raises each file's `dispatched` to its lease: events up to it are reported uncertain, never sent
// twice. Without a boot id every progress record is written synced, as before leases.
import * as nodeFs from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from './atomic.js'
import type { FsPromises } from './atomic.js'
import { readBootId } from './boot-id.js'
import { JOURNAL_FILE, JOURNAL_SIZES, ProgressJournal, readSlots } from './journal.js'

export const LEASE_FILE = 'progress.lease'

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
  /** Start offsets of event lines beyond acked known done (delivered or dead-lettered) — a resume skips them. */
  doneAhead: number[]
  /** Hash of up to 64 bytes before `tailHashAt` (fingerprint.hashRange), verified before resuming:
   *  a file that was replaced or truncated no longer has those bytes there. */
  ackedTailHash?: string
  /** The offset `ackedTailHash` was taken at (<= acked; refreshed about once a second, not on every
   *  progress save). Absent in older state files: then it is `acked`. */
  tailHashAt?: number
  /** Number of lines before `acked` (line numbers stay right after a resume). */
  ackedLine: number
  /** Written by the last save of a run that stopped or failed (not a crash): [acked, dispatched)
   *  then holds only requests that were written and left unanswered. Absent in older files. */
  stoppedCleanly?: boolean
  /** Starts of events in [acked, dispatched) known not delivered (with stoppedCleanly). */
  unsent?: number[]
  /** A rotated/compressed file read to its end. */
  complete?: boolean
  updatedAt: string
  /** In state.json only: the file's lease when it was saved (requests for lines before it may have
   *  left); applied on load after another boot. Absent when the file holds no lease. */
  leased?: number
}

export interface StateFile {
  version: 1
  /** Sequence number of the newest progress-journal record this state already includes (journal
   *  records up to it are ignored on load). Missing in files written before the journal: 0. */
  journalSeq?: number
  /** The boot id when it was saved (leases). */
  boot?: string
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
  /** Per file: the lease a completed synced record (or a completed save) holds. */
  private readonly leases = new Map<string, number>()
  /** Per file: its `dispatched` when its lease was written; the lease is renewed past the midpoint. */
  private readonly leaseFrom = new Map<string, number>()
  /** Per file: the furthest lease offered by saveProgress (all bytes before it read). */
  private readonly leaseWanted = new Map<string, number>()
  /** Per file: bumped when its lease is dropped, so a lease write started before does not revive it. */
  private readonly leaseEpoch = new Map<string, number>()
  /** Files whose last progress reserved nothing beyond what is done or stopped: the next save()
   *  (durable, exact) drops their lease. Until then lease records keep it: delivered events whose
   *  acknowledgement is only in the page cache must stay covered. */
  private readonly released = new Set<string>()
  private leaseWrite: Promise<void> | null = null
  /** The leases the running lease write records (a save() made meanwhile records them too). */
  private leaseWriting: Map<string, number> | null = null

  private constructor(
    /** Absolute or relative path of state.json. */
    readonly file: string,
    private readonly fs: FsPromises,
    private readonly journal: ProgressJournal,
    /** Synced lease records; null without a boot id (then `journal` is synced). */
    private readonly leaseJournal: ProgressJournal | null,
    private readonly bootId: string | null,
  ) {}

  /** Creates the directory (mode 0700) if needed, loads state.json if present, then applies the
   *  progress journal's newest record if it is newer than state.json. Stray `*.tmp` files from an
   *  interrupted save are ignored: the last completed save is what counts. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<CheckpointStore> {
    const fs = opts.fs ?? nodeFs
    await fs.mkdir(dir, { recursive: true, mode: 0o700 })
    const file = join(dir, STATE_FILE)
    let text: string | null = null
    try {
      text = await fs.readFile(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT')
        throw new StateError(`cannot read state file ${file} (${code ?? String(err)}); fix its permissions, or run with another --state-dir`)
    }
    const state = text === null ? null : parseState(text, file)
    const journalSeq = state?.journalSeq ?? 0
    const bootId = opts.bootId !== undefined ? opts.bootId : fs === nodeFs ? await readBootId() : null
    const leased = await loadJournal(fs, join(dir, LEASE_FILE))
    // Records written without sync can all be torn by a power loss; a lease record then stands in.
    const loaded = await loadJournal(fs, join(dir, JOURNAL_FILE), leased.newest !== null)
    const store = new CheckpointStore(
      file,
      fs,
      new ProgressJournal(loaded.file, fs, loaded.slotSeqs, undefined, bootId === null),
      bootId === null ? null : new ProgressJournal(leased.file, fs, leased.slotSeqs),
      bootId,
    )
    if (state) for (const [key, cp] of Object.entries(state.files)) store.files.set(key, cp)
    store.seq = Math.max(journalSeq, loaded.newest?.seq ?? 0, leased.newest?.seq ?? 0)
    // The newest record beyond state.json, from either journal (a lease record holds the progress too).
    let newest: JournalRecord | null = null
    for (const r of [loaded.newest, leased.newest]) if (r && r.seq > journalSeq && (newest === null || r.seq > newest.seq)) newest = r
    if (newest) {
      for (const cp of newest.cps) {
        store.files.set(cp.id, cp)
        store.pending.set(cp.id, 0)
      }
    }
    // Written since this boot: the page cache it went to was never lost, so it is exact. Otherwise a
    // record written without sync may be missing, and each file's lease bounds what may have left.
    const exact = bootId !== null && (newest ? newest.boot === bootId : state?.boot === bootId)
    const bound = new Map<string, number>()
    for (const [id, cp] of Object.entries(state?.files ?? {})) if (cp.leased !== undefined) bound.set(id, cp.leased)
    if (leased.newest && leased.newest.seq > journalSeq) for (const [id, at] of leased.newest.leases) bound.set(id, Math.max(at, bound.get(id) ?? 0))
    // Leases still in force are carried into this run's lease records: acknowledgements of the last
    // run may be only in the page cache, and a power loss during this run must not uncover them.
    if (store.leaseJournal) {
      for (const [id, at] of bound) {
        if (!store.files.has(id)) continue
        store.leases.set(id, at)
        store.leaseFrom.set(id, store.files.get(id)!.dispatched)
      }
    }
    if (!exact) {
      for (const [id, at] of bound) {
        const cp = store.files.get(id)
        if (!cp || at <= cp.dispatched) continue
        // As after a crash: the whole range may have been sent.
        const { stoppedCleanly: _s, unsent: _u, ...rest } = cp
        store.files.set(id, { ...rest, dispatched: at })
        store.pending.set(id, 0)
      }
    }
    for (const [id, cp] of store.files) {
      if (cp.leased === undefined) continue
      const { leased: _l, ...rest } = cp
      store.files.set(id, rest)
    }
    return store
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

  /**
   * The hot path for progress: stores a copy of `cp` (like `set`) and records it in the progress
   * journal — one positional write instead of save()'s atomic rename. A later `open` sees it even if
   * save() is never called. Each record holds every file whose progress is newer than state.json; up
   * to journal.maxConcurrent writes run at once, and calls made while that many run share the next
   * write (group commit). Falls back to a full save() when the record does not fit a journal slot.
   * Each call resolves once its progress survives a crash: without leases, once it is on disk; with
   * leases, once it is in the page cache and `cp.dispatched` lies within the file's durable lease
   * (a synced lease record up to `leaseTo`, an offset ahead whose bytes were all read, is written
   * first when it does not).
   */
  saveProgress(cp: FileCheckpoint, leaseTo = cp.dispatched): Promise<void> {
    this.set(cp)
    this.pending.set(cp.id, ++this.stamp)
    if (this.leaseJournal === null) return this.writeProgress()
    const id = cp.id
    if (cp.stoppedCleanly || cp.dispatched <= cp.acked) {
      // Nothing is reserved beyond what is done or stopped: the next save() drops the lease, so a
      // clean stop leaves none for the next boot to raise `dispatched` to.
      this.released.add(id)
      this.leaseWanted.delete(id)
      return this.writeProgress()
    }
    this.released.delete(id)
    this.leaseWanted.set(id, Math.max(leaseTo, cp.dispatched, this.leaseWanted.get(id) ?? 0))
    const lease = this.leases.get(id)
    if (lease !== undefined && cp.dispatched <= lease) {
      const from = this.leaseFrom.get(id) ?? 0
      if (cp.dispatched - from > (lease - from) / 2 && this.leaseWrite === null) this.renewLeases().catch(() => {}) // retried when needed
      return this.writeProgress()
    }
    return this.leaseCovering(id, cp.dispatched).then(() => this.writeProgress())
  }

  /** Resolves once a completed lease record covers `dispatched` for file `id`. */
  private async leaseCovering(id: string, dispatched: number): Promise<void> {
    for (;;) {
      const lease = this.leases.get(id)
      if (lease !== undefined && dispatched <= lease) return
      if (this.leaseWrite) await this.leaseWrite.catch(() => {})
      else await this.renewLeases()
    }
  }

  /** Writes one synced lease record: the progress of every pending file and the leases of every file
   *  that holds or wants one (the newest completed record alone must hold them all, since a torn write
   *  damages the slot with the older one). */
  private renewLeases(): Promise<void> {
    if (this.leaseWrite) return this.leaseWrite
    const journal = this.leaseJournal!
    const targets = new Map(this.leases)
    for (const [id, at] of this.leaseWanted) if (this.files.has(id)) targets.set(id, Math.max(at, targets.get(id) ?? 0))
    const epochs = new Map([...targets.keys()].map((id) => [id, this.leaseEpoch.get(id) ?? 0]))
    const from = new Map([...targets.keys()].map((id) => [id, this.files.get(id)?.dispatched ?? 0]))
    const cps = this.pendingCheckpoints()
    const seq = ++this.seq
    const payload = JSON.stringify({ boot: this.bootId, files: cps, leases: Object.fromEntries(targets) })
    this.leaseWriting = targets
    const run = async (): Promise<void> => {
      // Too large for a slot: a save() records the leases (leaseWriting) in state.json, as durably.
      if (!(await journal.append(seq, payload))) await this.save()
      for (const [id, at] of targets) {
        if ((this.leaseEpoch.get(id) ?? 0) !== epochs.get(id)) continue
        if (at > (this.leases.get(id) ?? -1)) {
          this.leases.set(id, at)
          this.leaseFrom.set(id, from.get(id)!)
        }
      }
    }
    const write = run().finally(() => {
      this.leaseWrite = null
      this.leaseWriting = null
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
    const written = this.journal.append(seq, payload).then(async (fits) => {
      if (!fits) await this.save()
    })
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
    await this.journal.close()
    await this.leaseJournal?.close()
  }

  private async write(): Promise<void> {
    // Every journal record numbered so far holds data already in this.files, so this snapshot
    // supersedes them all.
    const journalSeq = this.seq
    const stamp = this.stamp
    const files: Record<string, FileCheckpoint> = {}
    /** Leases this save makes moot once durable: every event before them is done, or the file stopped. */
    const moot = new Map<string, number>()
    for (const [id, cp] of this.files) {
      // A lease in force (or being written) is recorded: sends relying on it may follow this save.
      const leased = Math.max(this.leases.get(id) ?? -1, this.leaseWriting?.get(id) ?? -1)
      if (leased < 0) files[id] = cp
      else if (this.released.has(id) || leased <= cp.acked) {
        files[id] = cp
        moot.set(id, leased)
      } else files[id] = leased > cp.dispatched ? { ...cp, leased } : cp
    }
    const state: StateFile = { version: STATE_VERSION, journalSeq, ...(this.bootId !== null ? { boot: this.bootId } : {}), files }
    await writeFileAtomic(this.file, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600, fs: this.fs })
    // Progress set after the snapshot stays pending: the next journal record must hold it.
    for (const [id, s] of this.pending) if (s <= stamp) this.pending.delete(id)
    for (const [id, leased] of moot) {
      if ((this.leases.get(id) ?? -1) !== leased && (this.leaseWriting?.get(id) ?? -1) !== leased) continue // renewed meanwhile
      // Released at the snapshot but reserving again since: its sends may rely on this lease.
      if (!this.released.has(id) && leased > (this.files.get(id)?.acked ?? 0)) continue
      this.leases.delete(id)
      this.leaseFrom.delete(id)
      this.leaseEpoch.set(id, (this.leaseEpoch.get(id) ?? 0) + 1)
    }
  }
}

interface LoadedJournal {
  file: string
  /** Per slot, the sequence number of its valid record or 0; empty when the file does not exist. */
  slotSeqs: number[]
  newest: JournalRecord | null
}

interface JournalRecord {
  seq: number
  /** One checkpoint, or several when followed files shared the record. */
  cps: FileCheckpoint[]
  /** The boot id the record was written under (absent before leases). */
  boot?: string
  /** In lease records: per file, the offset up to which requests may have left. */
  leases: [string, number][]
}

async function loadJournal(fs: FsPromises, file: string, allTornOk = false): Promise<LoadedJournal> {
  const aside = `move it aside (mv ${file} ${file}.bad) to continue from state.json alone (lines sent after its last save can then be sent again)`
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { file, slotSeqs: [], newest: null }
    throw new StateError(`cannot read progress journal ${file} (${code ?? String(err)}); fix its permissions, or run with another --state-dir`)
  }
  // Always created full-size in one atomic step, so another size is not a torn write.
  if (!JOURNAL_SIZES.includes(bytes.length))
    throw new StateError(`progress journal ${file} has ${bytes.length} bytes, expected ${JOURNAL_SIZES.join(' or ')}; ${aside}`)
  const { slots, newest } = readSlots(bytes)
  for (const s of slots) {
    if (s.kind === 'newer')
      throw new StateError(
        `progress journal ${file} has format version ${s.version}, this swetrix-ingest reads version 1; use the swetrix-ingest that wrote it, or ${aside}`,
      )
  }
  // A crash can tear only slots being written, and one slot is never written while others are: every
  // slot damaged is corruption.
  if (slots.every((s) => s.kind === 'torn') && !allTornOk) throw new StateError(`progress journal ${file} is damaged (no record passes its checksum); ${aside}`)
  const slotSeqs = slots.map((s) => (s.kind === 'record' ? s.seq : 0))
  if (!newest) return { file, slotSeqs, newest: null }
  let parsed: unknown
  try {
    parsed = JSON.parse(newest.payload)
  } catch {
    parsed = null
  }
  const list: unknown[] = isObject(parsed) && Array.isArray(parsed.files) ? parsed.files : [parsed]
  const boot = isObject(parsed) && typeof parsed.boot === 'string' ? parsed.boot : undefined
  const leases: [string, number][] = []
  if (isObject(parsed) && parsed.leases !== undefined) {
    const raw = parsed.leases
    if (!isObject(raw) || !Object.values(raw).every((v) => Number.isSafeInteger(v) && (v as number) >= 0))
      throw new StateError(`progress journal ${file}: record ${newest.seq} has bad "leases"; ${aside}`)
    for (const [id, at] of Object.entries(raw)) leases.push([id, at as number])
  }
  for (const cp of list) {
    const id = isObject(cp) && typeof cp.id === 'string' ? cp.id : ''
    const problem = checkpointProblem(id, cp)
    if (problem)
      throw new StateError(`progress journal ${file}: record ${newest.seq} ${problem === 'has an id different from its key' ? 'has no id' : problem}; ${aside}`)
  }
  return { file, slotSeqs, newest: { seq: newest.seq, cps: list as FileCheckpoint[], ...(boot !== undefined ? { boot } : {}), leases } }
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
  if (raw.journalSeq !== undefined && !(Number.isSafeInteger(raw.journalSeq) && (raw.journalSeq as number) >= 0)) {
    throw new StateError(`state file ${file} has a bad "journalSeq"; ${aside}`)
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
  if (
    cp.tailHashAt !== undefined &&
    (!Number.isSafeInteger(cp.tailHashAt) || (cp.tailHashAt as number) < 0 || (cp.tailHashAt as number) > (cp.acked as number))
  )
    return 'has a bad "tailHashAt"'
  if (cp.complete !== undefined && typeof cp.complete !== 'boolean') return 'has a bad "complete"'
  if (cp.leased !== undefined && !(Number.isSafeInteger(cp.leased) && (cp.leased as number) >= 0)) return 'has a bad "leased"'
  return null
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
