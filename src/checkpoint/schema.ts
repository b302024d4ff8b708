// What the state files hold, and how a damaged one is told: the checkpoint of one log file, the
// state.json document, and a progress/lease journal record's payload, each as a zod schema; a file
// that does not match is a StateError whose one line names the file, the entry, the field and the
// way out (never a silent reset: starting over re-sends every line).
//
// zod is imported only when something must be validated, not with this module: importing it and
// checking a first state costs more than the rest of a run's start-up, and most runs need neither.
// A state.json carries the checksum of what the store wrote (`checksum`); a file whose content still
// matches it is the store's own, validated when it was loaded and typed since. Hand-edited, damaged
// and unchecksummed (older builds) files go through the schema.
import { crc32 } from 'node:zlib'
import type * as Z from 'zod'

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

/** state.json as written: the state, then `checksum` (CRC-32 of the state's compact JSON), by
 *  which loading knows the store's own unchanged output. Older builds ignore it. */
export function stateText(state: StateFile): string {
  return `${JSON.stringify({ ...state, checksum: checksumOf(state) }, null, 1)}\n`
}

function checksumOf(state: unknown): string {
  return `crc32:${crc32(JSON.stringify(state)).toString(16).padStart(8, '0')}`
}

/** A progress or lease journal record, as loading uses it. */
export interface JournalRecord {
  seq: number
  /** One checkpoint, or several when followed files shared the record. */
  cps: FileCheckpoint[]
  /** The boot id the record was written under (absent before leases). */
  boot?: string
  /** In lease records: per file, the offset up to which requests may have left. */
  leases: [string, number][]
}

export const STATE_VERSION = 1
export const STATE_FILE = 'state.json'

/** The state file can't be used. The message names the file and what to do; the tool must stop
 *  rather than start over on its own. */
export class StateError extends Error {
  override readonly name = 'StateError'
}

/** What a field must hold, for the message about a bad one. */
const EXPECTED: Record<string, string> = {
  id: 'a string',
  path: 'a string',
  updatedAt: 'a string',
  ackedTailHash: 'a string',
  boot: 'a string',
  gzip: 'true or false',
  complete: 'true or false',
  stoppedCleanly: 'true or false',
  doneAhead: 'a list of whole numbers',
  unsent: 'a list of whole numbers',
  leases: 'an object of offsets',
}
const OFFSET = 'a whole number >= 0'

function buildSchemas(z: typeof Z) {
  const offset = z.int().min(0)
  const checkpoint = z
    .looseObject({
      id: z.string(),
      path: z.string(),
      dev: offset,
      ino: offset,
      gzip: z.boolean(),
      size: offset,
      acked: offset,
      dispatched: offset,
      doneAhead: z.array(z.int()),
      ackedTailHash: z.string().optional(),
      tailHashAt: offset.optional(),
      ackedLine: offset,
      stoppedCleanly: z.boolean().optional(),
      unsent: z.array(z.int()).optional(),
      complete: z.boolean().optional(),
      updatedAt: z.string(),
      leased: offset.optional(),
    })
    .superRefine((cp, ctx) => {
      if (cp.dispatched < cp.acked) ctx.addIssue({ code: 'custom', path: ['dispatched'], message: 'has dispatched < acked' })
      if (cp.tailHashAt !== undefined && cp.tailHashAt > cp.acked)
        ctx.addIssue({ code: 'custom', path: ['tailHashAt'], message: 'has a bad "tailHashAt" (beyond "acked")' })
    })
  const state = z
    .looseObject({
      version: z.literal(STATE_VERSION),
      journalSeq: offset.optional(),
      boot: z.string().optional(),
      files: z.record(z.string(), checkpoint),
    })
    .superRefine((s, ctx) => {
      for (const [key, cp] of Object.entries(s.files))
        if (cp.id !== key) ctx.addIssue({ code: 'custom', path: ['files', key, 'id'], message: 'has an id different from its key' })
    })
  // A record holds several checkpoints (with the boot and, in lease records, the leases).
  const record = z.looseObject({ files: z.array(checkpoint), boot: z.string().optional(), leases: z.record(z.string(), offset).optional() })
  return { checkpoint, state, record }
}

// What loading returns is a FileCheckpoint, and every FileCheckpoint the store writes passes the schema.
type Schemas = ReturnType<typeof buildSchemas>
type Holds<T extends true> = T
type _LoadedIsCheckpoint = Holds<Z.output<Schemas['checkpoint']> extends FileCheckpoint ? true : false>
type _CheckpointIsAccepted = Holds<Pick<FileCheckpoint, keyof FileCheckpoint> extends Z.input<Schemas['checkpoint']> ? true : false>

