// Uploads import files to Swetrix Data Import one at a time (one active import per project) and
// waits for each to finish. Credentials come from the environment and stay in memory.
// Never twice: before each upload request the ledger durably records `started`; a rerun that finds
// `started` without an import id first looks for an import the server created since then (same
// date range), and adopts it instead of uploading again.
// Before the first upload it says how many of the project's 255 import ids the files will use
// (and stops when there are not enough), and warns when their time range already holds imported
// data (the same logs imported before, or by another tool).
import type { ImportLedger, LedgerFile } from './ledger.js'
import { ACTIVE_STATUSES as ACTIVE, DataImportClient, importIdOf, MAX_IMPORTS, UploadError, type Credentials, type ImportRecord } from './data-import-client.js'

export { UploadError, credentialsFromEnv, apiBaseFromLogUrl, type Credentials, type ImportRecord } from './data-import-client.js'

export interface UploaderOptions {
  /** API origin and prefix, e.g. `https://api.swetrix.com` or `https://HOST/backend`. */
  apiBase: string
  projectId: string
  credentials: Credentials
  ledger: ImportLedger
  /** The ledger files that belong to this project (default: those written for it or for no
   *  particular project). */
  select?: (file: LedgerFile) => boolean
  /** First poll interval (doubles up to 5 s). */
  pollMs?: number
  /** How long to wait for an import to finish (default 6 h). */
  maxWaitMs?: number
  onStatus?: (file: LedgerFile, status: string) => void
  /** One line for the user before the uploads start: the import ids used, an overlap. */
  onNote?: (message: string) => void
  now?: () => number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Files still to upload: not imported yet, and not undone (`--undo-import`) since. */
export function pendingFiles(files: readonly LedgerFile[]): LedgerFile[] {
  return files.filter((f) => f.upload?.state !== 'completed' && f.upload?.state !== 'undone')
}

/** What the uploads will do to the project's imports, before any of them: how many new import ids
 *  they take (one per file not uploaded yet) and how many are in use. Pure. */
export function importIdPlan(pending: readonly LedgerFile[], imports: readonly ImportRecord[]): { newImports: number; inUse: number; fits: boolean } {
  const newImports = pending.filter((f) => f.upload?.importId === undefined).length
  const inUse = imports.length
  return { newImports, inUse, fits: inUse + newImports <= MAX_IMPORTS }
}

export class Uploader {
  private readonly client: DataImportClient
  constructor(private readonly o: UploaderOptions) {
    this.client = new DataImportClient({ apiBase: o.apiBase, projectId: o.projectId, credentials: o.credentials })
  }

  /** Uploads every ledger file not yet imported, oldest first. Returns how many were imported now. */
  async uploadAll(signal?: AbortSignal): Promise<number> {
    const pid = this.o.projectId
    const select = this.o.select ?? ((f: LedgerFile) => f.project === undefined || f.project === pid)
    const pending = pendingFiles(this.o.ledger.files.filter(select))
    if (pending.length > 0 && !signal?.aborted) await this.preflight(pending)
    let n = 0
    for (const f of pending) {
      if (signal?.aborted) break
      if (f.upload?.state === 'failed') {
        throw new UploadError(
          `${f.name}: its import failed earlier (${f.upload.errorMessage ?? 'no message'}); delete the import in Swetrix and remove the file's entry from ${this.o.ledger.file} to try again`,
        )
      }
      await this.uploadOne(f)
      n++
    }
    return n
  }

