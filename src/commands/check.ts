// `swetrix-ingest check <file...>`: parse and map without network or state, and report.
// A large plain file is split at a line boundary and its parts scanned in parallel (worker threads):
// counting needs no order, so the cores a machine has are used (see splitPoints and runWorker).
import { open, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import type { Writable } from 'node:stream'
import { Worker } from 'node:worker_threads'
import type { LogParser } from '../../parsers/types.js'
import { recordJson } from '../record-json.js'
import { classifyLine, countLine, countOutcome, outcomeLabel, type LineOutcome, type Mapper } from '../pipeline/classify.js'
import { openInput } from '../pipeline/open-input.js'
import type { LineBatch } from '../source/reader.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import { LineWriter } from '../output/writer.js'
import { safeJson } from '../output/safe-text.js'
import { formatFileReport, type FileReport } from '../output/report.js'
import type { PipelineFlags } from '../options.js'
import { ProjectTally, type ProjectCounts, type ProjectOf } from '../output/projects.js'
import type { SiteMap } from '../mapper/sites.js'

export interface CheckOptions {
  format: LogParser | 'auto'
  candidates: readonly LogParser[]
  mapper: Mapper
  output: 'human' | 'json' | 'records' | 'events'
  stdout: Writable
  stderr: Writable
  stdin?: NodeJS.ReadableStream
  /** For worker threads, which rebuild the pipeline from the same flags. */
  flags?: PipelineFlags
  projectId?: string | null
  now?: number
  /** The mapper for one file (several sites: a file's own project); default `mapper`. */
  mapperFor?: (path: string) => Mapper
  /** Several sites: counts are also broken down per project. */
  sites?: SiteMap
  /** Threads for one large file (1 = no workers). */
  threads?: number
}

const FIRST_REJECTED_KEPT = 5
/** Below this a worker costs more (start-up, ~15 MB) than it saves. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024
/** Extra share of the file for the main thread (measured on 2 cores: workers finished ~80 ms late). */
const MAIN_HEAD_START = 0.04

export interface ScanResult {
  counters: LineCounters
  firstRejected: Record<string, number[]>
  lines: number
  /** Per project, when scanned with a router (several sites). */
  projects?: Record<string, Omit<ProjectCounts, 'delivery'>>
}

/** A file's report and, with several sites, its per-project counts. */
type ScannedFile = FileReport & { projects?: ScanResult['projects'] }

export interface ScanSink {
  writer: LineWriter | null
  records: boolean
  events: boolean
}

/** The per-line loop: classify each line of `batches` whose start lies before `to`, and count it. */
export async function scanBatches(
  batches: AsyncIterable<LineBatch>,
  parser: LogParser | null,
  mapper: Mapper,
  to: number,
  sink: ScanSink | null,
  projectOf: ProjectOf | null = null,
): Promise<ScanResult> {
  const counters = emptyCounters()
  const firstRejected: Record<string, number[]> = {}
  const tally = projectOf === null ? null : new ProjectTally()
  const result = (): ScanResult =>
    tally === null ? { counters, firstRejected, lines: lineNo } : { counters, firstRejected, lines: lineNo, projects: tally.toJSON(false) }
  let lineNo = 0
  for await (const batch of batches) {
    const { buf, base, starts, contentEnds, truncated } = batch
    for (let i = 0; i < starts.length; i++) {
      if (base + starts[i]! >= to) return result()
      lineNo++
      if (sink === null && parser !== null && tally === null) {
        // Counting only: the cheaper path with the same decisions.
        const rejected = countLine(counters, parser, mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
        if (rejected !== null) {
          const kept = (firstRejected[rejected] ??= [])
          if (kept.length < FIRST_REJECTED_KEPT) kept.push(lineNo)
        }
        continue
      }
      // No parser means the sample held only blank lines: every line is one.
      const outcome: LineOutcome =
        parser === null
          ? { kind: 'rejected', reason: 'empty-line' }
          : classifyLine(parser, mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
      countOutcome(counters, outcome)
      if (tally !== null) tally.line(outcome, projectOf!)
      if (outcome.kind === 'rejected') {
        const kept = (firstRejected[outcome.reason] ??= [])
        if (kept.length < FIRST_REJECTED_KEPT) kept.push(lineNo)
      }
      if (sink?.writer) {
        if (sink.records) {
          const parsed = outcome.kind === 'rejected' || outcome.kind === 'directive' ? { rejected: outcome.reason } : outcome.record
          await sink.writer.line(safeJson(recordJson(parsed, lineNo, base + starts[i]!, outcomeLabel(outcome))))
        } else if (sink.events && outcome.kind === 'event') {
          const ev = outcome.event
          await sink.writer.line(safeJson({ endpoint: ev.endpoint, headers: ev.headers, body: ev.body }))
        }
      }
    }
  }
  return result()
}

export async function scanInput(path: string, o: CheckOptions, writer: LineWriter | null): Promise<ScannedFile> {
  const split = writer === null ? await splitPoints(path, o) : null
  const input = await openInput(path, { format: o.format, candidates: o.candidates, final: true, stdin: o.stdin, verbose: o.flags?.verbose === true })
  const parser = input.parser
  const sink = writer ? { writer, records: o.output === 'records', events: o.output === 'events' } : null
  const projectOf = o.sites?.active ? o.sites.routerFor(path) : null
  if (split === null || parser === null) {
    const r = await scanBatches(input.batches, parser, o.mapperFor?.(path) ?? o.mapper, Infinity, sink, projectOf)
    return { path: input.label, format: parser?.name ?? null, ...r.counters, firstRejected: r.firstRejected, projects: r.projects }
  }
  // Workers take the later parts; this thread scans the first while they run.
  const formatSpec = o.flags!.format === 'auto' ? parser.name : o.flags!.format
  const workers = split
    .slice(1)
    .map((from, k) =>
      runWorker({ path, from, to: split[k + 2] ?? Infinity, flags: { ...o.flags!, format: formatSpec }, projectId: o.projectId ?? null, now: o.now! }),
    )
  const first = await scanBatches(input.batches, parser, o.mapperFor?.(path) ?? o.mapper, split[1]!, null, projectOf)
  const parts = [first, ...(await Promise.all(workers))]
  const projects = projectOf === null ? null : new ProjectTally()
  for (const part of parts) if (part.projects) projects?.add(part.projects)
  const counters = emptyCounters()
  const firstRejected: Record<string, number[]> = {}
  let linesBefore = 0
  for (const part of parts) {
    addCounters(counters, part.counters)
    for (const [reason, lines] of Object.entries(part.firstRejected)) {
      const kept = (firstRejected[reason] ??= [])
      for (const l of lines) if (kept.length < FIRST_REJECTED_KEPT) kept.push(l + linesBefore)
    }
    linesBefore += part.lines
  }
  return { path: input.label, format: parser.name, ...counters, firstRejected, projects: projects?.toJSON(false) }
}

/** Line-aligned part starts for a parallel scan ([0, b1, ...]), or null when one thread is best. */
async function splitPoints(path: string, o: CheckOptions): Promise<number[] | null> {
  const threads = Math.min(o.threads ?? 1, 8)
  if (threads < 2 || path === '-' || !o.flags || o.output === 'records' || o.output === 'events') return null
  const st = await stat(path).catch(() => null)
  if (!st || !st.isFile() || st.size < PARALLEL_MIN_BYTES) return null
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(2)
    await fh.read(head, 0, 2, 0)
    if (head[0] === 0x1f && head[1] === 0x8b) return null // gzip: one stream, no random access
    const points = [0]
    const probe = Buffer.alloc(64 * 1024)
    for (let k = 1; k < threads; k++) {
      // This thread starts scanning ~0.1 s before a worker has booted: give it a little more.
      const at = Math.floor(st.size * Math.min(0.95, k / threads + MAIN_HEAD_START))
      const { bytesRead } = await fh.read(probe, 0, probe.length, at)
      const nl = probe.subarray(0, bytesRead).indexOf(10)
      if (nl < 0) return null // a line longer than the probe: not worth splitting
      if (at + nl + 1 > points.at(-1)!) points.push(at + nl + 1)
    }
    return points.length > 1 ? points : null
  } finally {
    await fh.close()
  }
}

export interface WorkerTask {
  path: string
  from: number
  to: number
  flags: PipelineFlags
  projectId: string | null
  now: number
}

function runWorker(task: WorkerTask): Promise<ScanResult> {
  return new Promise((resolve, reject) => {
    // A small young generation keeps the worker's share of peak RSS low; the scan allocates
    // only short-lived objects.
    const worker = new Worker(new URL('./check-worker.js', import.meta.url), {
      workerData: task,
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 },
    })
    worker.once('message', (m: ScanResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`check worker exited with code ${code}`))
    })
  })
}

