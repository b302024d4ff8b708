// A worker thread of `backfill --via import`: turns batches of lines into packed import rows
// (rows.ts) with a pipeline rebuilt from the same flags, and posts each back
// (see row-pool.ts). Sessions and files stay in the main thread.
import { parentPort, workerData } from 'node:worker_threads'
import { buildPipeline } from '../options.js'
import type { LogParser } from '../../parsers/types.js'
import { countryLookupOf } from './geo.js'
import { batchOfLines, createRowScanner, rowBatchTransfers, type BatchSite } from './rows.js'
import type { RowJob, RowPoolTask } from './row-pool.js'

const task = workerData as RowPoolTask
const parts = await buildPipeline(task.flags, task.projectId, task.now, false)
const scan = createRowScanner({
  mapper: parts.mapper,
  salt: task.salt,
  country: task.countryDb === null ? null : countryLookupOf(task.countryDb),
})
const parsers = new Map<string, LogParser | null>()
const sites = new Map<string, BatchSite | undefined>()

/** Several sites: the file's mapper and routing, as the main thread has them (options.ts mapperFor). */
function siteOf(path: string): BatchSite | undefined {
  if (!parts.sites.active) return undefined
  let s = sites.get(path)
  if (s === undefined) sites.set(path, (s = { mapper: parts.mapperFor(path), projectOf: parts.sites.routerFor(path) }))
  return s
}

function parserNamed(name: string): LogParser {
  let p = parsers.get(name)
  if (p === undefined) {
    p = parts.format !== 'auto' ? parts.format : (parts.candidates.find((c) => c.name === name) ?? null)
    parsers.set(name, p)
  }
  if (p === null || p.name !== name) throw new Error(`an import worker has no parser named ${name}`)
  return p
}

parentPort!.on('message', (job: RowJob) => {
  try {
    const rows = scan(batchOfLines(parserNamed(job.parser), job), siteOf(job.path))
    parentPort!.postMessage({ id: job.id, rows }, rowBatchTransfers(rows))
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message })
  }
})
