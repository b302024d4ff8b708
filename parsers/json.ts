// JSON access-log formats: nginx `log_format ... escape=json|default` with any key names, Caddy v2
// and Traefik. Each line is decoded once and JSON.parse'd once; no per-line closures.
//
// String values are the JSON-decoded values (a logged `\"` becomes `"`), written with the same
// convention as the text formats: a backslash in a record string only ever starts a `\xHH` byte
// escape. So a backslash itself reads `\x5C`, and bytes that are not valid UTF-8 (nginx escape=json
// writes the visitor's raw bytes) read `\xHH`, exactly as nginx's combined format writes them:
// nothing is lost to U+FFFD, and the mapper undoes all escapes the same way for every format.
import { isUtf8 } from 'node:buffer'
import { utf8SequenceLength } from './util/decode.js'
import { acceptedShare } from './util/accepted-share.js'
import { FormatError, type LogParser, type ParseResult, type ParserOptions, type RequestRecord } from './types.js'

// ---------------------------------------------------------------------------------------------
// Line decoding

const OPEN_BRACE = 0x7b
const BACKSLASH = 0x5c
const HEX_ESCAPE = Buffer.from('\\x', 'latin1')
const DOUBLE_BACKSLASH = Buffer.from('\\\\', 'latin1')
const HEX_DIGITS = '0123456789ABCDEF'

/** Index of the `{` that opens the JSON object: after leading blanks, or after a `docker compose`
 *  prefix such as `caddy  | `. -1 when the line cannot be a JSON object. */
export function jsonStart(line: Buffer): number {
  let i = 0
  const n = line.length
  while (i < n && (line[i] === 0x20 || line[i] === 0x09)) i++
  if (i < n && line[i] === OPEN_BRACE) return i
  // `<service-name> <spaces>| {...}` (docker compose logs)
  const nameStart = i
  while (i < n && i - nameStart < 128) {
    const c = line[i]!
    const isNameChar = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f
    if (!isNameChar) break
    i++
  }
  if (i === nameStart || i >= n || line[i] !== 0x20) return -1
  while (i < n && line[i] === 0x20) i++
  if (line[i] !== 0x7c /* | */) return -1
  i++
  while (i < n && line[i] === 0x20) i++
  return i < n && line[i] === OPEN_BRACE ? i : -1
}

/** The JSON text of a line, rewritten so that its decoded strings follow the record convention
 *  (a backslash in a record string only ever starts a `\xHH` byte escape, as in nginx's text
 *  formats): a JSON `\\` decodes to `\x5C`, nginx escape=default `\xHH` escapes decode to the
 *  character they stand for (`\x5C` stays `\x5C`), and bytes that are not valid UTF-8 decode to the
 *  text `\xHH`. */
export function jsonText(line: Buffer, start: number): string {
  const body = start === 0 ? line : line.subarray(start)
  if (body.indexOf(HEX_ESCAPE) === -1 && body.indexOf(DOUBLE_BACKSLASH) === -1 && isUtf8(body)) {
    return body.toString('utf8')
  }
  return utf8WithHexEscapes(normaliseEscapes(body))
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/** nginx escape=default writes `"`, `\`, control bytes and bytes >= 0x7f as `\xHH`, which JSON does
 *  not allow. Turn each into the byte itself, or a JSON `\u00HH` escape where a raw byte would break
 *  the JSON; a backslash (`\\` or `\x5C`) into JSON source for the text `\x5C`. Other backslash
 *  pairs (`\"`, `\n`, `\u...`) are copied untouched. */
function normaliseEscapes(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length * 3)
  let o = 0
  const n = src.length
  for (let i = 0; i < n;) {
    const c = src[i]!
    if (c !== BACKSLASH) {
      out[o++] = c
      i++
      continue
    }
    if (src[i + 1] === 0x78 /* x */) {
      const hi = hexValue(src[i + 2])
      const lo = hexValue(src[i + 3])
      if (hi >= 0 && lo >= 0) {
        const v = hi * 16 + lo
        if (v === 0x5c) {
          o += out.write('\\\\x5C', o, 'latin1')
        } else if (v < 0x20 || v === 0x22 || v === 0x7f) {
          out[o++] = BACKSLASH
          out[o++] = 0x75 // u
          out[o++] = 0x30
          out[o++] = 0x30
          out[o++] = HEX_DIGITS.charCodeAt(hi)
          out[o++] = HEX_DIGITS.charCodeAt(lo)
        } else {
          out[o++] = v
        }
        i += 4
        continue
      }
    }
    if (src[i + 1] === BACKSLASH) {
      o += out.write('\\\\x5C', o, 'latin1')
      i += 2
      continue
    }
    out[o++] = c
    if (i + 1 < n) out[o++] = src[i + 1]!
    i += 2
  }
  return out.subarray(0, o)
}

