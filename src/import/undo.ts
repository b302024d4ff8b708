// Undoing an import: `DELETE /data-import/:pid/:importId` removes the import and its rows from
// Swetrix (its rows go in the background: ClickHouse deletes them as a mutation). The ledger's
// files of that import are marked `undone`, so a later `--upload` does not upload them again.
import type { DataImportClient, ImportRecord } from './data-import-client.js'
import { ACTIVE_STATUSES, DataImportAnswerError } from './data-import-client.js'
import type { ImportLedger, LedgerFile } from './ledger.js'
import { UsageError } from '../errors.js'
import { safeJson, safeText } from '../output/safe-text.js'

export interface UndoResult {
  /** The import as it was before it was deleted. */
  record: ImportRecord
  /** Ledger files that were this import (now marked undone). */
  files: LedgerFile[]
}

/** An import id as the API takes it (1-255 in the path). */
export function parseImportId(text: string): number {
  const t = text.trim()
  if (!/^\d{1,3}$/.test(t) || Number(t) < 1 || Number(t) > 255)
    throw new UsageError(`--undo-import ${text}: expected an import id, a whole number from 1 to 255 (Swetrix lists them in Project settings > Data import)`)
  return Number(t)
}

/** Deletes import `id` of the client's project and marks its ledger files undone. A missing
 *  import is a UsageError; one still pending or processing is refused by Swetrix (DeliveryError:
 *  try again when it has finished). */
export async function undoImport(client: DataImportClient, id: number, ledger: ImportLedger | null, now: () => number): Promise<UndoResult> {
  let record: ImportRecord
  try {
    record = await client.get(id)
  } catch (err) {
    if (err instanceof DataImportAnswerError && (err.status === 404 || err.status === 400))
      throw new UsageError(`project ${client.projectId} has no import ${id} (${err.serverMessage}); its imports are listed in Project settings > Data import`)
    throw err
  }
  if (ACTIVE_STATUSES.has(record.status)) throw new DataImportAnswerError(`import ${id} is still ${record.status}; undo it once it has finished`, 400, '')
  await client.delete(id)
  // Import ids are per project: a file written for another project is not this import.
  const ours = (f: LedgerFile) => f.project === undefined || f.project === client.projectId
  const files = (ledger?.files ?? []).filter(
    (f) => ours(f) && f.upload?.importId !== undefined && String(f.upload.importId) === String(id) && f.upload.state !== 'undone',
  )
  if (ledger !== null && files.length > 0) {
    const at = new Date(now()).toISOString()
    for (const f of files) f.upload = { ...f.upload!, state: 'undone', undoneAt: at }
    await ledger.save()
  }
  return { record, files }
}

export interface UndoFlags {
  undoImport: string
  project?: string
  apiUrl: string
  stateDir: string
  json?: boolean
  dryRun?: boolean
}

/** `backfill --undo-import ID`: deletes the import, reports it; exit code 0. */
export async function runUndoImport(
  files: readonly string[],
  flags: UndoFlags,
  io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv; now: () => number },
): Promise<number> {
  const id = parseImportId(flags.undoImport)
  if (files.length > 0) throw new UsageError('--undo-import takes no log files: it deletes an import that is already in Swetrix')
  if (flags.dryRun) throw new UsageError('--undo-import changes Swetrix; it has no --dry-run (its imports are listed in Project settings > Data import)')
  const { validateProjectId } = await import('../options.js')
  const pid = validateProjectId(flags.project, true)
  const { apiBaseFromLogUrl, credentialsFromEnv, DataImportClient } = await import('./data-import-client.js')
  const credentials = credentialsFromEnv(io.env)
  if (credentials === null) throw new UsageError('--undo-import needs SWETRIX_TOKEN, or SWETRIX_EMAIL and SWETRIX_PASSWORD, in the environment')
  if (!/^https?:\/\/[^/]/.test(flags.apiUrl)) throw new UsageError(`--api-url ${flags.apiUrl}: not an http(s) URL (expected e.g. https://api.swetrix.com/log)`)
  const client = new DataImportClient({ apiBase: apiBaseFromLogUrl(flags.apiUrl), projectId: pid, credentials })
  const { acquireLock } = await import('../checkpoint/lock.js')
  const { ImportLedger } = await import('./ledger.js')
  const { existsSync } = await import('node:fs')
  // The ledger is updated under the state lock, so a running backfill cannot overwrite it.
  const lock = existsSync(flags.stateDir) ? await acquireLock(flags.stateDir) : null
  try {
    const ledger = lock === null ? null : await ImportLedger.open(flags.stateDir)
    const { record, files: marked } = await undoImport(client, id, ledger, io.now)
    const range = record.dateFrom || record.dateTo ? ` (${String(record.dateFrom ?? '?').slice(0, 10)} .. ${String(record.dateTo ?? '?').slice(0, 10)})` : ''
    const rows = typeof record.importedRows === 'number' ? `, ${record.importedRows} rows` : ''
    if (flags.json)
      io.stdout.write(
        safeJson({
          undone: {
            projectId: pid,
            importId: id,
            status: record.status,
            dateFrom: record.dateFrom ?? null,
            dateTo: record.dateTo ?? null,
            importedRows: record.importedRows ?? null,
          },
          ledgerFiles: marked.map((f) => f.name),
        }) + '\n',
      )
    else {
      io.stdout.write(`deleted import ${id} of project ${pid}${safeText(range)}${rows}; Swetrix removes its rows in the background\n`)
      for (const f of marked)
        io.stdout.write(`  ${safeText(f.name)}: marked undone in imports.json (a later --upload leaves it out; remove its entry there to upload it again)\n`)
    }
    return 0
  } finally {
    await lock?.release()
  }
}
