// W3C extended log files (IIS, CloudFront, NetScaler, Incapsula, SHOUTcast, ...): the layout comes
// from the file's own `#Fields:` directive, and a later `#Fields:` line (IIS writes one after each
// restart) switches the layout from that line on. That makes this a parser with per-file state:
// the pipeline takes one instance per input (`forInput`). `#Version:`, `#Date:`, `#Software:` and
// other `#` lines are directives (counted as skipped, not rejected).
//
// Values are space-separated (IIS writes a space inside a value as `+`; some writers quote values
// that hold spaces, `"..."` with `""` for a quote) or tab-separated (CloudFront, which
// percent-encodes the User-Agent). W3C times (`date`, `time`) are UTC.
//
// Without a `#Fields:` line (a file cut before its header, or a resumed read whose directives are
// not available), the IIS default layouts (14 or 15 space-separated fields) and CloudFront's
// standard layout (tab-separated, its documented field order) are assumed.

import { DIRECTIVE_REASON, type LogParser, type ParseResult, type RequestRecord } from './types.js'
import { daysFromCivil, daysInMonth } from './util/clf-time.js'
import { decodeLine, utf8WithByteEscapes } from './util/decode.js'
import { digitsValue, splitHostPort } from './util/fields.js'
import { fillTarget } from './util/request-line.js'

type Role =
  | 'date'
  | 'time'
  | 'dateLocal'
  | 'timeLocal'
  | 'ip'
  | 'method'
  | 'uriStem'
  | 'uriQuery'
  | 'uri'
  | 'status'
  | 'altStatus'
  | 'bytes'
  | 'userAgent'
  | 'referrer'
  | 'host'
  | 'hostHeader'
  | 'port'
  | 'user'
  | 'protocol'
  | 'timeTakenMs'
  | 'timeTaken'
  | 'xForwardedFor'
  | 'acceptLanguage'
  | 'ignore'

/** W3C field names (and the IIS Advanced Logging / vendor spellings) the record uses. */
const ROLES: Readonly<Record<string, Role>> = {
  date: 'date',
  time: 'time',
  'date-local': 'dateLocal',
  'time-local': 'timeLocal',
  'c-ip': 'ip',
  'cs-method': 'method',
  'cs-uri-stem': 'uriStem',
  'cs-uri-query': 'uriQuery',
  'cs-uri': 'uri',
  'sc-status': 'status',
  'c-status': 'altStatus', // SHOUTcast
  'sc-bytes': 'bytes',
  'cs(user-agent)': 'userAgent',
  'cs(referer)': 'referrer',
  'cs(referrer)': 'referrer', // Incapsula
  'cs-host': 'host',
  'cs(host)': 'host',
  'x-host-header': 'hostHeader', // CloudFront: the Host the viewer sent (cs(Host) is the distribution)
  's-port': 'port',
  'cs-username': 'user',
  'cs-version': 'protocol',
  'cs-protocol-version': 'protocol', // CloudFront
  'time-taken': 'timeTaken',
  timetakenms: 'timeTakenMs', // IIS Advanced Logging
  'x-forwarded-for': 'xForwardedFor',
  'cs(x-forwarded-for)': 'xForwardedFor',
  'cs(accept-language)': 'acceptLanguage',
}

/** CloudFront standard log fields in their documented order; older files have a prefix of it. */
const CLOUDFRONT_FIELDS = (
  'date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) ' +
  'cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes ' +
  'time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status ' +
  'fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len ' +
  'sc-range-start sc-range-end'
).split(' ')
/** IIS 8.5+ and IIS 7.x default W3C fields. */
const IIS_DEFAULT_15 =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken'.split(
    ' ',
  )
const IIS_DEFAULT_14 =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken'.split(' ')

interface Layout {
  roles: Role[]
  hasMethod: boolean
}

function layoutOf(names: readonly string[]): Layout {
  const roles = names.map((n) => ROLES[n.toLowerCase()] ?? 'ignore')
  return { roles, hasMethod: roles.includes('method') }
}