/** Decodes UTF-8; each byte that is not part of a valid sequence becomes JSON source text `\\xHH`
 *  (which JSON.parse turns into the four characters `\xHH`). */
function utf8WithHexEscapes(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8')
  let out = ''
  let runStart = 0
  for (let i = 0; i < b.length;) {
    const len = utf8SequenceLength(b, i)
    if (len > 0) {
      i += len
      continue
    }
    const v = b[i]!
    out += b.toString('utf8', runStart, i) + '\\\\x' + HEX_DIGITS[v >> 4] + HEX_DIGITS[v & 15]
    i++
    runStart = i
  }
  return out + b.toString('utf8', runStart)
}

/** JSON.parse of a line; `undefined` when the line is not JSON. */
function parseJsonLine(line: Buffer): unknown {
  const start = jsonStart(line)
  if (start < 0) return undefined
  try {
    return JSON.parse(jsonText(line, start))
  } catch {
    return undefined
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

// ---------------------------------------------------------------------------------------------
// Value helpers (shared by the three formats)

/** A logged text value: `-`, `""`, non-strings other than finite numbers -> null. */
export function textValue(v: unknown): string | null {
  if (typeof v === 'string') {
    return v === '' || v === '-' ? null : v
  }
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null
  return null
}

/** A non-negative integer written as a number or as decimal digits; anything else -> null. */
export function intValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null
  if (typeof v !== 'string' || v.length === 0 || v.length > 15) return null
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return null
  }
  return Number(v)
}

/** A finite number written as a number or a decimal string; anything else -> null. */
export function floatValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v !== 'string' || !DECIMAL.test(v)) return null
  return Number(v)
}
const DECIMAL = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/
const CLF_TIME = /^\[?(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:\s*([+-]\d{4}))?\]?$/
const EPOCH = /^(\d{1,19})(?:\.(\d{1,9}))?$/

function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0
  const sign = zone.charCodeAt(0) === 0x2d ? -1 : 1
  const digits = zone.length === 3 ? zone.slice(1) + '00' : zone.slice(1).replace(':', '')
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000
}

/** Fractional-second digits as milliseconds: exact to the millisecond, finer digits kept as a fraction. */
function fractionMs(digits: string | undefined): number {
  if (digits === undefined) return 0
  if (digits.length <= 3) return Number(digits.padEnd(3, '0'))
  return Number(digits.slice(0, 3)) + Number('0.' + digits.slice(3))
}

function civilToMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number | null {
  if (mo < 0 || mo > 11 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return null
  return Date.UTC(y, mo, d, h, mi, s)
}

/** Epoch seconds/milliseconds/microseconds/nanoseconds, told apart by magnitude. */
function epochToMs(n: number): number | null {
  if (!Number.isFinite(n) || n <= 0) return null
  if (n < 1e11) return n * 1000
  if (n < 1e14) return n
  if (n < 1e17) return n / 1000
  return n / 1e6
}

/** Reads a logged time: ISO 8601 (no zone = UTC), CLF `10/Oct/2000:13:55:36 -0700`, or epoch
 *  seconds/ms/µs/ns as a number or digits. Returns epoch ms, keeping sub-millisecond fractions. */
export function timeValue(v: unknown): number | null {
  if (typeof v === 'number') return epochToMs(v)
  if (typeof v !== 'string' || v.length < 4 || v.length > 40) return null
  const c0 = v.charCodeAt(0)
  let m = EPOCH.exec(v)
  if (m !== null) {
    // Seconds with a fraction (nginx $msec): compute exactly to the millisecond.
    if (m[2] !== undefined && m[1]!.length <= 11) {
      const seconds = Number(m[1])
      return seconds > 0 ? seconds * 1000 + fractionMs(m[2]) : null
    }
    return epochToMs(Number(v))
  }
  if (c0 >= 0x30 && c0 <= 0x39 && v.charCodeAt(4) === 0x2d) {
    m = ISO_TIME.exec(v)
    if (m === null) return null
    const base = civilToMs(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0))
    return base === null ? null : base + fractionMs(m[7]) - zoneOffsetMs(m[8])
  }
  m = CLF_TIME.exec(v)
  if (m === null) return null
  const month = MONTHS[m[2]!]
  if (month === undefined) return null
  const base = civilToMs(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  return base === null ? null : base + fractionMs(m[7]) - zoneOffsetMs(m[8])
}

/** A `Host`-style value split into host and port: `example.com:8080`, `[2001:db8::1]:443`. A bare
 *  IPv6 address is left whole. */
export function splitHostPort(value: string): { host: string; port: number | null } {
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']')
    if (close > 0) {
      const rest = value.slice(close + 1)
      const port = rest.charCodeAt(0) === 0x3a ? intValue(rest.slice(1)) : null
      return { host: value.slice(1, close), port }
    }
    return { host: value, port: null }
  }
  const colon = value.indexOf(':')
  if (colon <= 0 || value.indexOf(':', colon + 1) !== -1) return { host: value, port: null }
  const port = intValue(value.slice(colon + 1))
  return port === null ? { host: value, port: null } : { host: value.slice(0, colon), port }
}

// The same method rule as the text formats (parsers/util/request-line.ts): upper-case tokens, so a
// junk request such as "junk line" has no method in every format.
const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]{0,24}$/
const PROTOCOL = /^HTTP\/\d+(?:\.\d+)?$/

/** `METHOD target[ HTTP/x.y]` -> parts, or null for anything else (TLS probes, `HELLO`, junk). */
export function splitRequestLine(text: string): { method: string; target: string; protocol: string | null } | null {
  const sp = text.indexOf(' ')
  if (sp <= 0) return null
  const method = text.slice(0, sp)
  if (!METHOD_TOKEN.test(method)) return null
  const rest = text.slice(sp + 1)
  const last = rest.lastIndexOf(' ')
  if (last >= 0 && PROTOCOL.test(rest.slice(last + 1))) {
    const target = rest.slice(0, last)
    return target.length === 0 ? null : { method, target, protocol: rest.slice(last + 1) }
  }
  return rest.length === 0 || rest.indexOf(' ') !== -1 ? null : { method, target: rest, protocol: null }
}

export function normaliseProtocol(p: string | null): string | null {
  if (p === null) return null
  const c = p.charCodeAt(0)
  return c >= 0x30 && c <= 0x39 ? 'HTTP/' + p : p
}

/** A request target split at the first `?` into path and query (null without a `?`). */
export function splitTarget(target: string | null): [string | null, string | null] {
  if (target === null) return [null, null]
  const q = target.indexOf('?')
  return q < 0 ? [target, null] : [target.slice(0, q), target.slice(q + 1)]
}

function rejected(reason: string): ParseResult {
  return { rejected: reason }
}

/** The line's JSON object, or the reason it is not one (the first step of every JSON format). */
export function jsonRecordOf(line: Buffer): Record<string, unknown> | string {
  if (line.length === 0) return 'empty'
  const obj = parseJsonLine(line)
  if (obj === undefined) return 'bad-json'
  return isObject(obj) ? obj : 'not-access-record'
}

// ---------------------------------------------------------------------------------------------
// nginx JSON with any key names

/** Record fields that `--field record=jsonkey` can name. */
export const JSON_RECORD_FIELDS = [
  'ip',
  'time',
  'method',
  'path',
  'query',
  'protocol',
  'status',
  'bytes',
  'referrer',
  'userAgent',
  'user',
  'host',
  'port',
  'request',
  'acceptLanguage',
  'xForwardedFor',
  'requestTime',
] as const

