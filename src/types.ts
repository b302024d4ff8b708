// Shared shapes of the pipeline: source -> parser -> mapper -> sink -> checkpoint.
export type { RequestRecord, Rejection, ParseResult, LogParser, ParserOptions } from '../parsers/types.js'

export type EventKind = 'pageview' | 'error' | 'custom'

/** The Events API path an event goes to; the sink joins it to `--api-url`
 *  (`/log` -> api-url, `/log/custom` -> api-url + `/custom`, `/log/error` -> api-url + `/error`). */
export type Endpoint = '/log' | '/log/custom' | '/log/error'

/** Exactly the request that would be sent (also what `check --events` prints). */
export interface OutgoingEvent {
  kind: EventKind
  /** For custom events: the rule's event name (`ev`). */
  name?: string
  endpoint: Endpoint
  /** Header values are Latin-1 byte strings (the visitor's raw bytes), without CR/LF/NUL. */
  headers: Record<string, string>
  body: Record<string, unknown>
}

/** Why a parsed record is not sent. Stable identifiers, used as counter keys. */
export type SkipReason = 'static' | 'bot' | 'method' | 'status' | 'filtered' | 'time' | 'no-site' | 'malformed' | (string & {})

export type MapResult = { event: OutgoingEvent } | { skip: SkipReason }

/** Counters shared by `check`, `run` and `backfill` (the `--json` summary). Invariants:
 *  lines = parsed + rejected; parsed = sum(events) + sum(skipped). */
export interface LineCounters {
  lines: number
  parsed: number
  rejected: number
  events: { pageview: number; error: number; custom: number }
  skipped: Record<string, number>
  rejectedReasons: Record<string, number>
  /** Lines read after removing damage around them (`nul-bytes`: a block of NULs before the line),
   *  counted besides their outcome; absent when there was none. */
  repaired?: Record<string, number>
}

export function emptyCounters(): LineCounters {
  return {
    lines: 0,
    parsed: 0,
    rejected: 0,
    events: { pageview: 0, error: 0, custom: 0 },
    skipped: { static: 0, bot: 0, method: 0, status: 0, filtered: 0, time: 0 },
    rejectedReasons: {},
  }
}

export function addCounters(into: LineCounters, from: LineCounters): void {
  into.lines += from.lines
  into.parsed += from.parsed
  into.rejected += from.rejected
  into.events.pageview += from.events.pageview
  into.events.error += from.events.error
  into.events.custom += from.events.custom
  for (const [k, v] of Object.entries(from.skipped)) into.skipped[k] = (into.skipped[k] ?? 0) + v
  for (const [k, v] of Object.entries(from.rejectedReasons)) into.rejectedReasons[k] = (into.rejectedReasons[k] ?? 0) + v
  if (from.repaired) for (const [k, v] of Object.entries(from.repaired)) (into.repaired ??= {})[k] = (into.repaired[k] ?? 0) + v
}
