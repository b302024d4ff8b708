// Loading the state a store starts from: state.json, then the newest record of the progress and
// lease journals if it is newer than state.json, then (after another boot) each file's lease raising
// its `dispatched`. Reads only; the store (store.ts) writes.
import { join } from 'node:path'
import type { FsPromises } from './atomic.js'
import { JOURNAL_FILE, JOURNAL_SIZES, readSlots } from './journal.js'
import { parseJournalRecord, parseState, STATE_FILE, StateError } from './schema.js'
import type { FileCheckpoint, JournalRecord } from './schema.js'

export const LEASE_FILE = 'progress.lease'

export interface LoadedJournal {
  file: string
  /** Per slot, the sequence number of its valid record or 0; empty when the file does not exist. */
  slotSeqs: number[]
  /** Sequence number of the newest valid record, 0 if none. */
  newestSeq: number
  /** The newest record, when it is newer than state.json (older ones are not read: state.json holds them). */
  newest: JournalRecord | null
}

export interface Recovered {
  /** Path of state.json. */
  file: string
  files: Map<string, FileCheckpoint>
  /** Files whose loaded progress is newer than state.json (the next record or save must hold it). */
  pending: string[]
  /** Highest journal sequence number seen. */
  seq: number
  journal: LoadedJournal
  leaseJournal: LoadedJournal
  /** Leases still in force, per file, with the file's `dispatched` before any was raised (only with
   *  a boot id: without one there are no leases). */
  leases: Map<string, { at: number; from: number }>
}

/** Loads the state of `dir` as it stands after whatever stopped the last run (clean stop, crash,
 *  power loss). `bootId`: this boot's, or null (no leases). */
export async function recover(dir: string, fs: FsPromises, bootId: string | null): Promise<Recovered> {
  const file = join(dir, STATE_FILE)
  let text: string | null = null
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw new StateError(`cannot read state file ${file} (${code ?? String(err)}); fix its permissions, or run with another --state-dir`)
  }
  const state = text === null ? null : await parseState(text, file)
  const journalSeq = state?.journalSeq ?? 0
  const leaseJournal = await loadJournal(fs, join(dir, LEASE_FILE), journalSeq)
  // Records written without sync can all be torn by a power loss; a lease record then stands in.
  const journal = await loadJournal(fs, join(dir, JOURNAL_FILE), journalSeq, leaseJournal.newestSeq > 0)
  const files = new Map<string, FileCheckpoint>(Object.entries(state?.files ?? {}))
  const pending = new Set<string>()
  // The newest record beyond state.json, from either journal (a lease record holds the progress too).
  let newest: JournalRecord | null = null
  for (const r of [journal.newest, leaseJournal.newest]) if (r && (newest === null || r.seq > newest.seq)) newest = r
  for (const cp of newest?.cps ?? []) {
    files.set(cp.id, cp)
    pending.add(cp.id)
  }
  // Written since this boot: the page cache it went to was never lost, so it is exact. Otherwise a
  // record written without sync may be missing, and each file's lease bounds what may have left.
  const exact = bootId !== null && (newest ? newest.boot === bootId : state?.boot === bootId)
  const bound = new Map<string, number>()
  for (const [id, cp] of Object.entries(state?.files ?? {})) if (cp.leased !== undefined) bound.set(id, cp.leased)
  for (const [id, at] of leaseJournal.newest?.leases ?? []) bound.set(id, Math.max(at, bound.get(id) ?? 0))
  const leases = new Map<string, { at: number; from: number }>()
  if (bootId !== null) for (const [id, at] of bound) if (files.has(id)) leases.set(id, { at, from: files.get(id)!.dispatched })
  if (!exact) {
    for (const [id, at] of bound) {
      const cp = files.get(id)
      if (!cp || at <= cp.dispatched) continue
      // As after a crash: the whole range may have been sent.
      const { stoppedCleanly: _s, unsent: _u, ...rest } = cp
      files.set(id, { ...rest, dispatched: at })
      pending.add(id)
    }
  }
  for (const [id, cp] of files) {
    if (cp.leased === undefined) continue
    const { leased: _l, ...rest } = cp
    files.set(id, rest)
  }
  return {
    file,
    files,
    pending: [...pending],
    seq: Math.max(journalSeq, journal.newestSeq, leaseJournal.newestSeq),
    journal,
    leaseJournal,
    leases,
  }
}

/** Reads a journal; its newest record is parsed only when newer than `since` (state.json's journalSeq). */
async function loadJournal(fs: FsPromises, file: string, since: number, allTornOk = false): Promise<LoadedJournal> {
  const aside = `move it aside (mv ${file} ${file}.bad) to continue from state.json alone (lines sent after its last save can then be sent again)`
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { file, slotSeqs: [], newestSeq: 0, newest: null }
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
  const newestSeq = newest?.seq ?? 0
  return { file, slotSeqs, newestSeq, newest: newest && newest.seq > since ? await parseJournalRecord(newest.payload, newest.seq, file) : null }
}
