// Swetrix Data Import in the test API (reference §10): login, upload (multipart), import status
// (pending -> processing -> completed | failed), list, delete, has-imported-data, validating Simple Analytics CSV
// files as Swetrix's importer does: csv-parse with its options, required columns, the added_iso
// pattern, field lengths, 100 MB, one active import per project. Rows the importer would skip
// silently are counted here (`skippedRows`) so tests can require none.
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { parse } from 'csv-parse/sync'

export interface DataImportOptions {
  email?: string
  password?: string
  /** Default 100 MB (multer's fileSize limit). */
  maxFileBytes?: number
  /** Time an import stays pending, then processing (default 20 ms each). */
  stepMs?: number
  /** Every import fails with this message (as Swetrix reports a processing error). */
  failWith?: string
}

export interface ImportedRow {
  created: string
  type: 'pageview' | 'custom_event'
  eventName: string | null
  psid: string
  pg: string | null
  host: string | null
  ref: string | null
  so: string | null
  me: string | null
  ca: string | null
  te: string | null
  co: string | null
  br: string | null
  brv: string | null
  os: string | null
  osv: string | null
  dv: string
  cc: string | null
  lc: string | null
}

export interface ImportRecord {
  id: number
  projectId: string
  provider: string
  status: 'pending' | 'processing' | 'completed' | 'failed'
  dateFrom: string | null
  dateTo: string | null
  totalRows: number | null
  importedRows: number | null
  invalidRows: number
  errorMessage: string | null
  createdAt: string
  finishedAt: string | null
  version: number
  /** Test API only: the uploaded file's name, rows the importer skipped, and the stored rows. */
  fileName: string
  skippedRows: number
  rows: ImportedRow[]
}

