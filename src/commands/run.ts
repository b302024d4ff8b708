// `run` (cron) and `backfill --via api`: read each file from its checkpoint, send its events,
// and record exact positions so that a restart never sends an event twice.
//
// Order of a file's life: identify (fingerprint) -> pick the start offset (checkpoint, verified,
// or the first-run policy) -> read lines -> classify -> deliver (bounded window, ordered acks,
// durable dispatch reservations) -> final checkpoint.
import { open, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { CheckpointStore } from '../checkpoint/store.js'
import { acquireLock, type StateLock } from '../checkpoint/lock.js'
import type { DeliveryStats } from '../delivery/engine.js'
import { createHttpSink } from '../sink/http.js'
import { keepHttpParserOnBaseline, OPTIMIZED_PARSER_FROM_BYTES } from '../sink/http-parser-tier.js'
import type { EventSink } from '../sink/contract.js'
import { createStdoutSink } from '../sink/stdout.js'
import { openNdjsonAppender } from '../sink/ndjson.js'
import { expandInputs, parseRotation, rotatedSiblings } from '../source/paths.js'
import { identify } from '../source/fingerprint.js'
import { JOURNAL_FILE } from '../checkpoint/journal.js'
import { assertReadableFile } from '../pipeline/open-input.js'
import { runSession, type SessionContext } from '../pipeline/session.js'
import type { ProgressView } from '../output/progress.js'
import { buildPipeline, parseDuration, parsePositiveInt, validateProjectId, type PipelineFlags, type PipelineParts } from '../options.js'
import { UsageError } from '../errors.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import { formatDelivery, formatFileReport, type FileReport } from '../output/report.js'
import { safeJson, safeText } from '../output/safe-text.js'
import type { CliIO } from '../cli.js'
// [sites] per-project counts and the message for a refused project (issue 9)
import { ProjectTally } from '../output/projects.js'
import { explainRefusedProject } from '../mapper/sites.js'

export interface DeliveryFlags extends PipelineFlags {
  project?: string
  apiUrl: string
  stateDir: string
  concurrency: string
  rate?: string
  maxRetryTime: string
  resendUncertain?: boolean
  caFile?: string
  dryRun?: boolean
  json?: boolean
  fromBeginning?: boolean
  progress?: boolean
  verbose?: boolean
}

interface FilePlan {
  path: string
  /** A rotated predecessor of a live file: read to its end, then marked complete. */
  finished: boolean
  /** A checkpoint already names this path: a new file here is the next generation of a log we
   *  follow (rotation), so it is read from its start, not from its end. */
  successor?: boolean
}

interface Context {
  mode: 'run' | 'backfill'
  flags: DeliveryFlags
  io: CliIO
  parts: PipelineParts // [sites] was { format, candidates, mapper }; now also sites, mapperFor
  store: CheckpointStore | null
  sink: EventSink
  concurrency: number
  signal: AbortSignal
  totals: DeliveryStats
  reports: FileReport[]
  deadLetter: ReturnType<typeof lazyAppender>
  uncertain: ReturnType<typeof lazyAppender>
  unansweredRetries: ReturnType<typeof lazyAppender>
  progress: ProgressView | null
  /** [sites] counts per project (several sites on one server). */
  projects: ProjectTally
  note(msg: string): void
  session?: SessionContext
}

export async function runDelivery(mode: 'run' | 'backfill', files: string[], flags: DeliveryFlags, io: CliIO): Promise<number> {
  // [sites] -p is the default project; with --site/config sites it may be left out.
  const pid = flags.project === undefined || flags.project === '' ? null : validateProjectId(flags.project, true)
  const concurrency = parsePositiveInt(flags.concurrency, '--concurrency')
  const rate = flags.rate === undefined ? undefined : parsePositiveInt(flags.rate, '--rate')
  const maxRetryTimeMs = parseDuration(flags.maxRetryTime, '--max-retry-time')
  const apiUrl = validateApiUrl(flags.apiUrl)
  const parts = await buildPipeline(flags, pid, io.now())
  const paths = mode === 'backfill' ? await expandInputs(files).catch(asUsage) : files
  if (mode === 'run') for (const f of paths) await assertReadableFile(f)

  const dryRun = flags.dryRun === true
  const stateDir = flags.stateDir
  let store: CheckpointStore | null = null
  let lock: StateLock | null = null
  if (dryRun) {
    // A dry run reads checkpoints (to show what a real run would send) but never writes them.
    if ((await exists(join(stateDir, 'state.json'))) || (await exists(join(stateDir, JOURNAL_FILE)))) store = await CheckpointStore.open(stateDir)
  } else {
    lock = await acquireLock(stateDir) // creates the state dir; a StateWriteError if it cannot
    // Also on process.exit (a second signal): the next run need not wait for stale-lock detection.
    const held = lock
    process.once('exit', () => held.releaseSync())
  }
  const stopper = new AbortController()
  // First signal: a clean stop (in-flight requests finish, checkpoint written, exit 0). A second
  // one stops at once; the journal then marks what was in flight as uncertain, nothing is lost.
  const onSignal = () => {
    if (!stopper.signal.aborted) {
      io.stderr.write('swetrix-ingest: stopping after the requests in flight (signal again to stop at once)\n')
      stopper.abort()
    } else process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const totals: DeliveryStats = { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, unansweredRetries: 0 }
  const projects = new ProjectTally(parts.sites.projects()) // [sites]
  const sink = projects.wrapSink(
    dryRun
      ? createStdoutSink(io.stdout)
      : createHttpSink({
          apiUrl,
          connections: concurrency,
          maxRetryTimeMs,
          rate,
          onRetry: () => totals.retries++,
          env: io.env,
          ...(flags.caFile !== undefined ? { caFile: flags.caFile } : {}),
        }),
  )
  const ctx: Context = {
    mode,
    flags,
    io,
    parts,
    store,
    sink,
    concurrency,
    signal: stopper.signal,
    totals,
    reports: [],
    deadLetter: lazyAppender(join(stateDir, 'dead-letter.ndjson')),
    uncertain: lazyAppender(join(stateDir, 'uncertain.ndjson')),
    unansweredRetries: lazyAppender(join(stateDir, 'unanswered-retries.ndjson')),
    progress: null,
    projects,
    note: (msg) => io.stderr.write(`swetrix-ingest: ${safeText(msg)}\n`),
  }
  try {
    if (!dryRun) store = ctx.store = await CheckpointStore.open(stateDir)
    if (mode === 'backfill') ctx.note('backfill --via api: the Events API stamps every event with the time it arrives, not the time in the log')
    // In a backfill, rotated generations (name.1, name.2.gz, name-YYYYMMDD) are finished files: read
    // to their end and marked complete, so a later `run` does not look at them again.
    const plan =
      mode === 'run' ? await planRun(paths, store) : paths.map((path) => ({ path, finished: parseRotation(basename(path)).rotation.kind !== 'live' }))
    if (mode === 'backfill' && flags.progress !== false && !dryRun) {
      // Loaded here: the bar is drawn only for a backfill (loading cli-progress cost `run` 7 ms of start-up).
      const progress = await import('../output/progress.js')
      ctx.progress = await progress.ProgressView.start(
        plan.map((p) => p.path),
        io.stderr,
      )
    }
    for (const item of plan) parts.mapperFor(item.path) // [sites] a file claimed by two sites stops before anything is sent
    if (!dryRun && !(await readsAtLeast(OPTIMIZED_PARSER_FROM_BYTES, plan, store, mode === 'backfill' || flags.fromBeginning === true)))
      keepHttpParserOnBaseline()
    for (const item of plan) {
      if (stopper.signal.aborted) break
      await processFile(ctx, item)
    }
  } catch (err) {
    // [sites] an unknown or disabled project: name the site entry that maps to it.
    const e = err as { name?: string; pid?: string; status?: number; message: string }
    if (e?.name === 'FatalApiError' && typeof e.pid === 'string') e.message = explainRefusedProject(parts.sites, e.pid, e.message, e.status)
    throw err
  } finally {
    ctx.progress?.stop()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await sink.close().catch(() => {})
    await ctx.deadLetter.close()
    await ctx.uncertain.close()
    await ctx.unansweredRetries.close()
    await ctx.store?.close()
    await lock?.release()
    printSummary(ctx, dryRun)
  }
  return 0
}

/** For each live file: rotated siblings that still hold unread lines of a known file, oldest first, then the file. */
async function planRun(paths: string[], store: CheckpointStore | null): Promise<FilePlan[]> {
  const plan: FilePlan[] = []
  for (const path of paths) {
    for (const sibling of await rotatedSiblings(path)) {
      const id = await identify(sibling).catch(() => null)
      const cp = id?.id ? store?.get(id.id) : undefined
      if (cp && !cp.complete) plan.push({ path: sibling, finished: true })
    }
    plan.push({ path, finished: false, successor: store?.all().some((c) => c.path === path) ?? false })
  }
  return plan
}

/** Whether the plan has at least `bytes` to read: each file's size less what its checkpoint
 *  acknowledged (a file without one is read from its start only when `fromStart` or it is a rotated
 *  or next generation). Stops identifying files once the answer is known. */
async function readsAtLeast(bytes: number, plan: FilePlan[], store: CheckpointStore | null, fromStart: boolean): Promise<boolean> {
  let total = 0
  for (const item of plan) {
    const ident = await identify(item.path).catch(() => null)
    if (ident === null) continue
    const cp = ident.id === null ? undefined : store?.get(ident.id)
    // A compressed generation holds several times its size in text.
    const size = ident.gzip ? ident.size * 8 : ident.size
    if (cp !== undefined) total += cp.complete ? 0 : Math.max(0, size - cp.acked)
    else if (fromStart || item.finished || item.successor === true) total += size
    if (total >= bytes) return true
  }
  return false
}

async function processFile(ctx: Context, item: FilePlan): Promise<void> {
  // One handle for identity, verification and reading (a rotation in between cannot mix files).
  const fh = await open(item.path, 'r').catch(asUsage)
  try {
    await runSession(sessionContext(ctx), { path: item.path, finished: item.finished, fromStart: item.successor, handle: fh })
  } finally {
    await fh.close()
  }
}

function sessionContext(ctx: Context): SessionContext {
  return (ctx.session ??= {
    mode: ctx.mode,
    parts: ctx.parts,
    store: ctx.store,
    sink: ctx.sink,
    concurrency: ctx.concurrency,
    signal: ctx.signal,
    totals: ctx.totals,
    deadLetter: ctx.deadLetter,
    uncertain: ctx.uncertain,
    unansweredRetries: ctx.unansweredRetries,
    verbose: ctx.flags.verbose === true,
    stateDir: ctx.flags.stateDir,
    dryRun: ctx.flags.dryRun === true,
    fromBeginning: ctx.flags.fromBeginning === true,
    resendUncertain: ctx.flags.resendUncertain === true,
    now: ctx.io.now,
    note: (msg) => ctx.note(msg),
    reports: ctx.reports,
    progress: ctx.progress,
    projects: ctx.projects,
  })
}

function printSummary(ctx: Context, dryRun: boolean): void {
  const totals: LineCounters = emptyCounters()
  for (const r of ctx.reports) addCounters(totals, r)
  // NDJSON requests own stdout in a dry run; the summary then goes to stderr.
  const out = dryRun ? ctx.io.stderr : ctx.io.stdout
  if (ctx.flags.json) {
    const files = ctx.reports.map(({ firstRejected: _f, ...r }) => r)
    out.write(safeJson({ files, totals: { ...totals, delivery: ctx.totals }, projects: ctx.projects.toJSON() }) + '\n') // [sites] projects
    return
  }
  if (ctx.reports.length === 0) return
  out.write(ctx.reports.map(formatFileReport).join('\n') + '\n')
  if (ctx.reports.length > 1) out.write(formatFileReport({ path: 'TOTAL', format: null, ...totals, firstRejected: {} }) + '\n')
  if (!dryRun) out.write(formatDelivery(ctx.totals) + '\n')
  if (ctx.parts.sites.active) out.write(ctx.projects.format((p) => ctx.parts.sites.sourceOf(p), !dryRun) + '\n') // [sites]
}

export function validateApiUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--api-url ${text}: not a URL (expected e.g. https://api.swetrix.com/log)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--api-url ${text}: expected an http or https URL`)
  return text.replace(/\/+$/, '')
}

export function asUsage(err: unknown): never {
  const e = err as NodeJS.ErrnoException
  if (e?.name === 'InputError' || e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') throw new UsageError(e.message)
  throw err
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** An NDJSON file in the state dir, created (0600) only when the first entry is written. */
export function lazyAppender(path: string) {
  let appender: ReturnType<typeof openNdjsonAppender> | null = null
  return {
    path,
    write(obj: unknown) {
      appender ??= openNdjsonAppender(path)
      return appender.write(obj)
    },
    async close() {
      await appender?.close()
    },
  }
}
