// `backfill --via import` (the default): turn historical logs into Swetrix Data Import files with
// the original dates (Simple Analytics CSV), optionally upload them. The same pipeline as `check`
// and `run` (reader -> parser -> mapper); the destination is the import sink (sink/import-csv.ts).
// Pageviews and custom events become rows; errors cannot be imported and are counted.
//
// Checkpoints: the rows of a backfill are written (files fsync'd and renamed) before any checkpoint
// moves; then each input's checkpoint is set to the end of its last line (rotated generations are
// marked complete), so a later `run` on the live file continues right after the last line written
// to an import file. A backfill stopped before that writes nothing a rerun would repeat: its
// partial file is removed and the rerun reads the same lines again.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { ProgressView } from '../output/progress.js'
import { CheckpointStore, type FileCheckpoint } from '../checkpoint/store.js'
import { acquireLock, type StateLock } from '../checkpoint/lock.js'
import { writeFileAtomic } from '../checkpoint/atomic.js'
import { expandInputs, parseRotation } from '../source/paths.js'
import { hashRange, identify } from '../source/fingerprint.js'
import { readLines, type LineBatch } from '../source/reader.js'
import { detectFormat } from '../../parsers/detect.js'
import { isRejection, type LogParser } from '../../parsers/types.js'
import { READ_CHUNK_BYTES } from '../pipeline/open-input.js'
import { buildPipeline, parseDuration, parsePositiveInt, PLACEHOLDER_PID, validateProjectId, type PipelineFlags, type PipelineParts } from '../options.js'
import { UsageError } from '../errors.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import { formatFileReport } from '../output/report.js'
import { safeJson, safeText } from '../output/safe-text.js'
import { dayChart } from '../output/day-chart.js'
import { ImportCsvSink, syncDir, UPLOAD_LIMIT_BYTES, type ImportFileInfo } from '../sink/import-csv.js'
import { Sessionizer } from '../import/sessions.js'
import { createRowScanner, type RowBatch } from '../import/rows.js'
import { RowPool } from '../import/row-pool.js'
import { defaultThreads } from './check.js'
import { countryLookupOf, loadCountryDatabase } from '../import/geo.js'
import { ImportLedger } from '../import/ledger.js'
import type { LiveErrorStats } from '../import/errors-live.js'
import type { CliIO } from '../cli.js'
import { formatCount } from '../output/count.js'
import { keepHttpParserOnBaseline } from '../sink/http-parser-tier.js'

export interface ImportFlags extends PipelineFlags {
  project?: string
  apiUrl: string
  stateDir: string
  out?: string
  hostname?: string
  /** undefined: the bundled database; a path: the user's; false: no country (`--no-geoip`). */
  geoip?: string | boolean
  upload?: boolean
  dryRun?: boolean
  json?: boolean
  progress?: boolean
  maxFileSize?: string
  verbose?: boolean
  /** Send the error events live to the Events API (Data Import takes none). */
  errorsViaApi?: boolean
  concurrency?: string
  rate?: string
  maxRetryTime?: string
  /** Threads for the per-line work of a large input (`auto`: the cores there are, at most 4). */
  threads?: string
  /** `--undo-import ID`: delete that import instead of importing. */
  undoImport?: string
}

interface InputPlan {
  path: string
  finished: boolean
  firstTime: number | null
}

interface InputReport extends LineCounters {
  path: string
  format: string | null
  rows: number
  noTime: number
  skippedAsDone: boolean
}

const DAY_MS = 86_400_000
/** Inputs (plain; an eighth of it gzip-compressed) below this are read in one thread. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024
/** More than the lines of any batch (a batch holds at most about 1 MiB of lines). */
const ROWS_PER_BATCH = 2 ** 22
/** Batches for worker threads: larger than a single thread's, as each message between threads has
 *  a cost of its own; small enough that the batches in flight stay a few MB. */
const PARALLEL_CHUNK_BYTES = 256 * 1024
const SALT_FILE = 'import-salt'
const SAMPLE_LINES = 200

