// The pure per-line core shared by check, run and backfill: bytes -> record -> event or skip.
import { DIRECTIVE_REASON, isRejection, type LogParser, type RequestRecord } from '../../parsers/types.js'
import type { EventKind, LineCounters, OutgoingEvent } from '../types.js'
import type { Mapper } from '../mapper/index.js'

export type { Mapper }

export type LineOutcome =
  | { kind: 'rejected'; reason: string; record?: undefined; event?: undefined }
  /** A line of the log's own directives (W3C `#Fields:`): counted as skipped, not rejected. */
  | { kind: 'directive'; reason: typeof DIRECTIVE_REASON; record?: undefined; event?: undefined }
  | { kind: 'skipped'; reason: string; record: RequestRecord; event?: undefined }
  | { kind: 'event'; event: OutgoingEvent; record: RequestRecord; reason?: undefined }

/** Classifies one line. `truncated` lines (longer than the reader's limit) are rejected unseen. */
export function classifyLine(parser: LogParser, mapper: Mapper, line: Buffer, truncated = false): LineOutcome {
  if (truncated) return { kind: 'rejected', reason: 'line-too-long' }
  const parsed = parser.parse(line)
  if (isRejection(parsed)) {
    if (parsed.rejected === DIRECTIVE_REASON) return DIRECTIVE
    return { kind: 'rejected', reason: parsed.rejected || 'no-match' }
  }
  const mapped = mapper(parsed)
  if ('skip' in mapped) return { kind: 'skipped', reason: mapped.skip, record: parsed }
  return { kind: 'event', event: mapped.event, record: parsed }
}

export function countOutcome(c: LineCounters, o: LineOutcome): void {
  c.lines++
  if (o.kind === 'rejected') countRejected(c, o.reason)
  else if (o.kind === 'skipped' || o.kind === 'directive') countSkipped(c, o.reason)
  else countEvent(c, o.event.kind)
}

function countRejected(c: LineCounters, reason: string): void {
  c.rejected++
  c.rejectedReasons[reason] = (c.rejectedReasons[reason] ?? 0) + 1
}

function countSkipped(c: LineCounters, reason: string): void {
  c.parsed++
  c.skipped[reason] = (c.skipped[reason] ?? 0) + 1
}

function countEvent(c: LineCounters, kind: EventKind): void {
  c.parsed++
  c.events[kind]++
}

/** The `outcome` value of a `--records` line. */
export function outcomeLabel(o: LineOutcome): string | undefined {
  if (o.kind === 'rejected') return undefined
  if (o.kind === 'skipped' || o.kind === 'directive') return `skip:${o.reason}`
  return o.event.kind === 'custom' ? `custom:${o.event.name ?? ''}` : o.event.kind
}

/** Classifies and counts one line when only the counts are wanted (`check` without per-line output):
 *  the mapper's decision without building the request. Returns the rejection reason, if rejected. */
export function countLine(c: LineCounters, parser: LogParser, mapper: Mapper, line: Buffer, truncated: boolean): string | null {
  c.lines++
  const parsed = truncated ? TOO_LONG : parser.parse(line)
  if (isRejection(parsed)) {
    if (parsed.rejected === DIRECTIVE_REASON) {
      countSkipped(c, DIRECTIVE_REASON)
      return null
    }
    const reason = parsed.rejected || 'no-match'
    countRejected(c, reason)
    return reason
  }
  const decision = mapper.classify ? mapper.classify(parsed) : mapper(parsed)
  if (typeof decision === 'string') countEvent(c, decision)
  else if ('skip' in decision) countSkipped(c, decision.skip)
  else countEvent(c, decision.event.kind)
  return null
}

const TOO_LONG = { rejected: 'line-too-long' }
const DIRECTIVE: LineOutcome = Object.freeze({ kind: 'directive', reason: DIRECTIVE_REASON })
