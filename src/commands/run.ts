// `run` (cron) and `backfill --via api`: read each file from its checkpoint, send its events,
// and record exact positions so that a restart never sends an event twice.
//
// Order of a file's life: identify (fingerprint) -> pick the start offset (checkpoint, verified,
// or the first-run policy) -> read lines -> classify -> deliver (bounded window, ordered acks,
// durable dispatch reservations) -> final checkpoint.
import { mkdir, open, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { SingleBar, Presets } from 'cli-progress'
import { CheckpointStore, type FileCheckpoint } from '../checkpoint/store.js'
import { acquireLock, type StateLock } from '../checkpoint/lock.js'
import { deliver, type DeliveryItem, type DeliveryStats, type Progress } from '../delivery/engine.js'
import { createHttpSink } from '../sink/http.js'
import type { EventSink } from '../sink/contract.js'
import { createStdoutSink } from '../sink/stdout.js'
import { openNdjsonAppender } from '../sink/ndjson.js'
import { expandInputs, parseRotation, rotatedSiblings } from '../source/paths.js'
import { hashBefore, hashRange, identify, type FileIdentity } from '../source/fingerprint.js'
import { JOURNAL_FILE } from '../checkpoint/journal.js'
import { readLines } from '../source/reader.js'
import { detectFormat } from '../../parsers/detect.js'
import { parserForInput, type LogParser } from '../../parsers/types.js'
import { headSample, replayDirectives } from '../pipeline/directives.js'
import { classifyLine, countOutcome } from '../pipeline/classify.js'
import { assertReadableFile, READ_CHUNK_BYTES } from '../pipeline/open-input.js'
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
}

const SAMPLE_LINES = 200
const TAIL_HASH_EVERY_MS = 1000

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
    await mkdir(stateDir, { recursive: true, mode: 0o700 })
    lock = await acquireLock(stateDir)
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
  const sink = projects.wrapSink(dryRun
    ? createStdoutSink(io.stdout)
    : createHttpSink({ apiUrl, connections: concurrency, maxRetryTimeMs, rate, onRetry: () => totals.retries++, env: io.env, ...(flags.caFile !== undefined ? { caFile: flags.caFile } : {}) }))
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
    if (mode === 'backfill')
      ctx.note('backfill --via api: the Events API stamps every event with the time it arrives, not the time in the log')
    // In a backfill, rotated generations (name.1, name.2.gz, name-YYYYMMDD) are finished files: read
    // to their end and marked complete, so a later `run` does not look at them again.
    const plan = mode === 'run'
      ? await planRun(paths, store)
      : paths.map((path) => ({ path, finished: parseRotation(basename(path)).rotation.kind !== 'live' }))
    if (mode === 'backfill' && flags.progress !== false && !dryRun) ctx.progress = await ProgressView.start(plan, io.stderr)
    for (const item of plan) parts.mapperFor(item.path) // [sites] a file claimed by two sites stops before anything is sent
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

