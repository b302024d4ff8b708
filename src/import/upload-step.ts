// `--upload`: the ledger's files not yet imported go to their project's Data Import, one project
// after the other (each with its own check of import ids and of data already imported).
import type { SendSettings } from '../runtime/event-sink.js'
import type { ImportLedger, LedgerFile } from './ledger.js'
import type { Credentials } from './data-import-client.js'

export interface UploadStepOptions {
  send: SendSettings
  credentials: Credentials
  ledger: ImportLedger
  /** Each project and the ledger files that belong to it. */
  projects: readonly { projectId: string; select?: (f: LedgerFile) => boolean }[]
  env: NodeJS.ProcessEnv
  note: (text: string) => void
  signal: AbortSignal
}

/** Files imported now, per project (in the order given). */
export async function uploadPending(o: UploadStepOptions): Promise<Map<string, number>> {
  const { apiBaseFromLogUrl, Uploader } = await import('./upload.js')
  const uploaded = new Map<string, number>()
  for (const p of o.projects) {
    if (o.signal.aborted) break
    // Several projects: each line says which one it is about (the file names are the same in each).
    const say = p.select ? (text: string) => o.note(`project ${p.projectId}: ${text}`) : o.note
    const uploader = new Uploader({
      apiBase: apiBaseFromLogUrl(o.send.apiUrl),
      projectId: p.projectId,
      credentials: o.credentials,
      ledger: o.ledger,
      ...(p.select ? { select: p.select } : {}),
      pollMs: Number(o.env.SWETRIX_INGEST_POLL_MS) || undefined,
      onStatus: (f, status) => say(`${f.name}: ${status}`),
      onNote: say,
    })
    uploaded.set(p.projectId, await uploader.uploadAll(o.signal))
  }
  return uploaded
}