// Slot indices, one per record field (+ one for durations logged in milliseconds).
const F_IP = 0,
  F_TIME = 1,
  F_METHOD = 2,
  F_PATH = 3,
  F_QUERY = 4,
  F_PROTOCOL = 5,
  F_STATUS = 6,
  F_BYTES = 7
const F_REFERRER = 8,
  F_UA = 9,
  F_USER = 10,
  F_HOST = 11,
  F_PORT = 12,
  F_REQUEST = 13,
  F_ACCEPT_LANGUAGE = 14
const F_XFF = 15,
  F_REQUEST_TIME = 16,
  F_REQUEST_TIME_MS = 17
const SLOT_COUNT = 18
const NO_PRIORITY = 1 << 30

interface KeyRole {
  field: number
  /** Lower wins when several keys of one line name the same field. */
  priority: number
}

/** Well-known key names (lower-case, `-` read as `_`), best first per field. */
const WELL_KNOWN_KEYS: ReadonlyArray<readonly [number, readonly string[]]> = [
  [
    F_IP,
    [
      'remote_addr',
      'ip',
      'client_ip',
      'clientip',
      'remote_ip',
      'remoteip',
      'remoteaddr',
      'client',
      'client_addr',
      'remote_host',
      'clientaddress',
      'client_address',
      'remote',
    ],
  ],
  [F_TIME, ['msec', 'time_iso8601', 'time_local', 'timestamp', '@timestamp', 'time', 'date', 'datetime', 'ts', 'start_time']],
  [F_METHOD, ['request_method', 'method', 'http_method', 'verb']],
  [F_PATH, ['request_uri', 'path', 'url', 'uri', 'request_path', 'request_url']],
  [F_QUERY, ['args', 'query_string', 'query', 'querystring']],
  [F_PROTOCOL, ['server_protocol', 'protocol', 'http_version', 'http_protocol', 'proto']],
  [F_STATUS, ['status', 'status_code', 'statuscode', 'response_status', 'http_status', 'response_code']],
  [F_BYTES, ['body_bytes_sent', 'length', 'size', 'bytes', 'response_size', 'body_bytes', 'bytes_sent']],
  [F_REFERRER, ['http_referer', 'referrer', 'referer', 'http_referrer']],
  [F_UA, ['http_user_agent', 'user_agent', 'useragent', 'ua', 'agent', 'http_useragent']],
  [F_USER, ['remote_user', 'user', 'userid', 'user_id', 'username', 'auth_user']],
  [F_HOST, ['host', 'server_name', 'http_host', 'vhost', 'hostname', 'virtual_host']],
  [F_PORT, ['server_port', 'port']],
  [F_REQUEST, ['request', 'request_line']],
  [F_ACCEPT_LANGUAGE, ['http_accept_language', 'accept_language']],
  [F_XFF, ['http_x_forwarded_for', 'x_forwarded_for', 'xff', 'forwarded_for']],
  [F_REQUEST_TIME, ['request_time', 'request_time_seconds']],
  [F_REQUEST_TIME_MS, ['generation_time_milli', 'request_time_ms', 'request_time_milli']],
]

const WELL_KNOWN: ReadonlyMap<string, KeyRole> = (() => {
  const map = new Map<string, KeyRole>()
  for (const [field, names] of WELL_KNOWN_KEYS) names.forEach((name, i) => map.set(name, { field, priority: i + 1 }))
  return map
})()

const FIELD_SLOTS: Record<string, number> = {
  ip: F_IP,
  time: F_TIME,
  method: F_METHOD,
  path: F_PATH,
  query: F_QUERY,
  protocol: F_PROTOCOL,
  status: F_STATUS,
  bytes: F_BYTES,
  referrer: F_REFERRER,
  useragent: F_UA,
  user: F_USER,
  host: F_HOST,
  port: F_PORT,
  request: F_REQUEST,
  acceptlanguage: F_ACCEPT_LANGUAGE,
  xforwardedfor: F_XFF,
  requesttime: F_REQUEST_TIME,
}

