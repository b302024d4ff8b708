// One file's session, shared by `run`, `backfill` and `follow`: identify -> pick the start ->
// read -> classify -> deliver -> checkpoint. Identity, verification and reading all go through one
// open FileHandle, so a rotation in between cannot pair one file's checkpoint with another's bytes.
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import { deliver, type DeliveryBudget, type DeliveryItem, type DeliveryStats, type Progress } from '../delivery/engine.js'
import type { EventSink } from '../sink/contract.js'
import { hashBefore, identifyHandle, idOfHead, ID_HEAD_BYTES, type FileIdentity } from '../source/fingerprint.js'
import { readLines, type LineBatch } from '../source/reader.js'
import { chooseStart } from '../source/start-policy.js'
import { detectFormat } from '../../parsers/detect.js'
import { parserForInput, type LogParser } from '../../parsers/types.js'
import { headSample, replayDirectives } from './directives.js'
import { classifyLine, countOutcome } from './classify.js'
import { READ_CHUNK_BYTES } from './open-input.js'
import type { PipelineParts } from '../options.js'
import type { ProjectTally } from '../output/projects.js'
import { UsageError } from '../errors.js'
import { emptyCounters, type LineCounters } from '../types.js'
import type { FileReport } from '../output/report.js'
import { safeText } from '../output/safe-text.js'

export interface NdjsonLog {
  path: string
  write(obj: unknown): Promise<void> | void
}

/** What every session of one command shares. */
export interface SessionContext {
  /** backfill: a file without a checkpoint is read from its start. */
  mode: 'run' | 'backfill' | 'follow'
  parts: PipelineParts
  store: CheckpointStore | null
  sink: EventSink
  concurrency: number
  /** follow: one budget of undone events for all files of the process. */
  budget?: DeliveryBudget
  signal: AbortSignal
  totals: DeliveryStats
  deadLetter: NdjsonLog
  uncertain: NdjsonLog
  unansweredRetries?: NdjsonLog
  /** A format that matches nothing is reported with the failing line's text only with --verbose. */
  verbose?: boolean
  stateDir: string
  dryRun: boolean
  fromBeginning: boolean
  resendUncertain: boolean
  now: () => number
  note(msg: string): void
  /** [sites] counts per project. */
  projects?: ProjectTally
  /** Each session's counters are added here when it ends (also after a failure). */
  reports?: FileReport[]
  progress?: { file(path: string, offset: number): void; update(path: string, acked: number, sent: number): void } | null
}

export interface SessionPlan {
  path: string
  /** A finished file (rotated predecessor, .gz): read to its end (a last line without '\n' counts),
   *  then marked complete. */
  finished: boolean
  /** No checkpoint: read from the start, not from the end (next generation of a known path, or a
   *  file that appeared after `follow` started). */
  fromStart?: boolean
  /** An open handle the caller keeps (follow); otherwise the session opens and closes the path. */
  handle?: FileHandle
  /** Identity already read through `handle`. */
  ident?: FileIdentity
  /** follow: a tailing source over the handle; default: read to the current end once. */
  lines?: (fh: FileHandle, from: number, final: boolean, signal: AbortSignal) => AsyncIterable<LineBatch>
  /** follow: asked when the source ended without a stop; true marks the file complete. */
  completeWhenDone?: () => boolean
  /** Counters to add into (follow: the process totals); default: a fresh set for this file. */
  counters?: LineCounters
  onProgress?(p: Progress, stats: DeliveryStats): void
}

export interface SessionResult {
  /** null: nothing was read (empty, no complete first line, or already complete). */
  report: FileReport | null
  stopped: boolean
  ident: FileIdentity | null
}

const SAMPLE_LINES = 200
const TAIL_HASH_EVERY_MS = 1000
/** Lines a lease reaches beyond the line being read, within the batch read (CheckpointStore): after
 *  a power loss or kernel crash up to about this many lines may be reported uncertain; one synced
 *  write covers about half of them. */
const LEASE_LINES = 1024

export async function runSession(ctx: SessionContext, plan: SessionPlan): Promise<SessionResult> {
  const fh = plan.handle ?? (await open(plan.path, 'r'))
  try {
    return await sessionOn(ctx, plan, fh)
  } finally {
    if (!plan.handle) await fh.close()
  }
}