const CLOUDFRONT_LAYOUTS = new Map<number, Layout>()
for (let n = 12; n <= CLOUDFRONT_FIELDS.length; n++) CLOUDFRONT_LAYOUTS.set(n, layoutOf(CLOUDFRONT_FIELDS.slice(0, n)))
const IIS_LAYOUTS = new Map<number, Layout>([
  [15, layoutOf(IIS_DEFAULT_15)],
  [14, layoutOf(IIS_DEFAULT_14)],
])

const HASH = 0x23
const TAB = 0x09
const SPACE = 0x20
const QUOTE = 0x22

const DIRECTIVE = Object.freeze({ rejected: DIRECTIVE_REASON })
const EMPTY = Object.freeze({ rejected: 'empty' })
const NO_MATCH = Object.freeze({ rejected: 'no-match' })
const NO_FIELDS = Object.freeze({ rejected: 'no-fields-directive' })
const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const BAD_STATUS = Object.freeze({ rejected: 'bad-status' })
const BAD_BYTES = Object.freeze({ rejected: 'bad-bytes' })
const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]{0,24}$/
const INTERNAL = Object.freeze({ rejected: 'parser-error' })

/** Splits a space-separated data line: runs of spaces separate; a value starting with `"` runs to
 *  the next `"` followed by a space or the end (`""` inside stands for a quote). Quotes removed. */
function splitSpaced(s: string): string[] {
  const out: string[] = []
  const len = s.length
  let i = 0
  // Once a quote finds no closing quote, none later can: stop looking (keeps junk lines linear).
  let closable = true
  while (i < len) {
    const c = s.charCodeAt(i)
    if (c === SPACE) {
      i++
      continue
    }
    if (c === QUOTE && closable) {
      let j = i + 1
      for (;;) {
        const q = s.indexOf('"', j)
        if (q === -1) {
          j = -1
          break
        }
        if (s.charCodeAt(q + 1) === QUOTE) {
          j = q + 2
          continue
        }
        if (q + 1 === len || s.charCodeAt(q + 1) === SPACE) {
          j = q
          break
        }
        j = q + 1
      }
      if (j !== -1) {
        out.push(s.slice(i + 1, j).replaceAll('""', '"'))
        i = j + 1
        continue
      }
      closable = false
    }
    let e = s.indexOf(' ', i)
    if (e === -1) e = len
    out.push(s.slice(i, e))
    i = e
  }
  return out
}

function value(v: string | undefined): string | null {
  return v === undefined || v === '' || v === '-' ? null : v
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1
}

/** Undoes one level of percent-encoding; bytes that do not form UTF-8 read `\xHH` (the record
 *  convention, so the mapper sends the original bytes). A backslash is written `\x5C`. */
export function percentDecode(s: string): string {
  if (s.indexOf('%') === -1) return s.indexOf('\\') === -1 ? s : s.replaceAll('\\', '\\x5C')
  const bytes: number[] = []
  const raw = Buffer.from(s, 'utf8')
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1] ?? 0)
      const lo = hexValue(raw[i + 2] ?? 0)
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo)
        i += 2
        continue
      }
    }
    bytes.push(c)
  }
  const text = utf8WithByteEscapes(Buffer.from(bytes))
  return text.indexOf('\\') === -1 ? text : text.replace(/\\(?!x[0-9A-F]{2})/g, '\\x5C')
}

/** `YYYY-MM-DD` and `HH:MM:SS[.fff]` as epoch ms (UTC, or the machine's local time), NaN when
 *  either is malformed. */
