// What the test API accepted: the events in memory (optionally only the newest N), an NDJSON record
// file (also readable from another process), and the `pg` values seen, so a test can tell duplicates
// and losses apart.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import type { AcceptedEvent } from './contract.js'

const MAX_DUPLICATE_SAMPLES = 20

export interface RecorderOptions {
  /** Append one NDJSON line per event here (created 0600, written synchronously). */
  recordFile?: string
  /** Default true. */
  keepInMemory?: boolean
  /** Default unbounded. */
  maxInMemory?: number
}

export interface PgStats {
  total: number
  distinct: number
  duplicates: string[]
}

export interface Recorder {
  /** Stores one accepted event; returns once it is in memory and in the record file. */
  record(event: AcceptedEvent): void
  /** Events recorded since the last reset (all of them, or the newest `maxInMemory`). */
  events(): AcceptedEvent[]
  /** Events recorded since the last reset, whether kept in memory or not. */
  count(): number
  pg(): PgStats
  /** Forgets every event and empties the record file. */
  clear(): void
  close(): void
}

export function createRecorder(o: RecorderOptions = {}): Recorder {
  const keepInMemory = o.keepInMemory !== false
  const maxInMemory = o.maxInMemory ?? Number.POSITIVE_INFINITY
  let fd = o.recordFile === undefined ? null : openSync(o.recordFile, 'a', 0o600)
  let events: AcceptedEvent[] = []
  let count = 0
  let pgTotal = 0
  let pgSeen = new Set<string>()
  let pgDuplicates: string[] = []

  return {
    record(event) {
      count++
      const pg = event.body.pg
      if (typeof pg === 'string') {
        pgTotal++
        if (pgSeen.has(pg)) {
          if (pgDuplicates.length < MAX_DUPLICATE_SAMPLES) pgDuplicates.push(pg)
        } else pgSeen.add(pg)
      }
      // Written before the answer is sent, so a reader never misses an event the client saw acknowledged.
      if (fd !== null) writeSync(fd, `${JSON.stringify(event)}\n`)
      if (keepInMemory) {
        events.push(event)
        // Trim in batches so a bounded buffer stays O(1) amortised per event.
        if (events.length >= 2 * maxInMemory) events = events.slice(-maxInMemory)
      }
    },
    events: () => (events.length > maxInMemory ? events.slice(-maxInMemory) : events.slice()),
    count: () => count,
    pg: () => ({ total: pgTotal, distinct: pgSeen.size, duplicates: pgDuplicates.slice() }),
    clear() {
      events = []
      count = 0
      pgTotal = 0
      pgSeen = new Set()
      pgDuplicates = []
      if (fd !== null) ftruncateSync(fd, 0)
    },
    close() {
      if (fd !== null) closeSync(fd)
      fd = null
    },
  }
}

/** Reads a `recordFile` (from this or another process). A torn last line (writer killed mid-write)
 *  is ignored; a missing file reads as no events. */
export function readRecordFile(file: string): AcceptedEvent[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const out: AcceptedEvent[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as AcceptedEvent)
    } catch {
      // Only the last line can be torn; anything else is a bug worth seeing.
      if (!text.endsWith(line)) throw new Error(`corrupt record line in ${file}`)
    }
  }
  return out
}
