// The time of an input's first request: `backfill` reads its inputs oldest first by content, so
// that rotated files named out of order (or by date) still give the sessions their rows in time order.
import { isRejection } from '../../parsers/types.js'
import { readLines } from '../source/reader.js'
import type { PipelineParts } from '../options.js'
import { detectInput, sampleOf } from './detect-input.js'

/** null: no readable time in the input's first lines (or no known format). */
export async function firstRecordTime(path: string, parts: PipelineParts): Promise<number | null> {
  const it = readLines({ path }, { final: true, chunkSize: 64 * 1024 })
  try {
    const first = await it.next()
    if (first.done) return null
    const sample = sampleOf(first.value)
    const parser = await detectInput(sample, { format: parts.format, candidates: parts.candidates, label: path, linesBefore: 0, verbose: false })
    if (parser === null) return null
    for (const line of sample) {
      const r = parser.parse(line)
      if (!isRejection(r) && r.time !== null) return r.time
    }
    return null
  } catch {
    return null // the session that reads it says what is wrong
  } finally {
    await it.return(undefined)
  }
}