function readTime(date: string, time: string, local: boolean): number {
  if (date.length !== 10 || date.charCodeAt(4) !== 0x2d || date.charCodeAt(7) !== 0x2d) return Number.NaN
  const y = digitsValue(date, 0, 4)
  const mo = digitsValue(date, 5, 7)
  const d = digitsValue(date, 8, 10)
  if (time.length < 8 || time.charCodeAt(2) !== 0x3a || time.charCodeAt(5) !== 0x3a) return Number.NaN
  const h = digitsValue(time, 0, 2)
  const mi = digitsValue(time, 3, 5)
  const sec = digitsValue(time, 6, 8)
  let ms = 0
  if (time.length > 8) {
    if (time.charCodeAt(8) !== 0x2e || time.length > 18) return Number.NaN
    const frac = time.slice(9)
    if (!/^\d+$/.test(frac)) return Number.NaN
    ms = Number(frac.padEnd(3, '0').slice(0, 3)) + (frac.length > 3 ? Number('0.' + frac.slice(3)) : 0)
  }
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) {
    return Number.NaN
  }
  if (local) return new Date(y, mo - 1, d, h, mi, sec).getTime() + ms
  return daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000 + ms
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

type W3cRecord = RequestRecord & { xForwardedFor: string | null; requestTime: number | null; acceptLanguage: string | null }

class W3cParser implements LogParser {
  readonly name = 'w3c'
  readonly description = 'W3C extended log (IIS, CloudFront, NetScaler, Incapsula, ...): layout from the #Fields: directive'
  /** The layout declared by the last `#Fields:` line; null until one is seen. */
  private layout: Layout | null = null
  /** The date of the last `#Date:` directive (`YYYY-MM-DD`), for layouts with `time` but no `date`. */
  private directiveDate: string | null = null

  forInput(): LogParser {
    return new W3cParser()
  }

