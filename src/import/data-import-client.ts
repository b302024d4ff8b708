// Swetrix's Data Import API for one project (reference §10): list, read, upload, delete imports,
// and ask whether a time range already holds imported data. JWT auth: a token from the
// environment, or a login with e-mail and password (again when the 30-minute token expires).
// Credentials stay in memory.
import { openAsBlob } from 'node:fs'
import { FormData, request } from 'undici'

export class UploadError extends Error {
  override readonly name: string = 'DeliveryError'
}

/** The API answered with an error status (its message included). */
export class DataImportAnswerError extends UploadError {
  constructor(
    message: string,
    readonly status: number,
    readonly serverMessage: string,
  ) {
    super(message)
  }
}

export interface Credentials {
  token?: string
  email?: string
  password?: string
}

export interface ImportRecord {
  id: string | number
  /** Swetrix Cloud: the per-project id (1-255) that the URLs take; `id` is its database row. */
  importId?: number
  status: 'pending' | 'processing' | 'completed' | 'failed'
  dateFrom?: string | null
  dateTo?: string | null
  totalRows?: number | null
  importedRows?: number | null
  errorMessage?: string | null
  createdAt?: string
}

/** The id an import is addressed by in `/data-import/:projectId/:importId`. */
export function importIdOf(r: ImportRecord): string | number {
  return r.importId ?? r.id
}

export const ACTIVE_STATUSES: ReadonlySet<string> = new Set(['pending', 'processing'])

/** How many imports a project can hold: ids 1-255, the lowest free one reused. */
export const MAX_IMPORTS = 255

export interface DataImportClientOptions {
  /** API origin and prefix, e.g. `https://api.swetrix.com` or `https://HOST/backend`. */
  apiBase: string
  projectId: string
  credentials: Credentials
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

/** `2026-01-26 08:14:03`: a ClickHouse DateTime (UTC, seconds), as `has-imported-data` takes it. */
export function clickHouseDateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19).replace('T', ' ')
}

export class DataImportClient {
  private token: string | null
  constructor(private readonly o: DataImportClientOptions) {
    this.token = o.credentials.token ?? null
  }

  get projectId(): string {
    return this.o.projectId
  }

  /** The project's imports, newest first. */
  list(): Promise<ImportRecord[]> {
    return this.api<ImportRecord[]>('GET', `/data-import/${this.o.projectId}`)
  }

  get(id: string | number): Promise<ImportRecord> {
    return this.api<ImportRecord>('GET', `/data-import/${this.o.projectId}/${encodeURIComponent(String(id))}`)
  }

  /** Uploads a Simple Analytics CSV file; the answer is the new import (pending). */
  async upload(path: string, name: string): Promise<ImportRecord> {
    const form = new FormData()
    form.set('provider', 'simple-analytics')
    form.set('file', await openAsBlob(path, { type: 'text/csv' }), name)
    return this.api<ImportRecord>('POST', `/data-import/${this.o.projectId}/upload`, form)
  }

  /** Deletes an import and its rows (refused while it is pending or processing). */
  async delete(id: string | number): Promise<void> {
    await this.api<unknown>('DELETE', `/data-import/${this.o.projectId}/${encodeURIComponent(String(id))}`)
  }

  /** Whether imported pageviews exist between the two times (inclusive, UTC, to the second). */
  async hasImportedData(fromMs: number, toMs: number): Promise<boolean> {
    const q = new URLSearchParams({ from: clickHouseDateTime(fromMs), to: clickHouseDateTime(toMs) })
    const answer = await this.api<{ hasImportedData?: unknown }>('GET', `/data-import/${this.o.projectId}/has-imported-data?${q.toString()}`)
    return answer.hasImportedData === true
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

  private async api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: FormData, retried = false): Promise<T> {
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
    if (res.statusCode < 200 || res.statusCode > 299) {
      const message = serverMessage(text)
      throw new DataImportAnswerError(`${method} ${path.replace(/\?.*$/, '')}: HTTP ${res.statusCode}: ${message}`, res.statusCode, message)
    }
    return (text === '' ? {} : JSON.parse(text)) as T
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