export interface DataImportApi {
  /** Returns true when it answered the request. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean
  imports(projectId?: string): ImportRecord[]
  reset(): void
}

const REQUIRED = ['added_iso', 'datapoint', 'session_id']
const ADDED_ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$/
const ACTIVE = new Set(['pending', 'processing'])

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
const fail = (res: ServerResponse, status: number, message: string) => send(res, status, { statusCode: status, message })

export function createDataImport(o: DataImportOptions = {}): DataImportApi {
  const maxBytes = o.maxFileBytes ?? 100 * 1024 * 1024
  const stepMs = o.stepMs ?? 20
  const tokens = new Set<string>()
  let records: ImportRecord[] = []
  let nextId = 1

  function authorised(req: IncomingMessage, res: ServerResponse): boolean {
    const h = req.headers.authorization ?? ''
    const token = h.startsWith('Bearer ') ? h.slice(7) : ''
    if (!tokens.has(token)) {
      fail(res, 401, 'Unauthorized')
      return false
    }
    return true
  }

  function readBody(req: IncomingMessage, limit: number, done: (body: Buffer | null) => void): void {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) over = true
      else chunks.push(c)
    })
    req.on('end', () => done(over ? null : Buffer.concat(chunks)))
    req.on('error', () => done(null))
  }

  function login(req: IncomingMessage, res: ServerResponse): void {
    readBody(req, 64 * 1024, (body) => {
      let creds: { email?: unknown; password?: unknown }
      try {
        creds = JSON.parse(body?.toString('utf8') ?? '{}') as { email?: unknown; password?: unknown }
      } catch {
        return fail(res, 400, 'Bad Request')
      }
      if (o.email === undefined || creds.email !== o.email || creds.password !== o.password) return fail(res, 409, 'Invalid credentials')
      const accessToken = randomBytes(16).toString('hex')
      tokens.add(accessToken)
      send(res, 200, { accessToken, refreshToken: randomBytes(16).toString('hex'), user: { email: o.email } })
    })
  }

  function upload(req: IncomingMessage, res: ServerResponse, projectId: string): void {
    // The multipart envelope adds a few hundred bytes around the file.
    // A rejection here must answer, not become an unhandled rejection of the server process.
    readBody(req, maxBytes + 64 * 1024, (body) => {
      receive(body).catch(() => fail(res, 500, 'Internal Server Error'))
    })
    async function receive(body: Buffer | null): Promise<void> {
      if (body === null) return fail(res, 413, 'File too large')
      let form: FormData
      try {
        form = await new Response(body, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData()
      } catch {
        return fail(res, 400, 'No file uploaded')
      }
      const provider = form.get('provider')
      const file = form.get('file')
      if (provider !== 'simple-analytics' && provider !== 'umami' && provider !== 'fathom' && provider !== 'plausible')
        return fail(res, 400, 'Invalid provider')
      if (file === null || typeof file === 'string') return fail(res, 400, 'No file uploaded')
      if (file.size > maxBytes) return fail(res, 413, 'File too large')
      const ext = (file.name.toLowerCase().match(/\.[^.]*$/) ?? [''])[0]
      if (ext !== (provider === 'simple-analytics' || provider === 'fathom' ? '.csv' : '.zip')) return fail(res, 400, 'Invalid file type for this provider')
      if (records.some((r) => r.projectId === projectId && ACTIVE.has(r.status)))
        return fail(res, 400, 'An import is already in progress for this project. Please wait for it to complete before starting a new one.')
      const rec: ImportRecord = {
        id: nextId++,
        projectId,
        provider,
        status: 'pending',
        dateFrom: null,
        dateTo: null,
        totalRows: null,
        importedRows: null,
        invalidRows: 0,
        errorMessage: null,
        createdAt: new Date().toISOString(),
        finishedAt: null,
        version: 1,
        fileName: file.name,
        skippedRows: 0,
        rows: [],
      }
      records.push(rec)
      const text = Buffer.from(await file.arrayBuffer()).toString('utf8')
      setTimeout(() => {
        rec.status = 'processing'
        setTimeout(() => processImport(rec, text), stepMs)
      }, stepMs)
      send(res, 201, publicRecord(rec))
    }
  }

  function processImport(rec: ImportRecord, text: string): void {
    try {
      if (o.failWith !== undefined) throw new Error(o.failWith)
      const rows = importSimpleAnalytics(text)
      rec.rows = rows.rows
      rec.skippedRows = rows.skipped
      rec.totalRows = rec.importedRows = rows.rows.length
      const days = rows.rows.map((r) => r.created.slice(0, 10)).sort()
      rec.dateFrom = days[0] ?? null
      rec.dateTo = days.at(-1) ?? null
      rec.status = 'completed'
    } catch (err) {
      rec.status = 'failed'
      rec.errorMessage = (err as Error).message
    }
    rec.finishedAt = new Date().toISOString()
  }

  /** `GET /data-import/:pid/has-imported-data?from&to`: imported pageviews with from <= created <= to
   *  (ClickHouse DateTime, UTC). Missing bounds: 400; a bound ClickHouse cannot read: 500. */
  function hasImportedData(req: IncomingMessage, res: ServerResponse, projectId: string): void {
    const q = new URL(req.url ?? '/', 'http://x').searchParams
    const from = q.get('from')
    const to = q.get('to')
    if (!from || !to) return fail(res, 400, '"from" and "to" query params are required')
    const fromMs = clickHouseTime(from)
    const toMs = clickHouseTime(to)
    if (fromMs === null || toMs === null) return fail(res, 500, 'Internal server error')
    const has = records.some(
      (r) =>
        r.projectId === projectId &&
        r.rows.some((row) => {
          const t = Date.parse(row.created)
          return row.type === 'pageview' && t >= fromMs && t <= toMs
        }),
    )
    send(res, 200, { hasImportedData: has })
  }

  function handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const method = req.method
    if (path === '/v1/auth/login' && method === 'POST') {
      login(req, res)
      return true
    }
    const m = /^\/data-import\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path)
    if (m === null) return false
    if (!authorised(req, res)) return true
    const projectId = m[1]!
    if (m[2] === 'upload' && m[3] === undefined && method === 'POST') {
      upload(req, res, projectId)
      return true
    }
    if (m[3] !== undefined) return false
    if (m[2] === 'has-imported-data' && method === 'GET') {
      hasImportedData(req, res, projectId)
      return true
    }
    if (m[2] === undefined && method === 'GET') {
      send(
        res,
        200,
        records
          .filter((r) => r.projectId === projectId)
          .reverse()
          .map(publicRecord),
      )
      return true
    }
    // Nest's ParseIntPipe on :importId.
    if ((method === 'GET' || method === 'DELETE') && m[2] !== undefined && !/^-?\d+$/.test(m[2])) {
      fail(res, 400, 'Validation failed (numeric string is expected)')
      return true
    }
    const rec = records.find((r) => r.projectId === projectId && String(r.id) === m[2])
    if (method === 'GET' || method === 'DELETE') {
      if (rec === undefined) {
        fail(res, 404, 'Import not found')
        return true
      }
      if (method === 'GET') send(res, 200, publicRecord(rec))
      else if (ACTIVE.has(rec.status)) fail(res, 400, 'Cannot delete an import that is still in progress.')
      else {
        records = records.filter((r) => r !== rec)
        send(res, 200, { success: true })
      }
      return true
    }
    return false
  }

  return {
    handle,
    imports: (projectId) => records.filter((r) => projectId === undefined || r.projectId === projectId),
    reset() {
      records = []
    },
  }
}