async function processFile(ctx: Context, item: FilePlan): Promise<void> {
  const { io, store } = ctx
  let ident: FileIdentity
  try {
    ident = await identify(item.path)
  } catch (err) {
    throw asUsage(err)
  }
  if (ident.id === null) {
    ctx.note(`${item.path}: empty or no complete first line yet; nothing to send`)
    return
  }
  const known = store?.get(ident.id)
  if (known?.complete) return
  const start = await chooseStart(ctx, item, ident, known)
  const cp: FileCheckpoint = known && known.acked === start.offset
    ? { ...known, path: item.path, dev: ident.dev, ino: ident.ino }
    : {
        id: ident.id, path: item.path, dev: ident.dev, ino: ident.ino, gzip: ident.gzip, size: ident.size,
        acked: start.offset, ackedLine: start.line, dispatched: start.offset, doneAhead: [], updatedAt: new Date(io.now()).toISOString(),
      }
  const resumeEnd = cp.dispatched
  const doneAhead = new Set(cp.doneAhead)
  const unsent = new Set(cp.unsent ?? [])
  const counters = emptyCounters()
  const mapper = ctx.parts.mapperFor(item.path) // [sites] this file's project, or routing by host
  const projectOf = ctx.parts.sites.routerFor(item.path)
  let parser: LogParser | null = ctx.parts.format === 'auto' ? null : parserForInput(ctx.parts.format)
  let hashedAt = -Infinity

  // Progress saves go to the store's journal (one pwrite + fdatasync); the tail hash is read
  // through one handle kept open for the file.
  const tailHandle = !cp.gzip && store && !ctx.flags.dryRun ? await open(item.path, 'r') : null
  const persist = async (p: Progress) => {
    if (!store || ctx.flags.dryRun) return
    // The tail hash only has to describe bytes the file had at some checkpoint; refreshing it about
    // once a second keeps a read off the hot path (a progress save gates the next block of sends).
    const now = performance.now()
    if (tailHandle && p.acked > 0 && p.acked !== cp.tailHashAt && now - hashedAt >= TAIL_HASH_EVERY_MS) {
      cp.ackedTailHash = await hashBefore(tailHandle, p.acked)
      cp.tailHashAt = p.acked
      hashedAt = now
    }
    Object.assign(cp, { acked: p.acked, ackedLine: p.ackedLine, dispatched: p.dispatched, doneAhead: p.doneAhead, stoppedCleanly: p.stoppedCleanly, unsent: p.unsent, updatedAt: new Date(io.now()).toISOString() })
    await store.saveProgress(cp)
  }

  const finalRead = item.finished || ident.gzip
  async function* items(): AsyncGenerator<DeliveryItem> {
    let lineNo = cp.ackedLine
    // A format with per-file state (W3C `#Fields:`) first reads the directives before the resume point.
    if (parser !== null) await replayDirectives(parser, item.path, cp.acked, READ_CHUNK_BYTES)
    for await (const batch of readLines({ path: item.path }, { from: cp.acked, final: finalRead, signal: ctx.signal, chunkSize: READ_CHUNK_BYTES })) {
      const { buf, base, starts, contentEnds, ends, truncated } = batch
      if (parser === null) {
        parser = await detectParser(ctx, item.path, batch, lineNo, cp.acked)
        await replayDirectives(parser, item.path, cp.acked, READ_CHUNK_BYTES)
      }
      for (let i = 0; i < starts.length; i++) {
        lineNo++
        const start = base + starts[i]!
        const end = base + ends[i]!
        const outcome = classifyLine(parser, mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
        countOutcome(counters, outcome)
        ctx.projects.line(outcome, projectOf) // [sites]
        if (outcome.kind !== 'event') {
          yield { start, end, line: lineNo }
          continue
        }
        if (doneAhead.size > 0 && doneAhead.has(start)) {
          // Delivered (or dead-lettered) by an earlier run beyond its acknowledged offset.
          yield { start, end, line: lineNo }
          continue
        }
        if (start < resumeEnd && !unsent.has(start)) {
          // Between the acknowledged and the dispatched offset of an interrupted run.
          ctx.totals.uncertain++
          ctx.projects.uncertain(outcome.event) // [sites]
          await ctx.uncertain.write({ file: item.path, offset: start, line: lineNo, endpoint: outcome.event.endpoint, body: outcome.event.body, headers: outcome.event.headers })
          if (!ctx.flags.resendUncertain) {
            yield { start, end, line: lineNo }
            continue
          }
        }
        yield { start, end, line: lineNo, event: outcome.event }
      }
      ctx.progress?.file(item.path, base + (ends.at(-1) ?? 0))
    }
  }

  // A clean stop (signal, failure) records that its uncertain range holds only unanswered requests.
  const stoppedCleanly = cp.stoppedCleanly === true
  if (ctx.totals.uncertain === 0 && resumeEnd > cp.acked && !ctx.flags.dryRun && !stoppedCleanly) {
    ctx.note(`${item.path}: the previous run stopped without a clean shutdown; checking ${resumeEnd - cp.acked} bytes that were in flight`)
  }
  const uncertainBefore = ctx.totals.uncertain
  let result
  try {
    result = await deliver(items(), {
      concurrency: ctx.concurrency,
      sink: ctx.sink,
      persist,
      onDeadLetter: async (it, outcome) => {
        await ctx.deadLetter.write({ file: item.path, offset: it.start, line: it.line, endpoint: it.event?.endpoint, body: it.event?.body, headers: it.event?.headers, status: outcome.status, response: outcome.body })
      },
      onUnansweredRetry: (it, count) => {
        void ctx.unansweredRetries.write({ file: item.path, offset: it.start, line: it.line, endpoint: it.event?.endpoint, retries: count, at: new Date(io.now()).toISOString() })
      },
      initial: { acked: cp.acked, ackedLine: cp.ackedLine },
      signal: ctx.signal,
      onProgress: ctx.progress ? (p, s) => ctx.progress?.update(item.path, p.acked, ctx.totals.sent + s.sent) : undefined,
    })
  } finally {
    ctx.reports.push({ path: item.path, format: (parser as LogParser | null)?.name ?? null, ...counters, firstRejected: {} })
    await tailHandle?.close()
    // Fold the journal into state.json once per file (also after a failure: the progress is valid).
    if (store && !ctx.flags.dryRun) await store.save()
  }
  addStats(ctx.totals, result.stats)
  const uncertainHere = ctx.totals.uncertain - uncertainBefore
  if (uncertainHere > 0) {
    const why = stoppedCleanly
      ? `the previous run stopped while ${uncertainHere} request(s) were unanswered`
      : `${uncertainHere} event(s) were in flight when the previous run was killed`
    ctx.note(`${item.path}: ${why}; ${ctx.flags.resendUncertain ? 'sent again (--resend-uncertain)' : 'not sent again, to avoid duplicates'}: see ${join(ctx.flags.stateDir, 'uncertain.ndjson')}`)
  }
  if (!result.stopped && finalRead && store && !ctx.flags.dryRun) {
    store.set({ ...cp, complete: true, updatedAt: new Date(io.now()).toISOString() })
    await store.save()
  }
}

interface StartPoint { offset: number; line: number }

async function chooseStart(ctx: Context, item: FilePlan, ident: FileIdentity, known: FileCheckpoint | undefined): Promise<StartPoint> {
  if (known) {
    if (!ident.gzip && ident.size < known.acked) {
      ctx.note(`${item.path}: the file is shorter than its checkpoint (truncated, e.g. copytruncate); reading it again from the start`)
      return { offset: 0, line: 0 }
    }
    const hashAt = known.tailHashAt ?? known.acked
    if (!ident.gzip && known.ackedTailHash && hashAt > 0) {
      const now = await hashRange(item.path, false, hashAt)
      if (now !== known.ackedTailHash) {
        ctx.note(`${item.path}: the bytes before the checkpoint changed (file replaced); reading it again from the start`)
        return { offset: 0, line: 0 }
      }
    }
    return { offset: known.acked, line: known.ackedLine ?? 0 }
  }
  if (ctx.mode === 'backfill' || ctx.flags.fromBeginning || item.finished || item.successor) return { offset: 0, line: 0 }
  const offset = await endOfLastCompleteLine(item.path, ident.size)
  if (offset > 0) ctx.note(`${item.path}: first run, starting at its end; passing over ${offset.toLocaleString('en-US')} bytes already in it (use --from-beginning to send them, or backfill)`)
  return { offset, line: 0 }
}

/** The offset just after the last `\n` in the file (the first run starts there). */
async function endOfLastCompleteLine(path: string, size: number): Promise<number> {
  if (size === 0) return 0
  const fh = await open(path, 'r')
  try {
    const window = 1 << 16
    let end = size
    const buf = Buffer.alloc(window)
    while (end > 0) {
      const from = Math.max(0, end - window)
      const { bytesRead } = await fh.read(buf, 0, end - from, from)
      const nl = buf.subarray(0, bytesRead).lastIndexOf(10)
      if (nl >= 0) return from + nl + 1
      end = from
    }
    return 0
  } finally {
    await fh.close()
  }
}

/** `linesBefore`: lines of the file before this batch, so the failing line is named as in the file.
 *  `resumedAt`: the byte offset this read started at (0 = the file's start). */
async function detectParser(ctx: Context, path: string, batch: { buf: Buffer; starts: number[]; contentEnds: number[] }, linesBefore: number, resumedAt: number): Promise<LogParser> {
  const sample: Buffer[] = []
  // Blank lines stay in the sample (detection skips them) so its line numbers are the file's.
  for (let i = 0; i < batch.starts.length && sample.length < SAMPLE_LINES; i++) {
    sample.push(Buffer.from(batch.buf.subarray(batch.starts[i], batch.contentEnds[i])))
  }
  let detected = detectFormat(sample, ctx.parts.candidates)
  // Resumed half-way through a file whose layout is declared at its start (W3C `#Fields:`): the
  // lines there tell the format.
  if (!detected.ok && resumedAt > 0) {
    const head = await headSample(path, SAMPLE_LINES, READ_CHUNK_BYTES)
    const fromHead = detectFormat(head, ctx.parts.candidates)
    if (fromHead.ok) detected = fromHead
  }
  if (!detected.ok) {
    // As `check` words it: the failing line (its text only with --verbose: it holds visitor data).
    const failing = detected.firstFailedLine > 0 ? sample[detected.firstFailedLine - 1] : undefined
    const shown = ctx.flags.verbose && failing ? `: ${safeText(failing.toString('utf8').slice(0, 200))}` : ' (--verbose shows it)'
    const where = detected.firstFailedLine > 0 ? `line ${linesBefore + detected.firstFailedLine} fails${shown}; ${detected.reason}. ` : ''
    throw new UsageError(`${path}: no known log format matches (tried ${detected.tried.join(', ')}); ${where}Name the format with --format, e.g. --format 'nginx:<your log_format>'`)
  }
  return parserForInput(detected.parser)
}

function addStats(into: DeliveryStats, from: DeliveryStats): void {
  into.sent += from.sent
  into.accepted += from.accepted
  into.botIgnored += from.botIgnored
  into.deadLettered += from.deadLettered
  // Sends this run left unresolved (stopped after the grace period); the reader adds the uncertain
  // events it finds from an earlier crash. Retries are counted by the sink's callback.
  into.uncertain += from.uncertain
  into.unansweredRetries = (into.unansweredRetries ?? 0) + (from.unansweredRetries ?? 0)
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

function validateApiUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--api-url ${text}: not a URL (expected e.g. https://api.swetrix.com/log)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--api-url ${text}: expected an http or https URL`)
  return text.replace(/\/+$/, '')
}

function asUsage(err: unknown): never {
  const e = err as NodeJS.ErrnoException
  if (e?.name === 'InputError' || e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') throw new UsageError(e.message)
  throw err
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

/** An NDJSON file in the state dir, created (0600) only when the first entry is written. */
function lazyAppender(path: string) {
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

/** Backfill progress on stderr: a bar on a terminal, a plain line every few seconds otherwise. */
class ProgressView {
  private done = new Map<string, number>()
  private started = Date.now()
  private constructor(private bar: SingleBar, private sizes: Map<string, number>) {}

  static async start(plan: FilePlan[], stderr: NodeJS.WritableStream): Promise<ProgressView> {
    const sizes = new Map<string, number>()
    for (const p of plan) sizes.set(p.path, await contentSize(p.path))
    const total = [...sizes.values()].reduce((a, b) => a + b, 0)
    const bar = new SingleBar(
      {
        stream: stderr as NodeJS.WriteStream,
        format: 'backfill [{bar}] {percentage}% | {doneMB}/{totalMB} MB | {rate} events/s | ETA {eta_formatted}',
        noTTYOutput: true,
        notTTYSchedule: 2000,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.legacy,
    )
    bar.start(Math.max(total, 1), 0, { doneMB: '0.0', totalMB: (total / 1e6).toFixed(1), rate: 0 })
    return new ProgressView(bar, sizes)
  }

  file(path: string, offset: number): void {
    this.done.set(path, Math.min(offset, this.sizes.get(path) ?? offset))
  }

  /** `sent`: events sent so far in this backfill, all files. */
  update(path: string, acked: number, sent: number): void {
    this.file(path, acked)
    const value = [...this.done.values()].reduce((a, b) => a + b, 0)
    const secs = Math.max((Date.now() - this.started) / 1000, 0.001)
    this.bar.update(value, { doneMB: (value / 1e6).toFixed(1), rate: Math.round(sent / secs) })
  }

  stop(): void {
    this.bar.stop()
  }
}

/** Bytes of log content: the file size, or for gzip the ISIZE trailer (decompressed size mod 2^32). */
async function contentSize(path: string): Promise<number> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const head = Buffer.alloc(2)
    await fh.read(head, 0, 2, 0)
    if (head[0] !== 0x1f || head[1] !== 0x8b || size < 18) return size
    const tail = Buffer.alloc(4)
    await fh.read(tail, 0, 4, size - 4)
    return tail.readUInt32LE(0)
  } finally {
    await fh.close()
  }
}
