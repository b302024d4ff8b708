// Counting (`check`): a session's lines are classified and counted, nothing is sent or recorded;
// with `--records` or `--events` each line (or event) is also printed as NDJSON.
import type { LogParser } from '../../parsers/types.js'
import { recordJson } from '../record-json.js'
import { outcomeLabel, type LineOutcome } from '../pipeline/classify.js'
import { scanLines, type LineVisitor } from '../pipeline/line-loop.js'
import type { Destination, InputRead } from '../pipeline/session.js'
import type { LineWriter } from '../output/writer.js'
import { safeJson } from '../output/safe-text.js'

export interface CountingOptions {
  /** NDJSON per line: parsed records (`--records`), or the exact requests that would be sent (`--events`). */
  print: 'nothing' | 'records' | 'events'
  writer: LineWriter | null
  /** Called once, when the format is known (a parallel check starts its other parts then). */
  onFormat?(parser: LogParser): void
}

export function countingDestination(o: CountingOptions): Destination {
  return {
    checkpoints: null,
    fromStart: true,
    readsWhole: true,
    consume: (read) => count(o, read),
  }
}

async function count(o: CountingOptions, read: InputRead): Promise<{ stopped: boolean }> {
  // Counting only, one project: the cheaper path with the same decisions (the mapper decides
  // without building the request).
  const mode = o.print === 'nothing' && read.tally.projects === null ? 'count' : 'full'
  const visit = visitorFor(o)
  let formatSaid = false
  for await (const b of read.batches) {
    if (!formatSaid && b.parser !== null) {
      formatSaid = true
      o.onFormat?.(b.parser)
    }
    scanLines(b, mode, read.mapper, read.tally, visit)
    await o.writer?.settle()
  }
  await o.writer?.flush()
  return { stopped: read.signal.aborted }
}

function visitorFor(o: CountingOptions): LineVisitor | null {
  const writer = o.writer
  if (writer === null || o.print === 'nothing') return null
  if (o.print === 'records')
    return (outcome: LineOutcome, start, _end, line) => {
      const parsed = outcome.record ?? { rejected: outcome.reason ?? '' }
      writer.push(safeJson(recordJson(parsed, line, start, outcomeLabel(outcome))))
    }
  return (outcome: LineOutcome) => {
    if (outcome.kind !== 'event') return
    const ev = outcome.event
    writer.push(safeJson({ endpoint: ev.endpoint, headers: ev.headers, body: ev.body }))
  }
}