async function sessionOn(ctx: SessionContext, plan: SessionPlan, fh: FileHandle): Promise<SessionResult> {
  const { store } = ctx
  const ident = plan.ident ?? (await identifyHandle(fh))
  if (ident.id === null) {
    ctx.note(`${plan.path}: empty or no complete first line yet; nothing to send`)
    return { report: null, stopped: false, ident }
  }
  const known = store?.get(ident.id)
  if (known?.complete) return { report: null, stopped: false, ident }
  const start = await chooseStart(fh, ident, known, { fromStart: ctx.mode === 'backfill' || ctx.fromBeginning || plan.finished || plan.fromStart === true })
  if (start.note) ctx.note(`${plan.path}: ${start.note}`)
  const cp: FileCheckpoint =
    known && known.acked === start.offset
      ? { ...known, path: plan.path, dev: ident.dev, ino: ident.ino }
      : {
          id: ident.id,
          path: plan.path,
          dev: ident.dev,
          ino: ident.ino,
          gzip: ident.gzip,
          size: ident.size,
          acked: start.offset,
          ackedLine: start.line,
          dispatched: start.offset,
          doneAhead: [],
          updatedAt: new Date(ctx.now()).toISOString(),
        }
  const resumeEnd = cp.dispatched
  const doneAhead = new Set(cp.doneAhead)
  const unsent = new Set(cp.unsent ?? [])
  const counters = plan.counters ?? emptyCounters()
  const mapper = ctx.parts.mapperFor(plan.path) // [sites] this file's project, or routing by host
  const projectOf = ctx.parts.sites.routerFor(plan.path)
  let parser: LogParser | null = ctx.parts.format === 'auto' ? null : parserForInput(ctx.parts.format)
  let hashedAt = -Infinity
  const writes = store !== null && !ctx.dryRun

  // The tail hash only has to describe bytes the file had at some checkpoint; refreshing it about
  // once a second, beside the saves, keeps a read off the hot path (a progress save gates the next
  // block of sends). Its pair (hash, offset) lands in a later record, always at or before `acked`.
  let hashing: Promise<void> = Promise.resolve()
  let hashBusy = false
  const refreshTailHash = async (at: number): Promise<void> => {
    try {
      const hash = await hashBefore(fh, at)
      // Read after the hash: if the file was truncated or replaced in place before the hash was
      // read (copytruncate), its first line differs now and the hash describes other bytes.
      if (await sameHead(fh, ident.id!)) {
        cp.ackedTailHash = hash
        cp.tailHashAt = at
      }
    } catch {
      // A failed read leaves the previous hash, which still describes bytes before `acked`.
    } finally {
      hashBusy = false
    }
  }
  // Synchronous up to saveProgress: the engine may have two saves running, and each record must
  // hold progress at least as new as the one before it.
  // Every byte before it was read: the furthest offset a lease may cover (lines not yet written to
  // a followed file must never fall inside one).
  let leaseTo = 0
  const persist = (p: Progress): Promise<void> => {
    if (!writes) return Promise.resolve()
    const now = performance.now()
    if (!hashBusy && !cp.gzip && p.acked > 0 && p.acked !== cp.tailHashAt && now - hashedAt >= TAIL_HASH_EVERY_MS) {
      hashedAt = now
      hashBusy = true
      hashing = refreshTailHash(p.acked)
    }
    Object.assign(cp, {
      acked: p.acked,
      ackedLine: p.ackedLine,
      dispatched: p.dispatched,
      doneAhead: p.doneAhead,
      stoppedCleanly: p.stoppedCleanly,
      unsent: p.unsent,
      updatedAt: new Date(ctx.now()).toISOString(),
    })
    return store!.saveProgress(cp, leaseTo)
  }

  const finalRead = plan.finished || ident.gzip
  const source =
    plan.lines && !finalRead
      ? plan.lines(fh, cp.acked, false, ctx.signal)
      : readLines({ handle: fh }, { from: cp.acked, final: finalRead, signal: ctx.signal, chunkSize: READ_CHUNK_BYTES })
  async function* items(): AsyncGenerator<DeliveryItem> {
    let lineNo = cp.ackedLine
    // A format with per-file state (W3C `#Fields:`) first reads the directives before the resume point.
    if (parser !== null) await replayDirectives(parser, plan.path, cp.acked, READ_CHUNK_BYTES)
    for await (const batch of source) {
      const { buf, base, starts, contentEnds, ends, truncated } = batch
      if (parser === null) {
        parser = await detectParser(ctx, plan.path, batch, lineNo, cp.acked)
        await replayDirectives(parser, plan.path, cp.acked, READ_CHUNK_BYTES)
      }
      const last = ends.length - 1
      for (let i = 0; i < starts.length; i++) {
        lineNo++
        const start = base + starts[i]!
        const end = base + ends[i]!
        leaseTo = base + ends[i + LEASE_LINES < last ? i + LEASE_LINES : last]!
        const outcome = classifyLine(parser, mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
        countOutcome(counters, outcome)
        ctx.projects?.line(outcome, projectOf) // [sites]
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
          ctx.projects?.uncertain(outcome.event) // [sites]
          await ctx.uncertain.write({
            file: plan.path,
            offset: start,
            line: lineNo,
            endpoint: outcome.event.endpoint,
            body: outcome.event.body,
            headers: outcome.event.headers,
          })
          if (!ctx.resendUncertain) {
            yield { start, end, line: lineNo }
            continue
          }
        }
        yield { start, end, line: lineNo, event: outcome.event }
      }
      ctx.progress?.file(plan.path, base + (ends.at(-1) ?? 0))
    }
  }

  // A clean stop (signal, failure) records that its uncertain range holds only unanswered requests.
  const stoppedCleanly = cp.stoppedCleanly === true
  if (ctx.totals.uncertain === 0 && resumeEnd > cp.acked && !ctx.dryRun && !stoppedCleanly) {
    ctx.note(`${plan.path}: the previous run stopped without a clean shutdown; checking ${resumeEnd - cp.acked} bytes that were in flight`)
  }
  const uncertainBefore = ctx.totals.uncertain
  let result
  let report: FileReport | null
  try {
    result = await deliver(items(), {
      concurrency: ctx.concurrency,
      budget: ctx.budget,
      sink: ctx.sink,
      persist,
      persistConcurrency: store?.progressConcurrency ?? 1,
      onDeadLetter: async (it, outcome) => {
        await ctx.deadLetter.write({
          file: plan.path,
          offset: it.start,
          line: it.line,
          endpoint: it.event?.endpoint,
          body: it.event?.body,
          headers: it.event?.headers,
          status: outcome.status,
          response: outcome.body,
        })
      },
      onUnansweredRetry: (it, count) => {
        void ctx.unansweredRetries?.write({
          file: plan.path,
          offset: it.start,
          line: it.line,
          endpoint: it.event?.endpoint,
          retries: count,
          at: new Date(ctx.now()).toISOString(),
        })
      },
      initial: { acked: cp.acked, ackedLine: cp.ackedLine },
      signal: ctx.signal,
      onProgress: (p, s) => {
        ctx.progress?.update(plan.path, p.acked, ctx.totals.sent + s.sent)
        plan.onProgress?.(p, s)
      },
    })
  } finally {
    report = { path: plan.path, format: (parser as LogParser | null)?.name ?? null, ...counters, firstRejected: {} }
    ctx.reports?.push(report)
    await hashing
    // Fold the journal into state.json once per file (also after a failure: the progress is valid).
    if (writes) await store!.save()
  }
  addStats(ctx.totals, result.stats)
  const uncertainHere = ctx.totals.uncertain - uncertainBefore
  if (uncertainHere > 0) {
    const why = stoppedCleanly
      ? `the previous run stopped while ${uncertainHere} request(s) were unanswered`
      : `${uncertainHere} event(s) were in flight when the previous run was killed`
    ctx.note(
      `${plan.path}: ${why}; ${ctx.resendUncertain ? 'sent again (--resend-uncertain)' : 'not sent again, to avoid duplicates'}: see ${join(ctx.stateDir, 'uncertain.ndjson')}`,
    )
  }
  const complete = !result.stopped && (finalRead || (plan.completeWhenDone?.() ?? false))
  if (complete && writes) {
    store!.set({ ...cp, complete: true, updatedAt: new Date(ctx.now()).toISOString() })
    await store!.save()
  }
  return { report, stopped: result.stopped, ident }
}

