// W3C extended log files (IIS, CloudFront, NetScaler, Incapsula, SHOUTcast, ...): the layout comes
// from the file's own `#Fields:` directive, and a later `#Fields:` line (IIS writes one after each
// restart) switches the layout from that line on. That makes this a parser with per-file state:
// the pipeline takes one instance per input (`forInput`). `#Version:`, `#Date:`, `#Software:` and
// other `#` lines are directives (counted as skipped, not rejected).
//
// Values are space-separated (IIS writes a space inside a value as `+`; some writers quote values
// that hold spaces, `"..."` with `""` for a quote) or tab-separated (CloudFront, which
// percent-encodes the User-Agent). W3C times (`date`, `time`) are UTC; IIS's `date-local` and
// `time-local` are read in `--timezone` (`ParserOptions.timeZone`), else in the machine's zone.
//
// Without a `#Fields:` line (a file cut before its header, or a resumed read whose directives are
// not available), the IIS default layouts (14 or 15 space-separated fields) and CloudFront's
// standard layout (tab-separated, its documented field order) are assumed.

import { DIRECTIVE_REASON, type LogParser, type ParseResult, type ParserOptions, type RequestRecord } from './types.js'
import { decodeLine } from './util/decode.js'
import { digitsValue, splitHostPort } from './util/fields.js'
import { fillTarget } from './util/request-line.js'
import { assumedLayout, layoutOf, nonNegative, readFields, type Layout, type W3cFields } from './util/w3c-fields.js'
import { directiveDateOf, readTime } from './util/w3c-time.js'
import { acceptLanguageValue, durationValue, referrerValue, splitSpaced, userAgentValue } from './util/w3c-values.js'
import { createWallClock, type WallClock } from './util/wall-clock.js'

const HASH = 0x23
const TAB = 0x09

const DIRECTIVE = Object.freeze({ rejected: DIRECTIVE_REASON })
const EMPTY = Object.freeze({ rejected: 'empty' })
const NO_MATCH = Object.freeze({ rejected: 'no-match' })
const NO_FIELDS = Object.freeze({ rejected: 'no-fields-directive' })
const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const BAD_STATUS = Object.freeze({ rejected: 'bad-status' })
const BAD_BYTES = Object.freeze({ rejected: 'bad-bytes' })
const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]{0,24}$/
const INTERNAL = Object.freeze({ rejected: 'parser-error' })

type W3cRecord = RequestRecord & { xForwardedFor: string | null; requestTime: number | null; acceptLanguage: string | null }

/** The status code of `sc-status` (else SHOUTcast's `c-status`): null when not logged, -1 when it
 *  is not a status. */
function statusOf(f: W3cFields): number | null {
  const st = f.status ?? f.altStatus
  if (st === null) return null
  return st.length <= 3 ? digitsValue(st, 0, st.length) : -1
}

/** The record's fields that come straight from one value each; time, status, bytes and the request
 *  target are the caller's. */
function recordOf(f: W3cFields, tabs: boolean): W3cRecord {
  const host = f.host === null ? null : splitHostPort(f.host)
  const rec: W3cRecord = {
    ip: f.ip,
    time: null,
    method: f.method !== null && METHOD_TOKEN.test(f.method) ? f.method : null,
    path: null,
    query: null,
    protocol: f.protocol,
    status: null,
    bytes: null,
    referrer: f.referrer === null ? null : referrerValue(f.referrer),
    userAgent: f.userAgent === null ? null : userAgentValue(f.userAgent, tabs),
    user: f.user,
    host: host === null ? null : host.host,
    port: host?.port ?? f.port,
    requestLine: null,
    xForwardedFor: f.xForwardedFor,
    requestTime: f.timeTaken === null ? null : durationValue(f.timeTaken, f.timeTakenIsMs),
    acceptLanguage: f.acceptLanguage === null ? null : acceptLanguageValue(f.acceptLanguage, tabs),
  }
  // CloudFront's x-host-header is the Host the viewer sent: it wins over cs(Host).
  if (f.hostHeader !== null) {
    const hp = splitHostPort(f.hostHeader)
    rec.host = hp.host
    rec.port = hp.port
  }
  if (rec.ip !== null && rec.ip.charCodeAt(0) === 0x5b && rec.ip.endsWith(']')) rec.ip = rec.ip.slice(1, -1)
  return rec
}

/** `cs-uri`: a path, a full URL, or (Incapsula) `host/path` without a scheme. */
function fillUri(rec: W3cRecord, uri: string): void {
  let rest = uri
  const scheme = uri.indexOf('://')
  if (uri.charCodeAt(0) !== 0x2f) {
    if (scheme > 0) rest = uri.slice(scheme + 3)
    const slash = rest.indexOf('/')
    const authority = slash === -1 ? rest : rest.slice(0, slash)
    rest = slash === -1 ? '/' : rest.slice(slash)
    const hp = splitHostPort(authority)
    if (rec.host === null && hp.host !== null) rec.host = hp.host.toLowerCase()
    if (rec.port === null) rec.port = hp.port
  }
  fillTarget(rec, rest, 0, rest.length)
}

