// A worker thread of a parallel `check`: scans one line-aligned byte range of a file with a pipeline
// rebuilt from the same flags, and posts its counters back (see check.ts, runWorker).
import { parentPort, workerData } from 'node:worker_threads'
import { buildPipeline } from '../options.js'
import { readLines } from '../source/reader.js'
import { READ_CHUNK_BYTES } from '../pipeline/open-input.js'
import { replayDirectives } from '../pipeline/directives.js'
import { parserForInput } from '../../parsers/types.js'
import { scanBatches, type WorkerTask } from './check.js'

const task = workerData as WorkerTask
try {
  const parts = await buildPipeline(task.flags, task.projectId, task.now, false)
  if (parts.format === 'auto') throw new Error('a check worker needs a resolved format')
  // A format with per-file state (W3C) reads this part with the directives written before it.
  const parser = parserForInput(parts.format)
  await replayDirectives(parser, task.path, task.from, READ_CHUNK_BYTES)
  const batches = readLines({ path: task.path }, { from: task.from, final: true, chunkSize: READ_CHUNK_BYTES })
  parentPort!.postMessage(
    await scanBatches(batches, parser, parts.mapperFor(task.path), task.to, null, parts.sites.active ? parts.sites.routerFor(task.path) : null),
  )
} catch (err) {
  parentPort!.postMessage({ error: (err as Error).message })
}