/** `userAgent`, `user_agent`, `UserAgent` -> the slot for that record field. */
function slotForRecordField(name: string): number | undefined {
  return FIELD_SLOTS[name.toLowerCase().replace(/[_-]/g, '')]
}

const UNKNOWN_KEY: KeyRole = { field: -1, priority: NO_PRIORITY }
/** Bounds the per-instance key cache: a file of random keys must not grow memory without limit. */
const KEY_CACHE_LIMIT = 1024

class NginxJsonParser implements LogParser {
  readonly name = 'nginx_json'
  readonly description = 'nginx log_format with escape=json or escape=default, any key names (--field record=key)'
  /** Raw JSON key -> role; per instance, seeded with --field overrides. */
  private readonly keyRoles = new Map<string, KeyRole>()
  /** --field overrides whose key is a dotted path into nested objects. */
  private readonly nestedKeys: Array<{ field: number; path: string[] }> = []
  // Per-line scratch, reused (parse is synchronous).
  private readonly values: unknown[] = new Array<unknown>(SLOT_COUNT)
  private readonly priorities = new Int32Array(SLOT_COUNT)

  constructor(options?: ParserOptions) {
    for (const [recordField, jsonKey] of Object.entries(options?.fieldMap ?? {})) {
      const field = slotForRecordField(recordField)
      if (field === undefined) {
        throw new FormatError(`--field ${recordField}=${jsonKey}: unknown record field "${recordField}" (one of ${JSON_RECORD_FIELDS.join(', ')})`)
      }
      if (typeof jsonKey !== 'string' || jsonKey.length === 0) {
        throw new FormatError(`--field ${recordField}=: the JSON key is empty`)
      }
      this.keyRoles.set(jsonKey, { field, priority: 0 })
      if (jsonKey.includes('.')) this.nestedKeys.push({ field, path: jsonKey.split('.') })
    }
  }

  private roleOf(key: string): KeyRole {
    const cached = this.keyRoles.get(key)
    if (cached !== undefined) return cached
    const role = WELL_KNOWN.get(key.toLowerCase().replaceAll('-', '_')) ?? UNKNOWN_KEY
    if (this.keyRoles.size < KEY_CACHE_LIMIT) this.keyRoles.set(key, role)
    return role
  }

  detect(sample: readonly Buffer[]): number {
    // The catch-all JSON format: a specific format that reads the same lines wins the tie.
    return acceptedShare(this, sample) * 0.99
  }

  parse(line: Buffer): ParseResult {
    const obj = jsonRecordOf(line)
    if (typeof obj === 'string') return rejected(obj)

    const values = this.values
    const priorities = this.priorities
    values.fill(undefined)
    priorities.fill(NO_PRIORITY)
    for (const key in obj) {
      const role = this.roleOf(key)
      if (role.priority < priorities[role.field]!) {
        priorities[role.field] = role.priority
        values[role.field] = obj[key]
      }
    }
    for (const nested of this.nestedKeys) {
      let v: unknown = obj
      for (const part of nested.path) v = isObject(v) ? v[part] : undefined
      if (v !== undefined) {
        priorities[nested.field] = 0
        values[nested.field] = v
      }
    }
    return this.build(values, priorities)
  }