export async function runCheck(files: string[], o: CheckOptions): Promise<number> {
  const writer = o.output === 'records' || o.output === 'events' ? new LineWriter(o.stdout) : null
  const reports: FileReport[] = []
  // Several sites: the projects' counts over all files (every configured project listed).
  const projects = o.sites?.active ? new ProjectTally(o.sites.projects()) : null
  for (const file of files) {
    const { projects: fileProjects, ...report } = await scanInput(file, o, writer)
    if (fileProjects) projects?.add(fileProjects)
    reports.push(report)
    await writer?.flush()
  }
  const totals: LineCounters = emptyCounters()
  for (const r of reports) addCounters(totals, r)
  if (o.output === 'json') {
    const files = reports.map(({ firstRejected: _f, ...r }) => r)
    o.stdout.write(safeJson(projects ? { files, totals, projects: projects.toJSON(false) } : { files, totals }) + '\n')
  } else {
    // With NDJSON on stdout, the human summary goes to stderr so pipes stay clean.
    const out = writer ? o.stderr : o.stdout
    out.write(reports.map(formatFileReport).join('\n') + '\n')
    if (reports.length > 1) out.write(formatFileReport({ path: 'TOTAL', format: null, ...totals, firstRejected: {} }) + '\n')
    if (projects) out.write(projects.format((p) => o.sites!.sourceOf(p), false) + '\n')
  }
  return 0
}

/** Threads for `--threads auto`: the cores there are, at most 4. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 4))
}