  /** The import ids the files take, and data already imported in their time range. */
  private async preflight(pending: LedgerFile[]): Promise<void> {
    const imports = await this.client.list()
    const plan = importIdPlan(pending, imports)
    const pid = this.o.projectId
    if (!plan.fits)
      throw new UploadError(
        `uploading would need ${plan.newImports} import id(s), but project ${pid} has ${imports.length} of ${MAX_IMPORTS} in use; ` +
          `delete imports you no longer need (swetrix-ingest backfill -p ${pid} --undo-import ID, or in Swetrix), or write fewer, larger files (--max-file-size)`,
      )
    if (plan.newImports > 0)
      this.o.onNote?.(
        `uploading ${plan.newImports} file(s): each becomes one import and uses one of the project's ${MAX_IMPORTS} import ids (${plan.inUse} in use, ${MAX_IMPORTS - plan.inUse - plan.newImports} left after)`,
      )
    const fresh = pending.filter((f) => f.upload?.importId === undefined)
    if (fresh.length === 0) return
    const from = Math.min(...fresh.map((f) => Date.parse(f.from)))
    const to = Math.max(...fresh.map((f) => Date.parse(f.to)))
    if (await this.client.hasImportedData(from, to))
      this.o.onNote?.(
        `warning: project ${pid} already has imported data between ${iso(from)} and ${iso(to)} (these logs imported before, or another import): ` +
          `the new rows are added beside it, not instead; to remove an import: swetrix-ingest backfill -p ${pid} --undo-import ID`,
      )
  }

  private now(): number {
    return (this.o.now ?? Date.now)()
  }

  private async uploadOne(f: LedgerFile): Promise<void> {
    let id = f.upload?.importId
    if (id === undefined && f.upload?.state === 'started') {
      const adopted = await this.findStarted(f)
      if (adopted) id = importIdOf(adopted)
    }
    if (id === undefined) {
      await this.waitIdle()
      f.upload = { state: 'started', startedAt: new Date(this.now()).toISOString() }
      await this.o.ledger.save()
      const rec = await this.client.upload(f.path, f.name)
      id = importIdOf(rec)
    }
    f.upload = { ...(f.upload ?? { startedAt: new Date(this.now()).toISOString() }), state: 'uploaded', importId: id }
    await this.o.ledger.save()
    this.o.onStatus?.(f, 'uploaded')
    const done = await this.waitFor(id)
    f.upload = { ...f.upload, state: done.status === 'completed' ? 'completed' : 'failed', finishedAt: new Date(this.now()).toISOString() }
    if (done.status === 'failed') f.upload.errorMessage = done.errorMessage ?? 'import failed'
    await this.o.ledger.save()
    this.o.onStatus?.(f, done.status)
    if (done.status === 'failed') throw new UploadError(`${f.name}: Swetrix could not import it: ${done.errorMessage ?? 'no message'}`)
  }

  /** An import the server created since this file's upload started, with the file's dates. */
  private async findStarted(f: LedgerFile): Promise<ImportRecord | null> {
    const list = await this.client.list()
    const since = Date.parse(f.upload!.startedAt) - 60_000
    const from = f.from.slice(0, 10)
    const to = f.to.slice(0, 10)
    for (const r of list) {
      const created = r.createdAt ? Date.parse(r.createdAt) : NaN
      if (!(created >= since)) continue
      if (ACTIVE.has(r.status)) return r // our upload, still running
      if (String(r.dateFrom ?? '').slice(0, 10) === from && String(r.dateTo ?? '').slice(0, 10) === to && (r.totalRows ?? f.rows) === f.rows) return r
    }
    return null
  }

  /** Waits while another import of the project is pending or processing. */
  private async waitIdle(): Promise<void> {
    const deadline = this.now() + (this.o.maxWaitMs ?? 6 * 3600_000)
    let wait = this.o.pollMs ?? 1000
    for (;;) {
      const list = await this.client.list()
      if (!list.some((r) => ACTIVE.has(r.status))) return
      if (this.now() > deadline) throw new UploadError('another import of this project is still in progress; try again later')
      await sleep(wait)
      wait = Math.min(wait * 2, 5000)
    }
  }

  private async waitFor(id: string | number): Promise<ImportRecord> {
    const deadline = this.now() + (this.o.maxWaitMs ?? 6 * 3600_000)
    let wait = this.o.pollMs ?? 1000
    for (;;) {
      const rec = await this.client.get(id)
      if (!ACTIVE.has(rec.status)) return rec
      if (this.now() > deadline) throw new UploadError(`import ${id} is still ${rec.status}; run again later to keep waiting`)
      await sleep(wait)
      wait = Math.min(wait * 2, 5000)
    }
  }
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
