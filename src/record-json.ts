// One `--records` NDJSON object per input line, in the neutral schema of the peer conformance sets
// (access-log-conformance/1), so our parse can be compared field by field with other tools'.
import type { ParseResult, RequestRecord } from '../parsers/types.js'

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

/** Epoch ms -> ISO 8601 UTC: `...:07Z` for whole seconds, `...:07.123Z` for whole milliseconds,
 *  `...:07.123456Z` when there is a sub-millisecond part (rounded to the microsecond). */
export function formatIsoTime(ms: number): string {
  const micros = Math.round(ms * 1000)
  const seconds = Math.floor(micros / 1_000_000)
  const fraction = micros - seconds * 1_000_000
  const iso = new Date(seconds * 1000).toISOString() // ...:07.000Z
  const base = iso.slice(0, iso.length - 5)
  if (fraction === 0) return base + 'Z'
  if (fraction % 1000 === 0) return `${base}.${pad(fraction / 1000, 3)}Z`
  return `${base}.${pad(fraction, 6)}Z`
}

/** Dates JavaScript can represent (±8.64e15 ms). */
function isRepresentableTime(ms: number | null): ms is number {
  return ms !== null && Number.isFinite(ms) && Math.abs(ms) <= 8.64e15
}

function httpVersion(protocol: string | null): string | null {
  if (protocol === null) return null
  return protocol.startsWith('HTTP/') ? protocol.slice(5) : protocol
}

/** The `--records` object for one line: `line` (1-based), `offset` (byte offset of the line start),
 *  `valid`; the neutral fields for a record, or `reason` for a rejected line. `outcome` (what the
 *  pipeline did with a record, e.g. `pageview` or `skip:bot`) is added when given. */
export function recordJson(result: ParseResult, line: number, offset: number, outcome?: string): Record<string, unknown> {
  if ('rejected' in result) {
    // A directive line (W3C `#Fields:`) is not a record but is counted as skipped: say so.
    return outcome === undefined ? { line, offset, valid: false, reason: result.rejected } : { line, offset, valid: false, reason: result.rejected, outcome }
  }
  const r: RequestRecord = result
  const out: Record<string, unknown> = {
    line,
    offset,
    valid: true,
    ip: r.ip,
    time: isRepresentableTime(r.time) ? formatIsoTime(r.time) : null,
    method: r.method,
    path: r.path,
    query: r.query,
    http_version: httpVersion(r.protocol),
    status: r.status,
    bytes: r.bytes,
    referrer: r.referrer,
    user_agent: r.userAgent,
    user: r.user,
    host: r.host,
    port: r.port,
  }
  if (r.method === null) out['request_line'] = r.requestLine
  if (outcome !== undefined) out['outcome'] = outcome
  return out
}
