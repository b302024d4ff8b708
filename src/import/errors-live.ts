// `backfill --via import --errors-via-api`: Data Import takes no error events, so they are sent
// live to the Events API through the same HTTP sink and delivery engine `run` uses (they arrive
// stamped with the time they are sent). Their progress is kept apart from the import checkpoints,
// in `import-errors.json` of the state dir (acked offset, dispatched offset and done-ahead offsets
// per input, as the engine reports them), so a rerun after a stop or kill never sends an error
// twice: errors before the acked offset or among the done-ahead ones are skipped; errors between
// the acked and the dispatched offset of a killed run may have arrived and are counted uncertain,
// not sent again. The import rows and their checkpoints do not depend on this (and vice versa).
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../checkpoint/atomic.js'
import { deliver, type DeliveryItem, type DeliveryStats, type Progress } from '../delivery/engine.js'
import type { EventSink } from '../sink/http.js'
import { readLines } from '../source/reader.js'
import { classifyLine, type Mapper } from '../pipeline/classify.js'
import { READ_CHUNK_BYTES } from '../pipeline/open-input.js'
import type { LogParser } from '../../parsers/types.js'

const STATE_FILE = 'import-errors.json'

export interface ErrorProgress {
  acked: number
  ackedLine: number
  dispatched: number
  doneAhead: number[]
}

export interface LiveErrorStats extends DeliveryStats {
  /** Errors skipped because an earlier run delivered them. */
  alreadySent: number
}

/** The per-input progress of error delivery, saved atomically after each engine progress save. */
export class ErrorLedger {
  private constructor(
    private readonly file: string,
    private readonly byId: Record<string, ErrorProgress>,
  ) {}

  static async open(stateDir: string): Promise<ErrorLedger> {
    const file = join(stateDir, STATE_FILE)
    let data: Record<string, ErrorProgress>
    try {
      data = JSON.parse(await readFile(file, 'utf8')) as Record<string, ErrorProgress>
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('not an object')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`${file}: damaged (${(err as Error).message}); move it aside (errors already sent may then be sent again)`, { cause: err })
      data = {}
    }
    return new ErrorLedger(file, data)
  }

  get(id: string): ErrorProgress | undefined {
    return this.byId[id]
  }

  async set(id: string, p: ErrorProgress): Promise<void> {
    this.byId[id] = { acked: p.acked, ackedLine: p.ackedLine, dispatched: p.dispatched, doneAhead: [...p.doneAhead] }
    await writeFileAtomic(this.file, JSON.stringify(this.byId) + '\n')
  }
}

export interface SendErrorsOptions {
  path: string
  /** The input's identity (checkpoint id). */
  id: string
  parser: LogParser
  mapper: Mapper
  final: boolean
  sink: EventSink
  /** null: a dry run (count, send nothing). */
  ledger: ErrorLedger | null
  concurrency: number
  signal: AbortSignal
  stats: LiveErrorStats
}

/** Reads `path` again and delivers its error events; returns false when stopped by the signal. */
export async function sendErrors(o: SendErrorsOptions): Promise<boolean> {
  const known = o.ledger?.get(o.id)
  const from = known?.acked ?? 0
  const resumeEnd = known?.dispatched ?? from
  const doneAhead = new Set(known?.doneAhead ?? [])
  const stats = o.stats
  async function* items(): AsyncGenerator<DeliveryItem> {
    let lineNo = known?.ackedLine ?? 0
    for await (const batch of readLines({ path: o.path }, { from, final: o.final, signal: o.signal, chunkSize: READ_CHUNK_BYTES })) {
      const { buf, base, starts, contentEnds, ends, truncated } = batch
      for (let i = 0; i < starts.length; i++) {
        lineNo++
        const outcome = classifyLine(o.parser, o.mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
        if (outcome.kind !== 'event' || outcome.event.kind !== 'error') continue
        const start = base + starts[i]!
        const end = base + ends[i]!
        if (doneAhead.has(start)) {
          stats.alreadySent++
          yield { start, end, line: lineNo }
        } else if (start < resumeEnd) {
          stats.uncertain++
          yield { start, end, line: lineNo }
        } else yield { start, end, line: lineNo, event: outcome.event }
      }
    }
  }
  if (o.ledger === null) {
    for await (const it of items()) if (it.event) stats.sent++
    return true
  }
  const ledger = o.ledger
  const result = await deliver(items(), {
    concurrency: o.concurrency,
    sink: o.sink,
    persist: (p: Progress) => ledger.set(o.id, p),
    // Data Import has no dead-letter file of its own: a refused error event is counted.
    onDeadLetter: async () => {},
    initial: { acked: from, ackedLine: known?.ackedLine ?? 0 },
    signal: o.signal,
  })
  for (const k of ['sent', 'accepted', 'botIgnored', 'deadLettered', 'retries', 'uncertain'] as const) stats[k] += result.stats[k]
  await ledger.set(o.id, result.progress)
  return !result.stopped
}