/** Path and query from `cs-uri-stem` (+ `cs-uri-query`) or `cs-uri`; without a method and a path,
 *  the logged target becomes the request line. */
function fillRequestTarget(rec: W3cRecord, f: W3cFields, layoutHasMethod: boolean): void {
  if (f.uriStem !== null) {
    fillTarget(rec, f.uriStem, 0, f.uriStem.length)
    if (f.hasUriQuery && f.uriQuery !== null) rec.query = f.uriQuery
  } else if (f.uri !== null) {
    fillUri(rec, f.uri)
    if (f.hasUriQuery) rec.query = f.uriQuery
  }
  // No cs-method in the layout (SHOUTcast): a plain fetch, read as GET (as for JSON formats without one).
  if (rec.path !== null && rec.method === null && !layoutHasMethod) rec.method = 'GET'
  if (rec.method === null || rec.path === null) {
    rec.method = null
    rec.requestLine = f.uriStem ?? f.uri
    rec.path = null
    rec.query = null
    rec.protocol = null
  }
}

class W3cParser implements LogParser {
  readonly name = 'w3c'
  readonly description = 'W3C extended log (IIS, CloudFront, NetScaler, Incapsula, ...): layout from the #Fields: directive'
  /** The layout declared by the last `#Fields:` line; null until one is seen. */
  private layout: Layout | null = null
  /** The date of the last `#Date:` directive (`YYYY-MM-DD`), for layouts with `time` but no `date`. */
  private directiveDate: string | null = null
  private readLocalTime = false

  constructor(private readonly zone: WallClock) {}

  /** True once a record's time came from `date-local`/`time-local`. */
  get localTime(): boolean {
    return this.readLocalTime
  }

  forInput(): LogParser {
    return new W3cParser(this.zone)
  }

  detect(sample: readonly Buffer[]): number {
    // A scratch instance: the sample's directives must not change this instance's layout.
    const scratch = new W3cParser(this.zone)
    let lines = 0
    let accepted = 0
    for (const line of sample) {
      if (line.length === 0) continue
      const r = scratch.parse(line)
      if (r === DIRECTIVE) continue
      lines++
      if ((r as { rejected?: string }).rejected === undefined) accepted++
    }
    return lines === 0 ? 0 : accepted / lines
  }

  parse(line: Buffer): ParseResult {
    if (line.length === 0) return EMPTY
    try {
      if (line[0] === HASH) return this.directive(line)
      return this.record(decodeLine(line), line.indexOf(TAB) !== -1)
    } catch {
      return INTERNAL
    }
  }

  private directive(line: Buffer): ParseResult {
    const text = line.toString('latin1')
    if (text.startsWith('#Fields:')) {
      const names = text
        .slice(8)
        .trim()
        .split(/\s+/)
        .filter((n) => n !== '')
      if (names.length > 0) this.layout = layoutOf(names)
    } else if (text.startsWith('#Date:')) {
      this.directiveDate = directiveDateOf(text.slice(6).trim())
    }
    return DIRECTIVE
  }

  private record(s: string, tabs: boolean): ParseResult {
    if (s.trim() === '') return EMPTY
    const values = tabs ? s.split('\t') : splitSpaced(s)
    const layout = this.layout ?? assumedLayout(values.length, tabs)
    if (layout === null) return NO_FIELDS
    if (values.length !== layout.roles.length) return NO_MATCH
    const f = readFields(layout.roles, values)
    const time = this.timeOf(f)
    if (Number.isNaN(time)) return BAD_TIME
    const status = statusOf(f)
    if (status !== null && status < 0) return BAD_STATUS
    const bytes = f.bytes === null ? null : nonNegative(f.bytes)
    if (bytes === null && f.bytes !== null) return BAD_BYTES
    const rec = recordOf(f, tabs)
    rec.time = time
    rec.status = status
    rec.bytes = bytes
    fillRequestTarget(rec, f, layout.hasMethod)
    return rec
  }

  /** The request time: UTC `date`/`time`, else the server's local `date-local`/`time-local`; a
   *  layout with a time but no date (the W3C draft's example) takes the `#Date:` directive's date.
   *  Null when the layout logs no time; NaN when the time is unreadable, or when a layout assumed
   *  without `#Fields:` shows none. */
  private timeOf(f: W3cFields): number | null {
    const t = f.time ?? f.timeLocal
    const d = f.date ?? f.dateLocal ?? (t !== null ? this.directiveDate : null)
    if (d === null && t === null) return this.layout === null ? Number.NaN : null
    if (d === null || t === null) return Number.NaN
    // Local when either part is (`time` with the `#Date:` directive's date is UTC, as `date` is).
    const local = f.time === null || (f.date === null && f.dateLocal !== null)
    if (!local) return readTime(d, t, null)
    this.readLocalTime = true
    return readTime(d, t, this.zone)
  }
}

/** A W3C extended log parser; each input gets its own instance (`forInput`). `options.timeZone`
 *  is the zone of `date-local`/`time-local`. */
export function createW3cParser(options?: ParserOptions): LogParser {
  return new W3cParser(createWallClock(options?.timeZone))
}
