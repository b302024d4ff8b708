// `backfill --via import` (the default): historical logs become Swetrix Data Import files with the
// original dates (Simple Analytics CSV), optionally uploaded. Each input, oldest first, is one
// session into the import-rows destination. The files are written (fsync'd, renamed) before any
// checkpoint moves; a backfill stopped before that writes nothing a rerun would repeat. With
// `--errors-via-api` each input is read once more, into event delivery for its error events only
// (Data Import takes none), with checkpoints of their own.
import { basename, resolve } from 'node:path'
import { ImportCsvSink, syncDir, UPLOAD_LIMIT_BYTES, type ImportFileInfo } from '../sink/import-csv.js'
import { createDiscardSink } from '../sink/discard.js'
import { expandInputs, parseRotation } from '../source/paths.js'
import { ImportLedger } from '../import/ledger.js'
import { countryLookupOf, loadCountryDatabase } from '../import/geo.js'
import { loadSalt, randomSalt } from '../import/salt.js'
import { firstRecordTime } from '../pipeline/first-time.js'
import { runSession, type SessionEnv } from '../pipeline/session.js'
import { ImportRows } from '../destinations/import-rows.js'
import { deliveryDestination, emptyStats } from '../destinations/delivery.js'
import { defaultThreads } from '../destinations/parallel-count.js'
import { keepHttpParserOnBaseline } from '../sink/http-parser-tier.js'
import { createReferrerTally, selfReferrerHint } from '../mapper/referrer-hint.js'
import { safeText } from '../output/safe-text.js'
import { emptyCounters } from '../types.js'
import { printImportSummary, type ImportReport } from '../output/import-summary.js'
import { buildPipeline, parseByteSize, parsePositiveInt, PLACEHOLDER_PID, validateProjectId, type PipelineFlags } from '../options.js'
import { asUsage, UsageError } from '../errors.js'
import { noter, type CliIO } from '../runtime/io.js'
import { stopOnSignals } from '../runtime/signals.js'
import { openStateDir } from '../runtime/state-dir.js'
import { stateLogs } from '../runtime/appenders.js'
import { createEventSink, sendSettings, type SendFlags } from '../runtime/event-sink.js'

export interface ImportFlags extends PipelineFlags, Partial<SendFlags> {
  project?: string
  apiUrl: string
  stateDir: string
  out?: string
  hostname?: string
  /** undefined: the bundled database; a path: the user's; false: no country (`--no-geoip`). */
  geoip?: string | boolean
  upload?: boolean
  json?: boolean
  progress?: boolean
  maxFileSize?: string
  /** Send the error events live to the Events API (Data Import takes none). */
  errorsViaApi?: boolean
  /** `--undo-import ID`: delete that import instead of importing. */
  undoImport?: string
  threads?: string
}

