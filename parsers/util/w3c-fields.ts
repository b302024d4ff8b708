// The field layout of a W3C extended log: which value of a data line is which field. The layout is
// declared by the file's `#Fields:` directive; without one, the IIS default layouts and CloudFront's
// documented field order are assumed by the number of values.

import { digitsValue } from './fields.js'

export type Role =
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

export interface Layout {
  roles: Role[]
  hasMethod: boolean
}

/** The layout a `#Fields:` directive declares (its field names, any case). */
export function layoutOf(names: readonly string[]): Layout {
  const roles = names.map((n) => ROLES[n.toLowerCase()] ?? 'ignore')
  return { roles, hasMethod: roles.includes('method') }
}

const CLOUDFRONT_LAYOUTS = new Map<number, Layout>()
for (let n = 12; n <= CLOUDFRONT_FIELDS.length; n++) CLOUDFRONT_LAYOUTS.set(n, layoutOf(CLOUDFRONT_FIELDS.slice(0, n)))
const IIS_LAYOUTS = new Map<number, Layout>([
  [15, layoutOf(IIS_DEFAULT_15)],
  [14, layoutOf(IIS_DEFAULT_14)],
])

/** The layout assumed for a line of `count` values without a `#Fields:` directive: CloudFront's for
 *  tab-separated values, IIS's default for space-separated ones; null when none has that many. */
export function assumedLayout(count: number, tabs: boolean): Layout | null {
  return (tabs ? CLOUDFRONT_LAYOUTS : IIS_LAYOUTS).get(count) ?? null
}

/** The raw text of the fields a record uses (null for `-` or empty). Where a layout repeats a role,
 *  the last value wins, except for the host and the port, where the first one logged does. */
export interface W3cFields {
  date: string | null
  time: string | null
  dateLocal: string | null
  timeLocal: string | null
  ip: string | null
  method: string | null
  uriStem: string | null
  uriQuery: string | null
  /** The layout has `cs-uri-query` (so its `-` means "no query"). */
  hasUriQuery: boolean
  uri: string | null
  status: string | null
  altStatus: string | null
  bytes: string | null
  userAgent: string | null
  referrer: string | null
  host: string | null
  hostHeader: string | null
  /** The first `s-port` that is a port number. */
  port: number | null
  user: string | null
  protocol: string | null
  /** `time-taken` or `timetakenms`, whichever comes last. */
  timeTaken: string | null
  timeTakenIsMs: boolean
  xForwardedFor: string | null
  acceptLanguage: string | null
}

function value(v: string | undefined): string | null {
  return v === undefined || v === '' || v === '-' ? null : v
}

/** Value of a field of decimal digits, or null. */
export function nonNegative(v: string): number | null {
  const n = digitsValue(v, 0, v.length)
  return n >= 0 ? n : null
}

/** Reads the values of one data line by their roles. */
export function readFields(roles: readonly Role[], values: readonly string[]): W3cFields {
  const f: W3cFields = {
    date: null,
    time: null,
    dateLocal: null,
    timeLocal: null,
    ip: null,
    method: null,
    uriStem: null,
    uriQuery: null,
    hasUriQuery: false,
    uri: null,
    status: null,
    altStatus: null,
    bytes: null,
    userAgent: null,
    referrer: null,
    host: null,
    hostHeader: null,
    port: null,
    user: null,
    protocol: null,
    timeTaken: null,
    timeTakenIsMs: false,
    xForwardedFor: null,
    acceptLanguage: null,
  }
  for (let i = 0; i < roles.length; i++) {
    const role = roles[i]!
    if (role === 'ignore') continue
    const v = value(values[i])
    switch (role) {
      case 'uriQuery':
        f.uriQuery = v
        f.hasUriQuery = true
        break
      case 'host':
        if (f.host === null) f.host = v
        break
      case 'port':
        if (v !== null && f.port === null) {
          const p = nonNegative(v)
          if (p !== null && p <= 65535) f.port = p
        }
        break
      case 'timeTaken':
      case 'timeTakenMs':
        if (v !== null) {
          f.timeTaken = v
          f.timeTakenIsMs = role === 'timeTakenMs'
        }
        break
      default:
        f[role] = v
    }
  }
  return f
}