  detect(sample: readonly Buffer[]): number {
    // A scratch instance: the sample's directives must not change this instance's layout.
    const scratch = new W3cParser()
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
    let layout = this.layout
    if (layout === null) {
      layout = (tabs ? CLOUDFRONT_LAYOUTS : IIS_LAYOUTS).get(values.length) ?? null
      if (layout === null) return NO_FIELDS
    }
    if (values.length !== layout.roles.length) return NO_MATCH
    const rec: W3cRecord = {
      ip: null,
      time: null,
      method: null,
      path: null,
      query: null,
      protocol: null,
      status: null,
      bytes: null,
      referrer: null,
      userAgent: null,
      user: null,
      host: null,
      port: null,
      requestLine: null,
      xForwardedFor: null,
      requestTime: null,
      acceptLanguage: null,
    }
    let date: string | null = null
    let time: string | null = null
    let dateLocal: string | null = null
    let timeLocal: string | null = null
    let stem: string | null = null
    let query: string | null = null
    let queryField = false
    let uri: string | null = null
    let hostHeader: string | null = null
    let altStatus: string | null = null
    let status: string | null = null
    let bytesText: string | null = null
    const roles = layout.roles
    for (let i = 0; i < roles.length; i++) {
      const role = roles[i]!
      if (role === 'ignore') continue
      const v = value(values[i])
      switch (role) {
        case 'date':
          date = v
          break
        case 'time':
          time = v
          break
        case 'dateLocal':
          dateLocal = v
          break
        case 'timeLocal':
          timeLocal = v
          break
        case 'ip':
          rec.ip = v
          break
        case 'method':
          rec.method = v
          break
        case 'uriStem':
          stem = v
          break
        case 'uriQuery':
          query = v
          queryField = true
          break
        case 'uri':
          uri = v
          break
        case 'status':
          status = v
          break
        case 'altStatus':
          altStatus = v
          break
        case 'bytes':
          bytesText = v
          rec.bytes = v === null ? null : nonNegative(v)
          break
        case 'userAgent':
          rec.userAgent = v === null ? null : tabs ? percentDecode(v) : percentDecode(v.replaceAll('+', ' '))
          break
        case 'referrer':
          rec.referrer = v === null ? null : v.indexOf('\\') === -1 ? v : v.replaceAll('\\', '\\x5C')
          break
        case 'host':
          if (v !== null && rec.host === null) {
            const hp = splitHostPort(v)
            rec.host = hp.host
            if (hp.port !== null) rec.port = hp.port
          }
          break
        case 'hostHeader':
          hostHeader = v
          break
        case 'port':
          if (v !== null && rec.port === null) {
            const p = nonNegative(v)
            if (p !== null && p <= 65535) rec.port = p
          }
          break
        case 'user':
          rec.user = v
          break
        case 'protocol':
          rec.protocol = v
          break
        case 'timeTaken':
          if (v !== null) rec.requestTime = duration(v, v.indexOf('.') === -1 ? 1000 : 1)
          break
        case 'timeTakenMs':
          if (v !== null) rec.requestTime = duration(v, 1000)
          break
        case 'xForwardedFor':
          rec.xForwardedFor = v
          break
        case 'acceptLanguage':
          rec.acceptLanguage = v === null ? null : tabs ? percentDecode(v) : v.replaceAll('+', ' ')
          break
      }
    }
    if (hostHeader !== null) {
      const hp = splitHostPort(hostHeader)
      rec.host = hp.host
      rec.port = hp.port
    }
    // The time: UTC `date`/`time`, else the server's local `date-local`/`time-local`. A layout
    // assumed without `#Fields:` must show a real date and time.
    // A layout with a time but no date (the W3C draft's example) takes the `#Date:` directive's date.
    const d = date ?? dateLocal ?? ((time ?? timeLocal) !== null ? this.directiveDate : null)
    const t = time ?? timeLocal
    if (d !== null || t !== null) {
      if (d === null || t === null) return BAD_TIME
      rec.time = readTime(d, t, date === null || time === null)
      if (Number.isNaN(rec.time)) return BAD_TIME
    } else if (this.layout === null) {
      return BAD_TIME
    }
    const st = status ?? altStatus
    if (st !== null) {
      const code = st.length <= 3 ? digitsValue(st, 0, st.length) : -1
      if (code < 0) return BAD_STATUS
      rec.status = code
    }
    if (rec.bytes === null && bytesText !== null) return BAD_BYTES
    if (rec.method !== null && !METHOD_TOKEN.test(rec.method)) rec.method = null
    // The request target: cs-uri-stem (+ cs-uri-query), or cs-uri.
    if (stem !== null) {
      fillTarget(rec, stem, 0, stem.length)
      if (queryField && query !== null) rec.query = query
    } else if (uri !== null) {
      fillUri(rec, uri)
      if (queryField) rec.query = query
    }
    // No cs-method in the layout (SHOUTcast): a plain fetch, read as GET (as for JSON formats without one).
    if (rec.path !== null && rec.method === null && !layout.hasMethod) rec.method = 'GET'
    if (rec.method === null || rec.path === null) {
      rec.method = null
      rec.requestLine = stem ?? uri
      rec.path = null
      rec.query = null
      rec.protocol = null
    }
    if (rec.ip !== null && rec.ip.charCodeAt(0) === 0x5b && rec.ip.endsWith(']')) rec.ip = rec.ip.slice(1, -1)
    return rec
  }
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** `2026-11-20 10:00:00` or the W3C draft's `20-Nov-2026 10:00:00` -> `2026-11-20`; null otherwise. */
function directiveDateOf(text: string): string | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})\b/.exec(text)
  if (m !== null) return `${m[1]}-${m[2]}-${m[3]}`
  m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})\b/.exec(text)
  if (m === null) return null
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1
  return month === 0 ? null : `${m[3]}-${String(month).padStart(2, '0')}-${m[1]!.padStart(2, '0')}`
}

function nonNegative(v: string): number | null {
  const n = digitsValue(v, 0, v.length)
  return n >= 0 ? n : null
}

/** A duration in seconds from a logged number in units of 1/`perSecond` s. */
function duration(v: string, perSecond: number): number | null {
  if (!/^\d+(?:\.\d+)?$/.test(v)) return null
  return Number(v) / perSecond
}

/** A W3C extended log parser; each input gets its own instance (`forInput`). */
export function createW3cParser(): LogParser {
  return new W3cParser()
}