async function sameHead(fh: FileHandle, id: string): Promise<boolean> {
  const buf = Buffer.alloc(ID_HEAD_BYTES)
  const { bytesRead } = await fh.read(buf, 0, ID_HEAD_BYTES, 0)
  return idOfHead(buf.subarray(0, bytesRead)) === id
}

/** `linesBefore`: lines of the file before this batch, so the failing line is named as in the file.
 *  `resumedAt`: the byte offset this read started at (0 = the file's start). */
async function detectParser(
  ctx: SessionContext,
  path: string,
  batch: { buf: Buffer; starts: number[]; contentEnds: number[] },
  linesBefore: number,
  resumedAt: number,
): Promise<LogParser> {
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
    const shown = ctx.verbose && failing ? `: ${safeText(failing.toString('utf8').slice(0, 200))}` : ' (--verbose shows it)'
    const where = detected.firstFailedLine > 0 ? `line ${linesBefore + detected.firstFailedLine} fails${shown}; ${detected.reason}. ` : ''
    throw new UsageError(
      `${path}: no known log format matches (tried ${detected.tried.join(', ')}); ${where}Name the format with --format, e.g. --format 'nginx:<your log_format>'`,
    )
  }
  return parserForInput(detected.parser)
}

export function addStats(into: DeliveryStats, from: DeliveryStats): void {
  into.sent += from.sent
  into.accepted += from.accepted
  into.botIgnored += from.botIgnored
  into.deadLettered += from.deadLettered
  // Sends this run left unresolved (stopped after the grace period); the reader adds the uncertain
  // events it finds from an earlier crash. Retries are counted by the sink's callback.
  into.uncertain += from.uncertain
  into.unansweredRetries = (into.unansweredRetries ?? 0) + (from.unansweredRetries ?? 0)
}
