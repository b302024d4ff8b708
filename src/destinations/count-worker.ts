// A worker thread of a parallel `check` (parallel-count.ts): counts one line-aligned byte range of
// a file through the same session and counting destination, with a pipeline rebuilt from the same
// flags, and posts the counts back.
import { parentPort, workerData } from 'node:worker_threads'
import { buildPipeline } from '../options.js'
import { ProjectTally } from '../output/projects.js'
import { createReferrerTally } from '../mapper/referrer-hint.js'
import { runSession } from '../pipeline/session.js'
import { countingDestination } from './counting.js'
import type { PartCounts, PartTask } from './parallel-count.js'

const task = workerData as PartTask
try {
  const parts = await buildPipeline(task.flags, task.projectId, task.now, false)
  const projects = parts.sites.active ? new ProjectTally() : null
  const referrers = createReferrerTally()
  const env = { parts, signal: new AbortController().signal, verbose: false, now: () => task.now, note: () => {}, projects, referrers }
  const r = await runSession(env, { path: task.path, range: { from: task.from, to: task.to } }, countingDestination({ print: 'nothing', writer: null }))
  const counts: PartCounts = { counters: r.report!, firstRejected: r.report!.firstRejected, referrers }
  if (projects) counts.projects = projects.toJSON(false)
  parentPort!.postMessage(counts)
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message })
}
