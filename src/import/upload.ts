// Uploads import files to Swetrix Data Import one at a time (one active import per project) and
// waits for each to finish. Credentials come from the environment and stay in memory.
// Never twice: before each upload request the ledger durably records `started`; a rerun that finds
// `started` without an import id first looks for an import the server created since then (same
// date range), and adopts it instead of uploading again.
import { openAsBlob } from 'node:fs'
import { FormData, request } from 'undici'
import type { ImportLedger, LedgerFile } from './ledger.js'

export class UploadError extends Error {
  override readonly name = 'DeliveryError'
}

export interface Credentials {
  token?: string
  email?: string
  password?: string
}

export interface ImportRecord {
  id: string | number
  status: 'pending' | 'processing' | 'completed' | 'failed'
  dateFrom?: string | null
  dateTo?: string | null
  totalRows?: number | null
  importedRows?: number | null
  errorMessage?: string | null
  createdAt?: string
}

export interface UploaderOptions {
  /** API origin and prefix, e.g. `https://api.swetrix.com` or `https://HOST/backend`. */
  apiBase: string
  projectId: string
  credentials: Credentials
  ledger: ImportLedger
  /** First poll interval (doubles up to 5 s). */
  pollMs?: number
  /** How long to wait for an import to finish (default 6 h). */
  maxWaitMs?: number
  onStatus?: (file: LedgerFile, status: string) => void
  now?: () => number
}

export function credentialsFromEnv(env: NodeJS.ProcessEnv): Credentials | null {
  if (env.SWETRIX_TOKEN) return { token: env.SWETRIX_TOKEN }
  if (env.SWETRIX_EMAIL && env.SWETRIX_PASSWORD) return { email: env.SWETRIX_EMAIL, password: env.SWETRIX_PASSWORD }
  return null
}

/** The API base for Data Import and auth from an Events API URL (`…/log`, `…/v1/log`). */
export function apiBaseFromLogUrl(logUrl: string): string {
  return logUrl.replace(/\/+$/, '').replace(/(?:\/v1)?\/log$/, '')
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const ACTIVE = new Set(['pending', 'processing'])

export class Uploader {
  private token: string | null
  constructor(private readonly o: UploaderOptions) {
    this.token = o.credentials.token ?? null
  }

  /** Uploads every ledger file not yet imported, oldest first. Returns how many were imported now. */
  async uploadAll(signal?: AbortSignal): Promise<number> {
    let n = 0
    for (const f of this.o.ledger.files) {
      if (signal?.aborted) break
      if (f.upload?.state === 'completed') continue
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

  private now(): number {
    return (this.o.now ?? Date.now)()
  }

  private async uploadOne(f: LedgerFile): Promise<void> {
    let id = f.upload?.importId
    if (id === undefined && f.upload?.state === 'started') {
      const adopted = await this.findStarted(f)
      if (adopted) id = adopted.id
    }
    if (id === undefined) {
      await this.waitIdle()
      f.upload = { state: 'started', startedAt: new Date(this.now()).toISOString() }
      await this.o.ledger.save()
      const rec = await this.post(f)
      id = rec.id
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
    const list = await this.api<ImportRecord[]>('GET', `/data-import/${this.o.projectId}`)
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
      const list = await this.api<ImportRecord[]>('GET', `/data-import/${this.o.projectId}`)
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
      const rec = await this.api<ImportRecord>('GET', `/data-import/${this.o.projectId}/${id}`)
      if (!ACTIVE.has(rec.status)) return rec
      if (this.now() > deadline) throw new UploadError(`import ${id} is still ${rec.status}; run again later to keep waiting`)
      await sleep(wait)
      wait = Math.min(wait * 2, 5000)
    }
  }

  private async post(f: LedgerFile): Promise<ImportRecord> {
    const form = new FormData()
    form.set('provider', 'simple-analytics')
    form.set('file', await openAsBlob(f.path, { type: 'text/csv' }), f.name)
    return this.api<ImportRecord>('POST', `/data-import/${this.o.projectId}/upload`, form)
  }

  private async login(): Promise<string> {
    const { email, password } = this.o.credentials
    if (!email || !password) throw new UploadError('the access token was refused (SWETRIX_TOKEN); set a valid token, or SWETRIX_EMAIL and SWETRIX_PASSWORD')
    const res = await request(`${this.o.apiBase}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    })
    const text = await res.body.text()
    if (res.statusCode !== 200 && res.statusCode !== 201) throw new UploadError(`login failed (HTTP ${res.statusCode}): ${serverMessage(text)}`)
    const token = (JSON.parse(text) as { accessToken?: string }).accessToken
    if (!token) throw new UploadError('login answered without an access token')
    return token
  }

  private async api<T>(method: 'GET' | 'POST', path: string, body?: FormData, retried = false): Promise<T> {
    this.token ??= await this.login()
    let res
    try {
      res = await request(`${this.o.apiBase}${path}`, { method, headers: { authorization: `Bearer ${this.token}` }, body })
    } catch (err) {
      throw new UploadError(`${method} ${path}: ${(err as Error).message}`)
    }
    const text = await res.body.text()
    if (res.statusCode === 401 && !retried && this.o.credentials.email) {
      this.token = null // expired (access tokens last 30 min): log in again
      return this.api(method, path, body, true)
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new UploadError(`${method} ${path}: HTTP ${res.statusCode}: ${serverMessage(text)}`)
    return JSON.parse(text) as T
  }
}

function serverMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message
    if (typeof m === 'string') return m
    if (Array.isArray(m)) return m.join('; ')
  } catch {
    // not JSON
  }
  return text.slice(0, 200)
}
