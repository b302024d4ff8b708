// `check` on a large plain file: split at line boundaries, the parts counted at once, the first in
// this thread and the others in worker threads, each through the same session and counting
// destination (counting needs no order, so the cores a machine has are used).
import { open, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { LogParser } from '../../parsers/types.js'
import type { PipelineFlags } from '../options.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import type { FileReport } from '../output/report.js'
import type { ProjectCounts } from '../output/projects.js'
import { mergeReferrerTally, type ReferrerTally } from '../mapper/referrer-hint.js'
import { runSession, type SessionEnv } from '../pipeline/session.js'
import { countingDestination } from './counting.js'

/** Below this a worker costs more (start-up, ~15 MB) than it saves. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024
/** Extra share of the file for this thread, which starts ~0.1 s before a worker has booted. */
const MAIN_HEAD_START = 0.04
const FIRST_REJECTED_KEPT = 5

/** What a worker counts and posts back. */
export interface PartCounts {
  counters: LineCounters
  firstRejected: Record<string, number[]>
  projects?: Record<string, Omit<ProjectCounts, 'delivery'>>
  referrers?: ReferrerTally
}

/** What a worker rebuilds its pipeline from. */
export interface PartTask {
  path: string
  from: number
  to: number
  flags: PipelineFlags
  projectId: string | null
  now: number
}

/** Threads for `--threads auto`: the cores there are, at most 4. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(availableParallelism(), 4))
}

/** Line-aligned part starts ([0, b1, ...]) of a plain file worth splitting, or null. */
export async function splitPoints(path: string, threads: number): Promise<number[] | null> {
  threads = Math.min(threads, 8)
  if (threads < 2) return null
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

/** Counts `path` in the parts `points` gives; the report is the whole file's. */
export async function countInParts(env: SessionEnv, path: string, points: number[], task: Omit<PartTask, 'path' | 'from' | 'to'>): Promise<FileReport> {
  let parts: Promise<PartCounts>[] = []
  const startWorkers = (parser: LogParser): void => {
    // The workers read their parts with the format this thread detected.
    const flags = { ...task.flags, format: task.flags.format === 'auto' ? parser.name : task.flags.format }
    parts = points.slice(1).map((from, k) => runWorker({ ...task, flags, path, from, to: points[k + 2] ?? Infinity }))
  }
  const first = await runSession(
    env,
    { path, range: { from: 0, to: points[1]! } },
    countingDestination({ print: 'nothing', writer: null, onFormat: startWorkers }),
  )
  const report = first.report!
  // Only blank lines in the first part: the rest is read here, detecting the format as it goes.
  if (parts.length === 0) parts = [restHere(env, path, points[1]!)]
  let linesBefore = report.lines
  for (const part of await Promise.all(parts)) {
    for (const [reason, lines] of Object.entries(part.firstRejected)) {
      const kept = (report.firstRejected[reason] ??= [])
      for (const l of lines) if (kept.length < FIRST_REJECTED_KEPT) kept.push(l + linesBefore)
    }
    linesBefore += part.counters.lines
    addCounters(report, part.counters)
    if (part.projects) env.projects?.add(part.projects)
    if (part.referrers && env.referrers) mergeReferrerTally(env.referrers, part.referrers)
  }
  return report
}

async function restHere(env: SessionEnv, path: string, from: number): Promise<PartCounts> {
  const r = await runSession(env, { path, range: { from, to: Infinity } }, countingDestination({ print: 'nothing', writer: null }))
  return { counters: r.report ?? emptyCounters(), firstRejected: r.report?.firstRejected ?? {} }
}

function runWorker(task: PartTask): Promise<PartCounts> {
  return new Promise((resolve, reject) => {
    // A small young generation keeps the worker's share of peak RSS low; the scan allocates
    // only short-lived objects.
    const worker = new Worker(new URL('./count-worker.js', import.meta.url), {
      workerData: task,
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 },
    })
    worker.once('message', (m: PartCounts | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`check worker exited with code ${code}`))
    })
  })
}
