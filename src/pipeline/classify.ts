// The pure per-line core of every command: bytes -> record -> event or skip, and the counters.
import { DIRECTIVE_REASON, isRejection, type LogParser, type ParseResult, type RequestRecord } from '../../parsers/types.js'
import type { EventKind, LineCounters, OutgoingEvent } from '../types.js'
import type { Mapper } from '../mapper/index.js'

export type { Mapper }

/** Why a line inside a runtime wrapper (CRI, Docker json-file) is passed over: its inner text is
 *  not an access-log line (ingress-nginx's own messages, an error log on the same stream). */
export const NOT_ACCESS_LOG = 'not-access-log'
/** A line that holds nothing but white space. */
export const EMPTY_LINE = 'empty-line'

export type LineOutcome =
  | { kind: 'rejected'; reason: string; record?: undefined; event?: undefined }
  /** Not a request, and not a failure: a log's own directive (W3C `#Fields:`), a line of another
   *  stream, a container's own message. Counted as skipped, with no record. */
  | { kind: 'passed'; reason: string; record?: undefined; event?: undefined }
  | { kind: 'skipped'; reason: string; record: RequestRecord; event?: undefined }
  | { kind: 'event'; event: OutgoingEvent; record: RequestRecord; reason?: undefined }
  /** Counting only: the mapper's decision, without building the request. */
  | { kind: 'counted'; eventKind: EventKind; record: RequestRecord; event?: undefined; reason?: undefined }

/** `full` builds each event (to send, write or print it); `count` only decides (check's counts). */
export type ClassifyMode = 'full' | 'count'

/** Classifies one line. `truncated` lines (longer than the reader's limit) are rejected unseen;
 *  `wrapped` lines (inside a runtime wrapper) that do not parse are passed over, not rejected. */
export function classifyLine(parser: LogParser, mapper: Mapper, line: Buffer, truncated = false, wrapped = false, mode: ClassifyMode = 'full'): LineOutcome {
  if (truncated) return TOO_LONG
  return classifyParsed(parser.parse(line), mapper, wrapped, mode)
}

/** `classifyLine` for the line `buf[start, end)` of a batch, read with the parser's `parseRange` when it has one. */
export function classifyRange(parser: LogParser, mapper: Mapper, buf: Buffer, start: number, end: number, truncated: boolean, mode: ClassifyMode): LineOutcome {
  if (truncated) return TOO_LONG
  return classifyParsed(parser.parseRange !== undefined ? parser.parseRange(buf, start, end) : parser.parse(buf.subarray(start, end)), mapper, false, mode)
}

function classifyParsed(parsed: ParseResult, mapper: Mapper, wrapped: boolean, mode: ClassifyMode): LineOutcome {
  if (isRejection(parsed)) {
    if (parsed.rejected === DIRECTIVE_REASON) return DIRECTIVE
    if (wrapped) return NOT_ACCESS
    return { kind: 'rejected', reason: parsed.rejected || 'no-match' }
  }
  if (mode === 'count' && mapper.classify) {
    const decision = mapper.classify(parsed)
    if (typeof decision === 'string') return { kind: 'counted', eventKind: decision, record: parsed }
    if ('skip' in decision) return { kind: 'skipped', reason: decision.skip, record: parsed }
    return { kind: 'counted', eventKind: decision.event.kind, record: parsed }
  }
  const mapped = mapper(parsed)
  if ('skip' in mapped) return { kind: 'skipped', reason: mapped.skip, record: parsed }
  return { kind: 'event', event: mapped.event, record: parsed }
}

export function countOutcome(c: LineCounters, o: LineOutcome): void {
  c.lines++
  switch (o.kind) {
    case 'rejected':
      c.rejected++
      c.rejectedReasons[o.reason] = (c.rejectedReasons[o.reason] ?? 0) + 1
      return
    case 'skipped':
    case 'passed':
      c.parsed++
      c.skipped[o.reason] = (c.skipped[o.reason] ?? 0) + 1
      return
    case 'event':
      c.parsed++
      c.events[o.event.kind]++
      return
    case 'counted':
      c.parsed++
      c.events[o.eventKind]++
  }
}

/** The `outcome` value of a `--records` line. */
export function outcomeLabel(o: LineOutcome): string | undefined {
  switch (o.kind) {
    case 'rejected':
      return undefined
    case 'skipped':
    case 'passed':
      return `skip:${o.reason}`
    case 'event':
      return o.event.kind === 'custom' ? `custom:${o.event.name ?? ''}` : o.event.kind
    case 'counted':
      return o.eventKind
  }
}

export const TOO_LONG: LineOutcome = Object.freeze({ kind: 'rejected', reason: 'line-too-long' })
const DIRECTIVE: LineOutcome = Object.freeze({ kind: 'passed', reason: DIRECTIVE_REASON })
export const NOT_ACCESS: LineOutcome = Object.freeze({ kind: 'passed', reason: NOT_ACCESS_LOG })
export const EMPTY: LineOutcome = Object.freeze({ kind: 'rejected', reason: EMPTY_LINE })