export async function runBackfillImport(files: string[], flags: ImportFlags, io: CliIO): Promise<number> {
  // Its HTTP answers are few (an upload, error events): the optimizing compile would only delay the exit.
  keepHttpParserOnBaseline()
  if (flags.undoImport !== undefined) return (await import('../import/undo.js')).runUndoImport(files, { ...flags, undoImport: flags.undoImport }, io)
  const upload = flags.upload === true
  const dryRun = flags.dryRun === true
  if (upload && dryRun) throw new UsageError('choose one of --upload and --dry-run')
  const errorsViaApi = flags.errorsViaApi === true
  const pid = validateProjectId(flags.project, upload || (errorsViaApi && !dryRun))
  // The API is only asked with --upload or --errors-via-api: its flags are checked then.
  const send = upload || errorsViaApi ? sendSettings({ concurrency: '16', maxRetryTime: '10m', ...flags }) : null
  // The HTTP side (undici) loads only when it is used: less memory for writing the files.
  const credentials = upload ? (await import('../import/upload.js')).credentialsFromEnv(io.env) : null
  if (upload && credentials === null) throw new UsageError('--upload needs SWETRIX_TOKEN, or SWETRIX_EMAIL and SWETRIX_PASSWORD, in the environment')
  const maxBytes = flags.maxFileSize === undefined ? UPLOAD_LIMIT_BYTES : parseByteSize(flags.maxFileSize, '--max-file-size')
  if (maxBytes > UPLOAD_LIMIT_BYTES) throw new UsageError(`--max-file-size ${flags.maxFileSize}: Swetrix accepts at most 100 MB per file`)
  if (maxBytes < 1000) throw new UsageError(`--max-file-size ${flags.maxFileSize}: at least 1000 bytes`)
  const threads = flags.threads === undefined || flags.threads === 'auto' ? defaultThreads() : parsePositiveInt(flags.threads, '--threads')
  const startedAt = io.now()
  const parts = await buildPipeline(flags, pid, startedAt)
  // Data Import files belong to one project (each upload goes to one).
  if (parts.sites.active)
    throw new UsageError(
      'backfill --via import writes the files of one project: give -p and select its lines with --host, instead of sites (--site or config sites)',
    )
  const paths = await expandInputs(files).catch(asUsage)
  const countryDb = flags.geoip === false ? null : await loadCountryDatabase(typeof flags.geoip === 'string' ? flags.geoip : undefined)
  const outDir = resolve(flags.out ?? '.')
  const note = noter(io)
  const state = await openStateDir(flags.stateDir, { dryRun })
  const ledger = dryRun ? null : await ImportLedger.open(flags.stateDir)
  const stop = stopOnSignals('stopping (signal again to stop at once)', note)
  const referrers = createReferrerTally()
  const env: SessionEnv = { parts, signal: stop.signal, verbose: flags.verbose === true, now: io.now, note, referrers }
  const stamp = new Date(startedAt)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  const sink = new ImportCsvSink({ dir: outDir, prefix: `swetrix-import-${stamp}`, maxBytes, dryRun })
  const salt = dryRun ? randomSalt() : await loadSalt(flags.stateDir)
  const reports: ImportReport[] = []
  let written: ImportFileInfo[]
  let uploaded = 0
  let progress: import('../output/progress.js').ProgressView | null = null
  const rows = new ImportRows({
    store: state.store,
    sink,
    mapper: parts.mapper,
    salt,
    country: countryDb === null ? null : countryLookupOf(countryDb),
    threads,
    poolTask: { flags: { ...flags }, projectId: pid || PLACEHOLDER_PID, now: startedAt, countryDb },
    now: io.now,
  })
  const errorStats = errorsViaApi ? emptyStats() : undefined
  try {
    const plan = await oldestFirst(paths, parts)
    if (flags.progress !== false && !dryRun) {
      const { ProgressView } = await import('../output/progress.js')
      progress = await ProgressView.start(
        plan.map((p) => p.path),
        io.stderr,
        'bytes',
      )
    }
    rows.progress = progress
    for (const item of plan) {
      if (stop.signal.aborted) break
      const r = await runSession(env, item, rows.destination)
      const counts = rows.countsOf(item.path)
      const report = r.report ?? { path: item.path, format: null, ...emptyCounters(), firstRejected: {} }
      reports.push({ ...report, ...counts, skippedAsDone: r.alreadyComplete === true })
      if (r.alreadyComplete) progress?.file(item.path, Infinity)
    }
    if (stop.signal.aborted) {
      sink.abort()
      note('stopped: no import file or checkpoint was written; run the same command again')
      return 0
    }
    written = rows.finish()
    progress?.stop()
    progress = null
    if (ledger && state.store) {
      if (written.length > 0) syncDir(outDir)
      const at = new Date(io.now()).toISOString()
      for (const f of written)
        ledger.add({ name: f.name, path: f.path, sha256: f.sha256, bytes: f.bytes, rows: f.rows, from: iso(f.firstMs), to: iso(f.lastMs), writtenAt: at })
      await ledger.save()
      for (const cp of rows.checkpoints()) state.store.set(cp)
      await state.store.save()
    }
    if (errorStats) {
      // After the import files and checkpoints are durable: each input's error events, live.
      const logs = stateLogs(flags.stateDir)
      const errorSink = dryRun ? createDiscardSink() : await createEventSink(send!, { stdout: io.stdout, env: io.env, onRetry: () => errorStats.retries++ })
      const destination = deliveryDestination({
        store: state.store,
        keyOf: (id) => `errors:${id}`,
        fromStart: true,
        only: 'error',
        sink: errorSink,
        concurrency: send!.concurrency,
        signal: stop.signal,
        totals: errorStats,
        logs,
        stateDir: flags.stateDir,
        dryRun,
        resendUncertain: false,
        now: io.now,
        note,
      })
      try {
        for (const item of plan) if (!stop.signal.aborted) await runSession(env, item, destination)
      } finally {
        await errorSink.close().catch(() => {})
        await logs.close()
      }
    }
    if (upload && ledger) {
      const { apiBaseFromLogUrl, Uploader } = await import('../import/upload.js')
      const uploader = new Uploader({
        apiBase: apiBaseFromLogUrl(send!.apiUrl),
        projectId: pid,
        credentials: credentials!,
        ledger,
        pollMs: Number(io.env.SWETRIX_INGEST_POLL_MS) || undefined,
        onStatus: (f, status) => note(`${f.name}: ${status}`),
        onNote: note,
      })
      uploaded = await uploader.uploadAll(stop.signal)
    }
  } catch (err) {
    sink.abort()
    throw err
  } finally {
    await rows.close()
    progress?.stop()
    stop.dispose()
    await state.close()
  }
  printImportSummary(
    io.stdout,
    { outDir, dryRun, reports, written, sessions: rows.stats, perDay: rows.perDay, errorsViaApi: errorStats, upload, uploaded, stateDir: flags.stateDir },
    flags.json === true,
  )
  const hint = selfReferrerHint(referrers, 'backfill')
  if (hint !== null) note(safeText(hint))
  return 0
}

/** Inputs oldest first by content: the time of each file's first line; names (natural rotation
 *  order from expandInputs) break ties and place files without a readable time. Rotated files are
 *  finished: read to their end. */
async function oldestFirst(paths: string[], parts: Parameters<typeof firstRecordTime>[1]): Promise<{ path: string; finished: boolean }[]> {
  const plan = []
  for (const [index, path] of paths.entries()) {
    plan.push({ path, index, finished: parseRotation(basename(path)).rotation.kind !== 'live', first: await firstRecordTime(path, parts) })
  }
  plan.sort((a, b) => (a.first !== null && b.first !== null && a.first !== b.first ? a.first - b.first : a.index - b.index))
  return plan.map(({ path, finished }) => ({ path, finished }))
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')