function publicRecord(r: ImportRecord): Omit<ImportRecord, 'rows' | 'fileName' | 'skippedRows'> {
  const { rows: _r, fileName: _f, skippedRows: _s, ...pub } = r
  return pub
}

/** `2026-01-01 00:00:00` or `2026-01-01` (UTC) in ms; null for anything else. */
function clickHouseTime(text: string): number | null {
  const m = /^(\d{4}-\d{2}-\d{2})(?: (\d{2}:\d{2}:\d{2}))?$/.exec(text)
  if (m === null) return null
  const t = Date.parse(`${m[1]}T${m[2] ?? '00:00:00'}Z`)
  return Number.isNaN(t) ? null : t
}

const nullable = (v: unknown): string | null => (typeof v !== 'string' || v === '' || v === '\\N' ? null : v)
const cut = (v: string | null, n: number): string | null => (v === null ? null : v.slice(0, n))

/** Swetrix's Simple Analytics mapper (reference §10.5). Throws the importer's messages. */
export function importSimpleAnalytics(text: string): { rows: ImportedRow[]; skipped: number } {
  const records = parse(text, {
    bom: true,
    columns: (h: string[]) => h.map((x) => x.trim()),
    skip_empty_lines: true,
    trim: true,
    relax_quotes: true,
    relax_column_count: true,
  }) as Record<string, string>[]
  const header = text
    .replace(/^\uFEFF/, '')
    .split('\n', 1)[0]!
    .split(',')
    .map((x) => x.trim())
  if (text.trim() === '') throw new Error('CSV appears empty or is missing a header row.')
  const missing = REQUIRED.filter((c) => !header.includes(c))
  if (missing.length > 0) throw new Error(`CSV does not appear to be a Simple Analytics export. Missing required columns: ${missing.join(', ')}`)
  const rows: ImportedRow[] = []
  let skipped = 0
  for (const r of records) {
    const iso = nullable(r.added_iso)
    const sid = nullable(r.session_id)
    if (r.is_robot === 'true' || iso === null || !ADDED_ISO.test(iso) || Number.isNaN(Date.parse(iso)) || sid === null) {
      skipped++
      continue
    }
    const dp = nullable(r.datapoint)
    const dv = nullable(r.device_type) ?? 'desktop'
    let br = cut(nullable(r.browser_name), 30)
    if (br !== null && (dv === 'mobile' || dv === 'tablet') && ['Chrome', 'Firefox', 'Safari'].includes(br)) br = `Mobile ${br}`
    const host = cut(nullable(r.hostname), 253)
    let ref = cut(nullable(r.document_referrer), 2048)
    if (ref !== null && host !== null) {
      try {
        if (new URL(ref).hostname.replace(/^www\./, '') === host.replace(/^www\./, '')) ref = null
      } catch {
        // unparseable: kept
      }
    }
    const cc = nullable(r.country_code)?.toUpperCase() ?? null
    const lang = nullable(r.lang_language)
    const region = nullable(r.lang_region)
    rows.push({
      created: new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString(),
      type: dp === null || dp === 'pageview' ? 'pageview' : 'custom_event',
      eventName: dp === null || dp === 'pageview' ? null : dp.slice(0, 256),
      psid: sid,
      pg: cut(nullable(r.path), 2048),
      host,
      ref,
      so: cut(nullable(r.utm_source), 256),
      me: cut(nullable(r.utm_medium), 256),
      ca: cut(nullable(r.utm_campaign), 256),
      te: cut(nullable(r.utm_term), 256),
      co: cut(nullable(r.utm_content), 256),
      br,
      brv: cut(nullable(r.browser_version), 20),
      os: cut(nullable(r.os_name), 25),
      osv: cut(nullable(r.os_version), 20),
      dv,
      cc: cc !== null && /^[A-Z]{2}$/.test(cc) ? cc : null,
      lc: lang === null ? null : cut(region === null ? lang : `${lang}-${region.toUpperCase()}`, 35),
    })
  }
  return { rows, skipped }
}