let loading: Promise<Schemas> | undefined
function schemas(): Promise<Schemas> {
  return (loading ??= import('zod').then(buildSchemas))
}

/** Parses and checks state.json text; throws StateError for anything but a valid version-1 state. */
export async function parseState(text: string, file: string): Promise<StateFile> {
  const aside = `move it aside (mv ${file} ${file}.bad) to start over (logs are then read as on a first run, so lines already sent can be sent again)`
  if (text.trim() === '') throw new StateError(`state file ${file} is empty (interrupted write?); ${aside}`)
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new StateError(`state file ${file} is not valid JSON (truncated or edited?); ${aside}`)
  }
  if (!isObject(raw)) throw new StateError(`state file ${file} does not hold a state object; ${aside}`)
  // Before the schema: a newer version may hold anything.
  if (raw.version !== STATE_VERSION) {
    const v = typeof raw.version === 'number' ? `version ${raw.version}` : 'no version'
    throw new StateError(`state file ${file} has ${v}, this swetrix-ingest reads version ${STATE_VERSION}; use the swetrix-ingest that wrote it, or ${aside}`)
  }
  const { checksum, ...state } = raw
  if (checksum === checksumOf(state)) return state as unknown as StateFile
  const parsed = (await schemas()).state.safeParse(state)
  if (parsed.success) return parsed.data as StateFile
  const issue = parsed.error.issues[0]!
  const [top, key, ...field] = issue.path.map(String)
  if (top === 'files' && key === undefined) throw new StateError(`state file ${file} has no "files" object; ${aside}`)
  if (top !== 'files') throw new StateError(`state file ${file} ${fieldProblem(issue, raw, [top!])}; ${aside}`)
  throw new StateError(`state file ${file}: entry ${JSON.stringify(key)} ${fieldProblem(issue, (raw.files as Record<string, unknown>)[key!], field)}; ${aside}`)
}

/** Parses and checks the payload of journal record `seq` of `file`; throws StateError if it is not one. */
export async function parseJournalRecord(payload: string, seq: number, file: string): Promise<JournalRecord> {
  const aside = `move it aside (mv ${file} ${file}.bad) to continue from state.json alone (lines sent after its last save can then be sent again)`
  let raw: unknown = null
  try {
    raw = JSON.parse(payload)
  } catch {
    // A checksummed record that is not JSON: reported as not an object below.
  }
  const problem = (where: string, what: string) => new StateError(`progress journal ${file}: record ${seq}${where} ${what}; ${aside}`)
  if (!isObject(raw)) throw problem('', 'is not an object')
  const { record, checkpoint } = await schemas()
  // One bare checkpoint: a record written before group commit.
  if (!Array.isArray(raw.files)) {
    const bare = checkpoint.safeParse(raw)
    if (bare.success) return { seq, cps: [bare.data as FileCheckpoint], leases: [] }
    const issue = bare.error.issues[0]!
    throw problem('', fieldProblem(issue, raw, issue.path.map(String), true))
  }
  const parsed = record.safeParse(raw)
  if (parsed.success) {
    const { files, boot, leases } = parsed.data
    return { seq, cps: files as FileCheckpoint[], ...(boot !== undefined ? { boot } : {}), leases: Object.entries(leases ?? {}) }
  }
  const issue = parsed.error.issues[0]!
  const [top, index, ...field] = issue.path.map(String)
  if (top === 'leases') throw problem('', 'has bad "leases"')
  if (top !== 'files' || index === undefined) throw problem('', fieldProblem(issue, raw, [top ?? '']))
  const entry = (raw.files as unknown[])[Number(index)]
  const id = isObject(entry) && typeof entry.id === 'string' ? JSON.stringify(entry.id) : index
  throw problem(`, entry ${id},`, fieldProblem(issue, entry, field, true))
}

/** The phrase for the first problem of one object (`path`: the issue's path inside it). */
function fieldProblem(issue: Z.core.$ZodIssue, value: unknown, path: string[], inJournal = false): string {
  if (issue.code === 'custom') return issue.message
  const name = path[0]
  if (name === undefined || path[0] === '') return 'is not an object'
  if (name === 'id' && inJournal) return 'has no id'
  if (isObject(value) && value[name] === undefined) return `lacks "${name}"`
  return `has a bad "${name}" (expected ${EXPECTED[name] ?? OFFSET})`
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