  private build(values: unknown[], priorities: Int32Array): ParseResult {
    const ip = textValue(values[F_IP])
    const request = textValue(values[F_REQUEST])
    const hasMethodKey = priorities[F_METHOD] !== NO_PRIORITY
    let method = textValue(values[F_METHOD])
    let target = textValue(values[F_PATH])
    let protocol = normaliseProtocol(textValue(values[F_PROTOCOL]))
    if (!hasMethodKey && request !== null) {
      // Only the whole request line is logged: read method, target and protocol from it.
      const parts = splitRequestLine(request)
      if (parts !== null) {
        method = parts.method
        if (target === null) target = parts.target
        if (protocol === null) protocol = parts.protocol
      }
    }
    const readable = ip !== null || request !== null || method !== null || target !== null
    const status = intValue(values[F_STATUS])
    if (!readable || (status === null && request === null && method === null && target === null)) {
      return rejected('not-access-record')
    }
    // No method (a junk request nginx could not parse): the request text stands alone. A format that
    // logs a path but no method at all (Matomo's) keeps its path.
    let requestLine: string | null = null
    if (method === null && (hasMethodKey || request !== null)) {
      requestLine = request
      target = null
      protocol = null
    } else if (method === null) {
      // The format logs a path but no method at all (Matomo's documented nginx format): read the
      // requests as GET, as Matomo's importer does, rather than drop every line as malformed.
      method = 'GET'
    }
    let [path, query] = splitTarget(target)
    if (target !== null && query === null) query = textValue(values[F_QUERY])
    let host = textValue(values[F_HOST])
    let port = intValue(values[F_PORT])
    if (host !== null && port === null) {
      const split = splitHostPort(host)
      host = split.host
      port = split.port
    }
    const requestTimeMs = floatValue(values[F_REQUEST_TIME_MS])
    const record: RequestRecord = {
      ip,
      time: timeValue(values[F_TIME]),
      method,
      path,
      query,
      protocol,
      status,
      bytes: intValue(values[F_BYTES]),
      referrer: textValue(values[F_REFERRER]),
      userAgent: textValue(values[F_UA]),
      user: textValue(values[F_USER]),
      host,
      port,
      requestLine,
      acceptLanguage: textValue(values[F_ACCEPT_LANGUAGE]),
      xForwardedFor: textValue(values[F_XFF]),
      requestTime: floatValue(values[F_REQUEST_TIME]) ?? (requestTimeMs === null ? null : requestTimeMs / 1000),
    }
    return record
  }
}

/** nginx `log_format ... escape=json` (or `escape=default`) with any key names; nginx variable
 *  names, Matomo's names and common aliases are recognised, others via `options.fieldMap`. */
export function createNginxJson(options?: ParserOptions): LogParser {
  return new NginxJsonParser(options)
}

// ---------------------------------------------------------------------------------------------
// Caddy v2

function firstHeader(headers: unknown, name: string): string | null {
  if (!isObject(headers)) return null
  const v = headers[name]
  return Array.isArray(v) ? textValue(v[0]) : textValue(v)
}

function joinedHeader(headers: unknown, name: string): string | null {
  if (!isObject(headers)) return null
  const v = headers[name]
  if (!Array.isArray(v)) return textValue(v)
  return v.length === 0 ? null : textValue(v.join(', '))
}

/** Caddy < 2.5 logged `remote_addr` as `host:port`. */
function addressWithoutPort(v: unknown): string | null {
  const text = textValue(v)
  return text === null ? null : splitHostPort(text).host
}

function parseCaddy(line: Buffer): ParseResult {
  const obj = jsonRecordOf(line)
  if (typeof obj === 'string') return rejected(obj)
  const logger = obj['logger']
  const req = obj['request']
  // Access records come from the `http.log.access[.<name>]` loggers; everything else (startup,
  // TLS, reverse_proxy debug records) is not a request.
  if (!isObject(req) || (typeof logger === 'string' ? !logger.startsWith('http.log.access') : logger !== undefined)) {
    return rejected('not-access-record')
  }
  const headers = req['headers']
  const method = textValue(req['method'])
  const uri = method === null ? null : textValue(req['uri'])
  const [path, query] = splitTarget(uri)
  const hostPort = textValue(req['host'])
  const split = hostPort === null ? null : splitHostPort(hostPort)
  const duration = floatValue(obj['duration'])
  const record: RequestRecord = {
    ip: textValue(req['client_ip']) ?? textValue(req['remote_ip']) ?? addressWithoutPort(req['remote_addr']),
    time: timeValue(obj['ts']),
    method,
    path,
    query,
    protocol: method === null ? null : normaliseProtocol(textValue(req['proto'])),
    status: intValue(obj['status']),
    bytes: intValue(obj['size']),
    referrer: firstHeader(headers, 'Referer'),
    userAgent: firstHeader(headers, 'User-Agent'),
    user: textValue(obj['user_id']),
    host: split === null ? null : split.host,
    port: split === null ? null : split.port,
    requestLine: method === null ? textValue(req['uri']) : null,
    acceptLanguage: firstHeader(headers, 'Accept-Language'),
    xForwardedFor: joinedHeader(headers, 'X-Forwarded-For'),
    requestTime: duration,
  }
  return record
}

