// Import rows (`backfill --via import`): a session's pageviews and custom events become Swetrix Data
// Import rows (Simple Analytics CSV), grouped into sessions as Swetrix groups live visits, written
// to size-capped files. With several sites each project has its own sessions and files (one
// import each). The per-line work (parse, map, format the row) runs in this thread or in
// worker threads for a large file (batches taken back in file order); sessions and files stay here.
// Checkpoints are not written here: each input's is returned by `checkpoints()` and saved by the
// command once the files are durable, so a stop before that makes a rerun read the same lines again.
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import { hashBefore } from '../source/fingerprint.js'
import type { LineBatch } from '../source/reader.js'
import type { ImportCsvSink, ImportFileInfo } from '../sink/import-csv.js'
import { Sessionizer, DAY_MS, type CarriedSession, type SessionStats } from '../import/sessions.js'
import { createRowScanner, type BatchSite, type RowBatch, type RowScannerOptions } from '../import/rows.js'
import { RowPool, type RowPoolTask } from '../import/row-pool.js'
import type { SiteMap } from '../mapper/sites.js'
import { ProjectTally } from '../output/projects.js'
import { addCounters } from '../types.js'
import { mergeReferrerTally } from '../mapper/referrer-hint.js'
import { READ_CHUNK_BYTES, type Destination, type InputRead } from '../pipeline/session.js'
import type { SessionBatch } from '../pipeline/line-loop.js'
import type { ProgressHooks } from './delivery.js'

/** Inputs (plain; an eighth of it gzip-compressed) below this are read in one thread: each worker
 *  costs ~40 ms and ~15 MB to start. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024
/** Batches for worker threads: larger than a single thread's, as each message between threads has
 *  a cost of its own; small enough that the batches in flight stay a few MB. */
const PARALLEL_CHUNK_BYTES = 256 * 1024
/** More than the lines of any batch (a batch holds at most about 1 MiB of lines). */
const ROWS_PER_BATCH = 2 ** 22

export interface ImportRowsOptions extends RowScannerOptions {
  store: CheckpointStore | null
  /** The files of one project (null: the only one, without sites), opened at its first row. */
  openSink: (project: string | null) => ImportCsvSink
  /** Several sites (null: one project): rows are grouped by the project each line is routed to. */
  sites: SiteMap | null
  /** Threads for the per-line work of a large input (1: this thread only). */
  threads: number
  /** What each worker rebuilds its pipeline from. */
  poolTask: Omit<RowPoolTask, 'salt' | 'countryDb'> & Pick<RowPoolTask, 'countryDb'>
  now: () => number
}

/** Rows and events without a time, per input (the summary). */
export interface RowCounts {
  rows: number
  noTime: number
}

/** One project's rows: its sessions and its files. */
interface RowGroup {
  project: string | null
  sessions: Sessionizer
  sink: ImportCsvSink | null
  rows: number
}

/** What one project's rows became. */
export interface GroupResult {
  /** null: the only project, without sites. */
  project: string | null
  rows: number
  sessions: SessionStats
  files: ImportFileInfo[]
}

export class ImportRows {
  readonly destination: Destination
  /** Rows written per UTC day (day number since the epoch). */
  readonly perDay = new Map<number, number>()
  /** Several sites: lines, events and skips per project (rows are in `groups()`). */
  readonly projects: ProjectTally | null
  private readonly byProject = new Map<string, RowGroup>()
  /** Rows are handed to the sessions as handles: batch number * ROWS_PER_BATCH + row in batch. A
   *  batch is kept until its last row is written. */
  private readonly kept = new Map<number, { rows: RowBatch; text: Buffer; left: number }>()
  private batchNo = 0
  private readonly scanRows: ReturnType<typeof createRowScanner>
  private pool: RowPool | null = null
  private readonly counts = new Map<string, RowCounts>()
  private readonly done: FileCheckpoint[] = []
  /** Where bytes read are shown (the progress bar, once drawn). */
  progress: Pick<ProgressHooks, 'file'> | null = null

