// Worker threads for the per-line work of an import (rows.ts): batches go out round-robin and come
// back as promises the caller awaits in file order, so the sessions see exactly the rows, in the
// order, that one thread would produce. The caller bounds the batches in flight (`depth`) and
// scans a share of the batches itself (`localEvery`), beside the sessions and the files.
import { Worker } from 'node:worker_threads'
import type { PipelineFlags } from '../options.js'
import type { LinesIn, RowBatch } from './rows.js'

/** What each worker rebuilds its pipeline from. */
export interface RowPoolTask {
  flags: PipelineFlags
  projectId: string | null
  now: number
  /** sessions.ts visitorHash's salt. */
  salt: string
  /** The country database (geo.ts loadCountryDatabase), shared; null: no country. */
  countryDb: SharedArrayBuffer | null
}

export interface RowJob extends LinesIn {
  id: number
  /** The parser's name (a format without per-file state). */
  parser: string
  /** The input the lines are from (several sites: its site decides their project). */
  path: string
}

type Reply = { id: number; rows: RowBatch } | { id: number; error: string }

export class RowPool {
  private readonly workers: Worker[]
  private readonly waiting = new Map<number, { resolve: (r: RowBatch) => void; reject: (e: Error) => void }>()
  private nextId = 0
  private failed: Error | null = null
  private closing = false

  constructor(workers: number, task: RowPoolTask) {
    this.workers = Array.from({ length: workers }, () => {
      // A small young generation keeps each worker's share of peak RSS low: its allocations are
      // short-lived (a batch's records).
      const w = new Worker(new URL('./row-worker.js', import.meta.url), {
        workerData: task,
        resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 },
      })
      w.on('message', (m: Reply) => this.settle(m))
      w.on('error', (e) => this.fail(e))
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`import worker exited with code ${code}`))
      })
      return w
    })
  }

  /** Batches in flight that keep every worker busy while the caller takes the oldest (with 4 in
   *  flight for one worker, the profile showed both threads idle ~1 s of ~4.5 s, waiting on
   *  each other; with 10, neither). */
  get depth(): number {
    return this.workers.length * 6 + 4
  }

  /** The caller scans one batch in this many itself: half a worker's share, as it also keeps the
   *  sessions and writes the files (on 2 cores: one worker, and a third of the batches here). */
  get localEvery(): number {
    return this.workers.length * 2 + 1
  }

  /** Sends a batch's lines to the next worker. The bytes move to it when `lines.buf` is the whole
   *  of its own memory (the reader's batches are: each owns its buffer), else they are copied. */
  scan(parser: string, path: string, lines: LinesIn): Promise<RowBatch> {
    if (this.failed) return Promise.reject(this.failed)
    const id = this.nextId++
    const src = lines.buf
    // A Buffer from Node's shared pool (small ones only) must never move: other Buffers use it.
    const own = src.buffer instanceof ArrayBuffer && src.byteOffset === 0 && src.buffer.byteLength > Buffer.poolSize
    const buf = own ? src : new Uint8Array(src)
    const starts = Int32Array.from(lines.starts)
    const contentEnds = Int32Array.from(lines.contentEnds)
    const truncated = lines.truncated === undefined ? undefined : Array.from(lines.truncated)
    const job: RowJob = { id, parser, path, buf, starts, contentEnds, truncated }
    const p = new Promise<RowBatch>((resolve, reject) => this.waiting.set(id, { resolve, reject }))
    this.workers[id % this.workers.length]!.postMessage(job, [buf.buffer as ArrayBuffer, starts.buffer as ArrayBuffer, contentEnds.buffer as ArrayBuffer])
    return p
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.all(this.workers.map((w) => w.terminate()))
  }

  private settle(m: Reply): void {
    const w = this.waiting.get(m.id)
    if (w === undefined) return
    this.waiting.delete(m.id)
    if ('error' in m) w.reject(new Error(m.error))
    else w.resolve(m.rows)
  }

  private fail(e: Error): void {
    this.failed ??= e
    for (const w of this.waiting.values()) w.reject(e)
    this.waiting.clear()
  }
}