export async function runBackfillImport(files: string[], flags: ImportFlags, io: CliIO): Promise<number> {
  // fidelity: `--undo-import ID` deletes an import instead (src/import/undo.ts)
  if (flags.undoImport !== undefined) return (await import('../import/undo.js')).runUndoImport(files, { ...flags, undoImport: flags.undoImport }, io)
  // Its HTTP answers are few (an upload, error events): the optimizing compile would only delay the exit.
  keepHttpParserOnBaseline()
  const upload = flags.upload === true
  const dryRun = flags.dryRun === true
  if (upload && dryRun) throw new UsageError('choose one of --upload and --dry-run')
  const errorsViaApi = flags.errorsViaApi === true
  const pid = validateProjectId(flags.project, upload || (errorsViaApi && !dryRun))
  const concurrency = parsePositiveInt(flags.concurrency ?? '16', '--concurrency')
  const rate = flags.rate === undefined ? undefined : parsePositiveInt(flags.rate, '--rate')
  const maxRetryTimeMs = parseDuration(flags.maxRetryTime ?? '10m', '--max-retry-time')
  // The HTTP side (undici) loads only when it is used: less memory for writing the files.
  const credentials = upload ? (await import('../import/upload.js')).credentialsFromEnv(io.env) : null
  if (upload && credentials === null) throw new UsageError('--upload needs SWETRIX_TOKEN, or SWETRIX_EMAIL and SWETRIX_PASSWORD, in the environment')
  if (upload && !/^https?:\/\/[^/]/.test(flags.apiUrl ?? ''))
    throw new UsageError(`--api-url ${flags.apiUrl ?? ''}: not an http(s) URL (expected e.g. https://api.swetrix.com/log)`)
  const maxBytes = flags.maxFileSize === undefined ? UPLOAD_LIMIT_BYTES : parseSize(flags.maxFileSize)
  const threads = flags.threads === undefined || flags.threads === 'auto' ? defaultThreads() : parsePositiveInt(flags.threads, '--threads')
  const startedAt = io.now()
  const parts = await buildPipeline(flags, pid || PLACEHOLDER_PID, startedAt)
  // Data Import files belong to one project (each upload goes to one).
  if (parts.sites.active)
    throw new UsageError(
      'backfill --via import writes the files of one project: give -p and select its lines with --host, instead of sites (--site or config sites)',
    )
  const paths = await expandInputs(files).catch(asUsage)
  const countryDb = flags.geoip === false ? null : await loadCountryDatabase(typeof flags.geoip === 'string' ? flags.geoip : undefined)
  const outDir = resolve(flags.out ?? '.')
  const note = (msg: string) => io.stderr.write(`swetrix-ingest: ${safeText(msg)}\n`)

  let lock: StateLock | null = null
  let store: CheckpointStore | null = null
  let ledger: ImportLedger | null = null
  if (!dryRun) {
    await mkdir(flags.stateDir, { recursive: true, mode: 0o700 })
    lock = await acquireLock(flags.stateDir)
    store = await CheckpointStore.open(flags.stateDir)
    const held = lock
    process.once('exit', () => held.releaseSync())
    ledger = await ImportLedger.open(flags.stateDir)
  }
  const stopper = new AbortController()
  const onSignal = () => {
    if (!stopper.signal.aborted) {
      io.stderr.write('swetrix-ingest: stopping (signal again to stop at once)\n')
      stopper.abort()
    } else process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const stamp = new Date(io.now())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const sink = new ImportCsvSink({ dir: outDir, prefix: `swetrix-import-${stamp}`, maxBytes, dryRun })
  const perDay = new Map<number, number>()
  const salt = dryRun ? randomBytes(32).toString('hex') : await loadSalt(flags.stateDir)
  const scanRows = createRowScanner({ mapper: parts.mapper, salt, country: countryDb === null ? null : countryLookupOf(countryDb) })
  // Rows are handed to the sessions as handles: batch number * ROWS_PER_BATCH + row in batch. A
  // batch is kept until its last row is written.
  const batches = new Map<number, { rows: RowBatch; text: Buffer; left: number }>()
  let batchNo = 0
  const batchOf = (row: number) => batches.get(Math.floor(row / ROWS_PER_BATCH))!
  const sessions = new Sessionizer({
    visitorHash: (row) => {
      const b = batchOf(row).rows
      return b.hashes[b.visitorOf[row % ROWS_PER_BATCH]!]!
    },
    emit: (row, id) => {
      const n = Math.floor(row / ROWS_PER_BATCH)
      const kept = batches.get(n)!
      const b = kept.rows
      const i = row - n * ROWS_PER_BATCH
      const time = b.times[i]!
      sink.write(kept.text, i === 0 ? 0 : b.textEnds[i - 1]!, b.textEnds[i]!, `${b.countries[b.visitorOf[i]!]},${id}\n`, time)
      if (--kept.left === 0) batches.delete(n)
      const day = Math.floor(time / DAY_MS)
      perDay.set(day, (perDay.get(day) ?? 0) + 1)
    },
  })
  const reports: InputReport[] = []
  const liveErrors: LiveErrorStats = { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, alreadySent: 0 }
  const checkpoints: FileCheckpoint[] = []
  let written: ImportFileInfo[] = []
  let uploaded = 0
  let progress: ProgressView | null = null
  let pool: RowPool | null = null
  const rowPool = (): RowPool =>
    (pool ??= new RowPool(threads - 1, { flags: { ...flags }, projectId: pid || PLACEHOLDER_PID, now: startedAt, salt, countryDb }))
  try {
    const plan = await planInputs(paths, parts)
    if (flags.progress !== false && !dryRun)
      progress = await ProgressView.start(
        plan.map((p) => p.path),
        io.stderr,
        'bytes',
      )
    for (const item of plan) {
      if (stopper.signal.aborted) break
      const cp = await importFile(item)
      if (cp) checkpoints.push(cp)
    }
    if (stopper.signal.aborted) {
      sink.abort()
      note('stopped: no import file or checkpoint was written; run the same command again')
      return 0
    }
    sessions.flush()
    written = sink.close()
    progress?.stop()
    progress = null
    if (!dryRun && store && ledger) {
      if (written.length > 0) syncDir(outDir)
      const at = new Date(io.now()).toISOString()
      for (const f of written) {
        ledger.add({ name: f.name, path: f.path, sha256: f.sha256, bytes: f.bytes, rows: f.rows, from: iso(f.firstMs), to: iso(f.lastMs), writtenAt: at })
      }
      await ledger.save()
      for (const cp of checkpoints) store.set(cp)
      await store.save()
    }
    if (errorsViaApi) await sendAllErrors(plan)
    if (upload && ledger) {
      const { apiBaseFromLogUrl, Uploader } = await import('../import/upload.js')
      const uploader = new Uploader({
        apiBase: apiBaseFromLogUrl(flags.apiUrl),
        projectId: pid,
        credentials: credentials!,
        ledger,
        pollMs: Number(io.env.SWETRIX_INGEST_POLL_MS) || undefined,
        onStatus: (f, status) => note(`${f.name}: ${status}`),
        onNote: note, // fidelity: import ids used, overlap with imported data
      })
      uploaded = await uploader.uploadAll(stopper.signal)
    }
  } catch (err) {
    sink.abort()
    throw err
  } finally {
    await (pool as RowPool | null)?.close()
    progress?.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await store?.close()
    await lock?.release()
  }
  printSummary()
  return 0

  async function importFile(item: InputPlan): Promise<FileCheckpoint | null> {
    const ident = await identify(item.path).catch(asUsage)
    const report: InputReport = { path: item.path, format: null, ...emptyCounters(), rows: 0, noTime: 0, skippedAsDone: false }
    reports.push(report)
    if (ident.id === null) {
      note(`${item.path}: empty or no complete first line yet; nothing to import`)
      return null
    }
    const known = store?.get(ident.id)
    if (known?.complete) {
      report.skippedAsDone = true
      progress?.file(item.path, Infinity)
      return null
    }
    let from = known?.acked ?? 0
    let line = known?.ackedLine ?? 0
    if (known && !ident.gzip && ident.size < known.acked) {
      note(`${item.path}: the file is shorter than its checkpoint; reading it again from the start`)
      from = line = 0
    }
    const finalRead = item.finished || ident.gzip
    let parser: LogParser | null = parts.format === 'auto' ? null : parts.format
    let end = from
    // Threads pay off on large inputs only (each costs ~40 ms and ~15 MB to start); a format with
    // per-file state (W3C directives) needs its lines in one thread, in order.
    const parallel = threads > 1 && (ident.gzip ? ident.size >= PARALLEL_MIN_BYTES / 8 : ident.size - from >= PARALLEL_MIN_BYTES)
    const take = (rows: RowBatch, lines: number, batchEnd: number): void => {
      addCounters(report, rows.counters)
      report.noTime += rows.noTime
      report.rows += rows.times.length
      const n = rows.times.length
      if (n > 0) {
        const first = batchNo++ * ROWS_PER_BATCH
        batches.set(first / ROWS_PER_BATCH, { rows, text: Buffer.from(rows.text.buffer, rows.text.byteOffset, rows.text.byteLength), left: n })
        for (let i = 0; i < n; i++) sessions.push(rows.times[i]!, first + i)
      }
      line += lines
      end = batchEnd
      progress?.file(item.path, end)
    }
    // Batches go to the worker threads or stay for this one (one in `localEvery`, scanned when it is
    // the oldest), and are taken back in file order; at most pool.depth in flight.
    const inFlight: { rows: Promise<RowBatch> | null; batch: LineBatch; lines: number; end: number }[] = []
    const takeOldest = async (): Promise<void> => {
      const b = inFlight.shift()!
      take(b.rows === null ? scanRows(parser!, b.batch) : await b.rows, b.lines, b.end)
    }
    let nth = 0
    try {
      const chunkSize = parallel ? PARALLEL_CHUNK_BYTES : READ_CHUNK_BYTES
      for await (const batch of readLines({ path: item.path }, { from, final: finalRead, signal: stopper.signal, chunkSize })) {
        parser ??= detectParser(item.path, batch)
        const batchEnd = batch.base + batch.ends[batch.ends.length - 1]!
        const pool = parallel && parser.forInput === undefined ? rowPool() : null
        if (pool === null) {
          take(scanRows(parser, batch), batch.starts.length, batchEnd)
          continue
        }
        const local = nth++ % pool.localEvery === 0
        const rows = local ? null : pool.scan(parser.name, batch)
        rows?.catch(() => {}) // awaited below, in order; an early failure must not be unhandled meanwhile
        inFlight.push({ rows, batch, lines: batch.starts.length, end: batchEnd })
        while (inFlight.length > 0 && (inFlight.length >= pool.depth || inFlight[0]!.rows === null)) await takeOldest()
      }
      while (inFlight.length > 0) await takeOldest()
    } finally {
      inFlight.length = 0
    }
    report.format = (parser as LogParser | null)?.name ?? null
    const now = new Date(io.now()).toISOString()
    const cp: FileCheckpoint = {
      id: ident.id,
      path: item.path,
      dev: ident.dev,
      ino: ident.ino,
      gzip: ident.gzip,
      size: ident.size,
      acked: end,
      ackedLine: line,
      dispatched: end,
      doneAhead: [],
      updatedAt: now,
    }
    if (!ident.gzip && end > 0) {
      cp.ackedTailHash = await hashRange(item.path, false, end)
      cp.tailHashAt = end
    }
    if (finalRead) cp.complete = true
    return cp
  }

  /** After the import files and checkpoints are durable: each input's error events, live. */
  async function sendAllErrors(inputs: InputPlan[]): Promise<void> {
    const { ErrorLedger, sendErrors } = await import('../import/errors-live.js')
    const { createHttpSink } = await import('../sink/http.js')
    const errorLedger = dryRun ? null : await ErrorLedger.open(flags.stateDir)
    const sink = createHttpSink({ apiUrl: flags.apiUrl, connections: concurrency, maxRetryTimeMs, rate, onRetry: () => liveErrors.retries++ })
    try {
      for (const item of inputs) {
        if (stopper.signal.aborted) return
        const ident = await identify(item.path).catch(asUsage)
        if (ident.id === null) continue
        const parser = parts.format === 'auto' ? await detectFirst(item.path) : parts.format
        if (parser === null) continue
        await sendErrors({
          path: item.path,
          id: ident.id,
          parser,
          mapper: parts.mapper,
          final: item.finished || ident.gzip,
          sink,
          ledger: errorLedger,
          concurrency,
          signal: stopper.signal,
          stats: liveErrors,
        })
      }
    } finally {
      await sink.close().catch(() => {})
    }
  }

  async function detectFirst(path: string): Promise<LogParser | null> {
    const it = readLines({ path }, { final: true, chunkSize: 64 * 1024 })
    try {
      const first = await it.next()
      return first.done ? null : detectParser(path, first.value)
    } finally {
      await it.return(undefined)
    }
  }

  function detectParser(path: string, batch: LineBatch): LogParser {
    const sample: Buffer[] = []
    for (let i = 0; i < batch.starts.length && sample.length < SAMPLE_LINES; i++) {
      if (batch.contentEnds[i]! > batch.starts[i]!) sample.push(Buffer.from(batch.buf.subarray(batch.starts[i], batch.contentEnds[i])))
    }
    const detected = detectFormat(sample, parts.candidates)
    if (!detected.ok) throw new UsageError(`${path}: no known log format matches (tried ${detected.tried.join(', ')}); name it with --format`)
    return detected.parser
  }

  function printSummary(): void {
    const totals = emptyCounters()
    for (const r of reports) addCounters(totals, r)
    const rows = reports.reduce((a, r) => a + r.rows, 0)
    const noTime = reports.reduce((a, r) => a + r.noTime, 0)
    const days = [...perDay.keys()].sort((a, b) => a - b)
    const range = days.length ? { from: iso(days[0]! * DAY_MS).slice(0, 10), to: iso(days.at(-1)! * DAY_MS).slice(0, 10) } : null
    const output = {
      dir: outDir,
      dryRun,
      files: written.map((f) => ({ name: f.name, rows: f.rows, bytes: f.bytes, from: iso(f.firstMs), to: iso(f.lastMs), sha256: f.sha256 || undefined })),
      rows,
      sessions: sessions.stats.sessions,
      lateRows: sessions.stats.late,
      noTime,
      errorsNotImported: totals.events.error,
      ...(errorsViaApi ? { errorsViaApi: liveErrors } : {}),
      range,
      rowsPerDay: Object.fromEntries(days.map((d) => [iso(d * DAY_MS).slice(0, 10), perDay.get(d)!])),
      uploaded,
    }
    if (flags.json) {
      const files = reports.map(({ skippedAsDone, ...r }) => ({ ...r, alreadyImported: skippedAsDone }))
      io.stdout.write(safeJson({ files, totals, import: output }) + '\n')
      return
    }
    const out = io.stdout
    for (const r of reports) {
      if (r.skippedAsDone) out.write(`${safeText(r.path)}  already imported by an earlier backfill\n`)
      else out.write(`${formatFileReport({ ...r, firstRejected: {} })}\n  rows      ${formatCount(r.rows)}\n`)
    }
    out.write(`\n${dryRun ? 'would write' : 'wrote'} ${formatCount(rows)} rows in ${written.length} file(s) to ${safeText(outDir)}\n`)
    for (const f of written)
      out.write(`  ${safeText(f.name)}  ${formatCount(f.rows)} rows  ${(f.bytes / 1e6).toFixed(1)} MB  ${iso(f.firstMs)} .. ${iso(f.lastMs)}\n`)
    out.write(
      `sessions  ${formatCount(sessions.stats.sessions)}${sessions.stats.late ? ` (${sessions.stats.late} rows arrived more than 10,000 rows out of time order and were placed by their visitor's session)` : ''}\n`,
    )
    if (range) out.write(`dates     ${range.from} .. ${range.to} (UTC)\n`)
    if (errorsViaApi) {
      const e = liveErrors
      out.write(
        `errors    ${formatCount(e.sent)} error events ${dryRun ? 'would be sent' : 'sent'} live to the Events API (stamped with the time they arrive)` +
          `${e.accepted || e.botIgnored ? `: ${e.accepted} accepted, ${e.botIgnored} ignored as bots` : ''}${e.deadLettered ? `, ${e.deadLettered} refused` : ''}` +
          `${e.alreadySent ? `; ${e.alreadySent} sent by an earlier run` : ''}${e.uncertain ? `; ${e.uncertain} were in flight when an earlier run was killed, not sent again` : ''}\n`,
      )
    } else if (totals.events.error > 0)
      out.write(`errors    ${formatCount(totals.events.error)} error events not imported (Data Import takes pageviews and custom events only)\n`)
    if (noTime > 0) out.write(`no time   ${formatCount(noTime)} events without a logged time not imported\n`)
    const chart = dayChart(perDay)
    if (chart.length) out.write(`rows per day:\n${chart.join('\n')}\n`)
    if (upload) out.write(`uploaded  ${uploaded} file(s) now; see ${join(flags.stateDir, 'imports.json')}\n`)
    else if (!dryRun && written.length > 0)
      out.write(`upload with --upload (SWETRIX_EMAIL/SWETRIX_PASSWORD or SWETRIX_TOKEN), or in Swetrix: Project settings > Data import > Simple Analytics\n`)
  }
}

/** Inputs oldest first by content: the time of each file's first line; names (natural rotation
 *  order from expandInputs) break ties and place files without a readable time. */
async function planInputs(paths: string[], parts: PipelineParts): Promise<InputPlan[]> {
  const plan: (InputPlan & { index: number })[] = []
  for (const [index, path] of paths.entries()) {
    plan.push({ path, index, finished: parseRotation(basename(path)).rotation.kind !== 'live', firstTime: await firstTime(path, parts) })
  }
  plan.sort((a, b) => {
    if (a.firstTime !== null && b.firstTime !== null && a.firstTime !== b.firstTime) return a.firstTime - b.firstTime
    return a.index - b.index
  })
  return plan
}

async function firstTime(path: string, parts: PipelineParts): Promise<number | null> {
  const it = readLines({ path }, { final: true, chunkSize: 64 * 1024 })
  try {
    const first = await it.next()
    if (first.done) return null
    const b = first.value
    const sample: Buffer[] = []
    for (let i = 0; i < b.starts.length && sample.length < SAMPLE_LINES; i++) sample.push(b.buf.subarray(b.starts[i], b.contentEnds[i]))
    let parser: LogParser | null = parts.format === 'auto' ? null : parts.format
    if (parser === null) {
      const d = detectFormat(
        sample.map((s) => Buffer.from(s)),
        parts.candidates,
      )
      if (!d.ok) return null
      parser = d.parser
    }
    for (const line of sample) {
      const r = parser.parse(line)
      if (!isRejection(r) && r.time !== null) return r.time
    }
    return null
  } catch {
    return null
  } finally {
    await it.return(undefined)
  }
}

async function loadSalt(stateDir: string): Promise<string> {
  const file = join(stateDir, SALT_FILE)
  try {
    const s = (await readFile(file, 'utf8')).trim()
    if (/^[0-9a-f]{64}$/.test(s)) return s
    throw new UsageError(`${file}: damaged; move it aside (session ids then change for later imports)`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const salt = randomBytes(32).toString('hex')
  await writeFileAtomic(file, salt + '\n')
  return salt
}

function parseSize(text: string): number {
  const m = /^(\d+)(k|m)?b?$/i.exec(text.trim())
  if (!m) throw new UsageError(`--max-file-size ${text}: expected bytes, e.g. 100m or 5000000`)
  const n = Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1000 : 1000_000) : 1)
  if (n > UPLOAD_LIMIT_BYTES) throw new UsageError(`--max-file-size ${text}: Swetrix accepts at most 100 MB per file`)
  if (n < 1000) throw new UsageError(`--max-file-size ${text}: at least 1000 bytes`)
  return n
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')

function asUsage(err: unknown): never {
  const e = err as NodeJS.ErrnoException
  if (e?.name === 'InputError' || e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') throw new UsageError(e.message)
  throw err
}