  constructor(private readonly o: ImportRowsOptions) {
    this.scanRows = createRowScanner(o)
    this.projects = o.sites === null ? null : new ProjectTally(o.sites.projects())
    // One project: its directory is there (or its error shown) before any line is read.
    if (o.sites === null) this.group('').sink = o.openSink(null)
    this.destination = {
      checkpoints: o.store === null ? null : { store: o.store, keyOf: (id) => id },
      fromStart: true,
      readsWhole: false,
      chunkSize: (bytes) => (this.parallelFor(bytes) ? PARALLEL_CHUNK_BYTES : READ_CHUNK_BYTES),
      consume: (read) => this.consume(read),
    }
  }

  /** Sessions and late rows over every project. */
  get stats(): SessionStats {
    const all = { sessions: 0, late: 0 }
    for (const g of this.byProject.values()) {
      all.sessions += g.sessions.stats.sessions
      all.late += g.sessions.stats.late
    }
    return all
  }

  countsOf(label: string): RowCounts {
    return this.counts.get(label) ?? { rows: 0, noTime: 0 }
  }

  /** Each input's checkpoint at the end of its last line read (for the command to save once the
   *  files are durable). */
  checkpoints(): readonly FileCheckpoint[] {
    return this.done
  }

  /** Ends the sessions and closes the files; what each project's rows became (with sites, every
   *  configured project, also one without rows). */
  finish(): GroupResult[] {
    if (this.o.sites !== null) for (const pid of this.o.sites.projects()) this.group(pid)
    for (const g of this.byProject.values()) g.sessions.flush()
    return [...this.byProject.values()].map((g) => ({ project: g.project, rows: g.rows, sessions: g.sessions.stats, files: g.sink?.close() ?? [] }))
  }

  /** Sessions an earlier backfill left open, per group ('' without sites, else the project id),
   *  before the first line; a group of the other kind (sites then none, or the reverse) is left out. */
  restoreSessions(groups: Record<string, readonly CarriedSession[]>): void {
    for (const [key, sessions] of Object.entries(groups))
      if (this.o.sites === null ? key === '' : this.o.sites.projects().includes(key)) this.group(key).sessions.restore(sessions)
  }

  /** The sessions the next backfill of these inputs may extend, per group, at most `limit` each. */
  carriedSessions(limit: number): Record<string, CarriedSession[]> {
    const out: Record<string, CarriedSession[]> = {}
    for (const [key, g] of this.byProject) out[key] = g.sessions.carried(limit)
    return out
  }

  /** Removes the half-written files (the command failed or was stopped). */
  abort(): void {
    for (const g of this.byProject.values()) g.sink?.abort()
  }

  async close(): Promise<void> {
    await this.pool?.close()
  }

  private parallelFor(bytes: number): boolean {
    return this.o.threads > 1 && bytes >= PARALLEL_MIN_BYTES
  }

  private rowPool(): RowPool {
    return (this.pool ??= new RowPool(this.o.threads - 1, { ...this.o.poolTask, salt: this.o.salt }))
  }

  private batchOf(row: number) {
    return this.kept.get(Math.floor(row / ROWS_PER_BATCH))!
  }

  /** The rows of `pid` (without sites every row is in one group). */
  private group(pid: string): RowGroup {
    const key = this.o.sites === null ? '' : pid
    let g = this.byProject.get(key)
    if (g === undefined) {
      const group: RowGroup = {
        project: this.o.sites === null ? null : pid,
        sink: null,
        rows: 0,
        sessions: new Sessionizer({
          visitorHash: (row) => {
            const b = this.batchOf(row).rows
            return b.hashes[b.visitorOf[row % ROWS_PER_BATCH]!]!
          },
          emit: (row, id) => this.emit(group, row, id),
        }),
      }
      this.byProject.set(key, (g = group))
    }
    return g
  }

  private emit(g: RowGroup, row: number, id: string): void {
    const n = Math.floor(row / ROWS_PER_BATCH)
    const kept = this.kept.get(n)!
    const b = kept.rows
    const i = row - n * ROWS_PER_BATCH
    const time = b.times[i]!
    g.rows++
    ;(g.sink ??= this.o.openSink(g.project)).write(kept.text, i === 0 ? 0 : b.textEnds[i - 1]!, b.textEnds[i]!, `${b.countries[b.visitorOf[i]!]},${id}\n`, time)
    if (--kept.left === 0) this.kept.delete(n)
    const day = Math.floor(time / DAY_MS)
    this.perDay.set(day, (this.perDay.get(day) ?? 0) + 1)
  }