/** Partial credit for Caddy's own non-access records (startup, TLS...) once the sample holds at
 *  least one access record: a Caddy log often starts with a page of them. */
function detectCaddy(sample: readonly Buffer[]): number {
  let lines = 0
  let access = 0
  let caddyOther = 0
  for (const line of sample) {
    if (line.length === 0) continue
    lines++
    const result = parseCaddy(line) as { rejected?: string }
    if (result.rejected === undefined) access++
    else if (result.rejected === 'not-access-record') caddyOther++
  }
  if (lines === 0 || access === 0) return 0
  return (access + 0.6 * caddyOther) / lines
}

/** Caddy v2 JSON access log (`log { format json }`), also with a `docker compose` prefix. */
export const caddyJson: LogParser = {
  name: 'caddy_json',
  description: 'Caddy v2 JSON access log (http.log.access records)',
  detect: detectCaddy,
  parse: parseCaddy,
}

// ---------------------------------------------------------------------------------------------
// Traefik

/** Traefik writes the X-Forwarded-For header into ClientHost when there is one: report its first
 *  entry (the originating client as the proxy chain reports it). */
function firstListEntry(v: string | null): string | null {
  if (v === null) return null
  const comma = v.indexOf(',')
  return comma < 0 ? v : textValue(v.slice(0, comma).trim())
}

function parseTraefik(line: Buffer): ParseResult {
  const obj = jsonRecordOf(line)
  if (typeof obj === 'string') return rejected(obj)
  const rawMethod = obj['RequestMethod']
  const rawPath = obj['RequestPath']
  if (
    (rawMethod === undefined && rawPath === undefined) ||
    (obj['ClientHost'] === undefined && obj['ClientAddr'] === undefined && obj['DownstreamStatus'] === undefined)
  ) {
    return rejected('not-access-record')
  }
  const method = textValue(rawMethod)
  const target = method === null ? null : textValue(rawPath)
  const [path, query] = splitTarget(target)
  const clientHost = textValue(obj['ClientHost'])
  let ip = firstListEntry(clientHost)
  if (ip === null) ip = addressWithoutPort(obj['ClientAddr'])
  let host = textValue(obj['RequestHost'])
  let port = intValue(obj['RequestPort'])
  if (host !== null && port === null) {
    const split = splitHostPort(host)
    host = split.host
    port = split.port
  }
  // StartUTC is the request's start with full precision and an explicit zone; `time` is when the
  // entry was written (and older Traefik versions write it without a zone).
  const time = timeValue(obj['StartUTC']) ?? timeValue(obj['StartLocal']) ?? timeValue(obj['time'])
  const duration = floatValue(obj['Duration'])
  const record: RequestRecord = {
    ip,
    time,
    method,
    path,
    query,
    protocol: method === null ? null : normaliseProtocol(textValue(obj['RequestProtocol'])),
    status: intValue(obj['DownstreamStatus']),
    bytes: intValue(obj['DownstreamContentSize']),
    referrer: textValue(obj['request_Referer']),
    userAgent: textValue(obj['request_User-Agent']),
    user: textValue(obj['ClientUsername']),
    host,
    port,
    requestLine: method === null ? textValue(rawPath) : null,
    acceptLanguage: textValue(obj['request_Accept-Language']),
    xForwardedFor: textValue(obj['request_X-Forwarded-For']) ?? (clientHost !== null && clientHost.includes(',') ? clientHost : null),
    requestTime: duration === null ? null : duration / 1e9,
  }
  return record
}

/** Traefik v2/v3 JSON access log (`accessLog.format: json`). */
export const traefikJson: LogParser = {
  name: 'traefik_json',
  description: 'Traefik JSON access log (accessLog format json)',
  detect: (sample) => acceptedShare(traefikJson, sample),
  parse: parseTraefik,
}