  private async consume(read: InputRead): Promise<{ stopped: boolean }> {
    const counts: RowCounts = { rows: 0, noTime: 0 }
    this.counts.set(read.label, counts)
    const ident = read.ident
    const bytes = ident === null ? 0 : ident.gzip ? ident.size * 8 : ident.size - read.from
    const parallel = this.parallelFor(bytes)
    const site: BatchSite | undefined = this.o.sites === null ? undefined : { mapper: read.mapper, projectOf: this.o.sites.routerFor(read.label) }
    let end = read.from
    let line = read.linesBefore
    const take = (rows: RowBatch, b: SessionBatch): void => {
      addCounters(read.tally.counters, rows.counters)
      if (read.tally.referrers) mergeReferrerTally(read.tally.referrers, rows.referrers)
      if (rows.projectCounts !== null) this.projects?.add(rows.projectCounts)
      counts.noTime += rows.noTime
      const n = rows.times.length
      counts.rows += n
      if (n > 0) {
        const first = this.batchNo++ * ROWS_PER_BATCH
        this.kept.set(first / ROWS_PER_BATCH, { rows, text: Buffer.from(rows.text.buffer, rows.text.byteOffset, rows.text.byteLength), left: n })
        const groups = rows.projects.map((pid) => this.group(pid))
        for (let i = 0; i < n; i++) groups[rows.visitorOf[i]!]!.sessions.push(rows.times[i]!, first + i)
      }
      line += rows.lines
      end = endOf(b)
      this.progress?.file(read.label, end)
    }
    // Batches go to the worker threads or stay for this one (one in `localEvery`, scanned when it is
    // the oldest), and are taken back in file order; at most pool.depth in flight.
    const inFlight: { rows: Promise<RowBatch> | null; b: SessionBatch }[] = []
    const takeOldest = async (): Promise<void> => {
      const f = inFlight.shift()!
      take(f.rows === null ? this.scanRows(f.b, site) : await f.rows, f.b)
    }
    let nth = 0
    try {
      for await (const b of read.batches) {
        // A format with per-file state (W3C directives) needs its lines in one thread, in order;
        // unwrapped container lines are scanned here too.
        const pool = parallel && b.parser !== null && b.parser.forInput === undefined && b.framed === null ? this.rowPool() : null
        if (pool === null) {
          while (inFlight.length > 0) await takeOldest()
          take(this.scanRows(b, site), b)
          continue
        }
        const local = nth++ % pool.localEvery === 0
        const rows = local ? null : pool.scan(b.parser!.name, read.label, rawLines(b.raw))
        rows?.catch(() => {}) // awaited below, in order; an early failure must not be unhandled meanwhile
        inFlight.push({ rows, b })
        while (inFlight.length > 0 && (inFlight.length >= pool.depth || inFlight[0]!.rows === null)) await takeOldest()
      }
      while (inFlight.length > 0) await takeOldest()
    } finally {
      inFlight.length = 0
    }
    // Stopped: nothing of this run is kept (the command writes no file and no checkpoint).
    if (read.signal.aborted) return { stopped: true }
    if (read.checkpoint !== null && read.ident !== null) {
      const cp: FileCheckpoint = {
        ...read.checkpoint,
        acked: end,
        ackedLine: line,
        dispatched: end,
        doneAhead: [],
        updatedAt: new Date(this.o.now()).toISOString(),
      }
      delete cp.stoppedCleanly
      delete cp.unsent
      if (!read.ident.gzip && end > 0 && read.handle !== null) {
        cp.ackedTailHash = await hashBefore(read.handle, end)
        cp.tailHashAt = end
      }
      if (read.completeWhenDone()) cp.complete = true
      this.done.push(cp)
    }
    return { stopped: false }
  }
}

function rawLines(raw: LineBatch) {
  return { buf: raw.buf, starts: raw.starts, contentEnds: raw.contentEnds, truncated: raw.truncated }
}

function endOf(b: SessionBatch): number {
  if (b.framed) return b.framed.ends.at(-1) ?? 0
  return b.raw.base + (b.raw.ends.at(-1) ?? 0)
}
