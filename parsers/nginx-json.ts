// nginx `log_format ... escape=json|default` with any key names: nginx variable names, Matomo's
// names and common aliases are recognised, other keys are named with `--field record=jsonkey`
// (`options.fieldMap`; a dotted key reaches into nested objects). Each key's role is looked up once
// per instance and cached; a line costs one pass over its keys and no per-line closures.
import { FormatError, RECORD_KEYS, type LogParser, type ParseResult, type ParserOptions, type RequestRecord } from './types.js'
import { acceptedShare } from './util/accepted-share.js'
import { jsonFormat } from './util/json-format.js'
import { isObject } from './util/json-line.js'
import { normaliseProtocol, splitRequestLine, splitTarget } from './util/json-request.js'
import { timeValue } from './util/json-time.js'
import { floatValue, hostAndPort, intValue, textValue } from './util/json-values.js'

/** Record fields that `--field record=jsonkey` can name: the record's own (`request`, the whole
 *  request line, instead of `requestLine`) and the optional ones JSON logs carry. */
export const JSON_RECORD_FIELDS = [...RECORD_KEYS.filter((key) => key !== 'requestLine'), 'request', 'acceptLanguage', 'xForwardedFor', 'requestTime'] as const

/** The per-line scratch slot of each field (in `JSON_RECORD_FIELDS` order), plus one for durations
 *  logged in milliseconds. */
const SLOT = {
  ip: 0,
  time: 1,
  method: 2,
  path: 3,
  query: 4,
  protocol: 5,
  status: 6,
  bytes: 7,
  referrer: 8,
  userAgent: 9,
  user: 10,
  host: 11,
  port: 12,
  request: 13,
  acceptLanguage: 14,
  xForwardedFor: 15,
  requestTime: 16,
  requestTimeMs: 17,
} as const
const SLOT_COUNT = 18
const NO_PRIORITY = 1 << 30

interface KeyRole {
  slot: number
  /** Lower wins when several keys of one line name the same field. */
  priority: number
}

/** Well-known key names (lower-case, `-` read as `_`), best first per field. */
const WELL_KNOWN_KEYS: Readonly<Record<keyof typeof SLOT, readonly string[]>> = {
  ip: [
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
  time: ['msec', 'time_iso8601', 'time_local', 'timestamp', '@timestamp', 'time', 'date', 'datetime', 'ts', 'start_time'],
  method: ['request_method', 'method', 'http_method', 'verb'],
  path: ['request_uri', 'path', 'url', 'uri', 'request_path', 'request_url'],
  query: ['args', 'query_string', 'query', 'querystring'],
  protocol: ['server_protocol', 'protocol', 'http_version', 'http_protocol', 'proto'],
  status: ['status', 'status_code', 'statuscode', 'response_status', 'http_status', 'response_code'],
  bytes: ['body_bytes_sent', 'length', 'size', 'bytes', 'response_size', 'body_bytes', 'bytes_sent'],
  referrer: ['http_referer', 'referrer', 'referer', 'http_referrer'],
  userAgent: ['http_user_agent', 'user_agent', 'useragent', 'ua', 'agent', 'http_useragent'],
  user: ['remote_user', 'user', 'userid', 'user_id', 'username', 'auth_user'],
  host: ['host', 'server_name', 'http_host', 'vhost', 'hostname', 'virtual_host'],
  port: ['server_port', 'port'],
  request: ['request', 'request_line'],
  acceptLanguage: ['http_accept_language', 'accept_language'],
  xForwardedFor: ['http_x_forwarded_for', 'x_forwarded_for', 'xff', 'forwarded_for'],
  requestTime: ['request_time', 'request_time_seconds'],
  requestTimeMs: ['generation_time_milli', 'request_time_ms', 'request_time_milli'],
}

const WELL_KNOWN: ReadonlyMap<string, KeyRole> = (() => {
  const map = new Map<string, KeyRole>()
  for (const [field, names] of Object.entries(WELL_KNOWN_KEYS)) {
    const slot = SLOT[field as keyof typeof SLOT]
    names.forEach((name, i) => map.set(name, { slot, priority: i + 1 }))
  }
  return map
})()

/** `userAgent`, `user_agent`, `UserAgent` -> the slot of that record field. */
const FIELD_SLOTS: ReadonlyMap<string, number> = new Map(JSON_RECORD_FIELDS.map((field) => [field.toLowerCase(), SLOT[field]]))

function slotForRecordField(name: string): number | undefined {
  return FIELD_SLOTS.get(name.toLowerCase().replace(/[_-]/g, ''))
}

const UNKNOWN_KEY: KeyRole = { slot: -1, priority: NO_PRIORITY }
/** Bounds the per-instance key cache: a file of random keys must not grow memory without limit. */
const KEY_CACHE_LIMIT = 1024

/** Reads records out of nginx JSON objects; per instance: the key roles, seeded with `--field`. */
class NginxJsonReader {
  /** Raw JSON key -> role. */
  private readonly keyRoles = new Map<string, KeyRole>()
  /** --field overrides whose key is a dotted path into nested objects. */
  private readonly nestedKeys: Array<{ slot: number; path: string[] }> = []
  // Per-line scratch, reused (parse is synchronous).
  private readonly values: unknown[] = new Array<unknown>(SLOT_COUNT)
  private readonly priorities = new Int32Array(SLOT_COUNT)

  constructor(fieldMap: Readonly<Record<string, string>>) {
    for (const [recordField, jsonKey] of Object.entries(fieldMap)) {
      const slot = slotForRecordField(recordField)
      if (slot === undefined) {
        throw new FormatError(`--field ${recordField}=${jsonKey}: unknown record field "${recordField}" (one of ${JSON_RECORD_FIELDS.join(', ')})`)
      }
      if (typeof jsonKey !== 'string' || jsonKey.length === 0) {
        throw new FormatError(`--field ${recordField}=: the JSON key is empty`)
      }
      this.keyRoles.set(jsonKey, { slot, priority: 0 })
      if (jsonKey.includes('.')) this.nestedKeys.push({ slot, path: jsonKey.split('.') })
    }
  }

  private roleOf(key: string): KeyRole {
    const cached = this.keyRoles.get(key)
    if (cached !== undefined) return cached
    const role = WELL_KNOWN.get(key.toLowerCase().replaceAll('-', '_')) ?? UNKNOWN_KEY
    if (this.keyRoles.size < KEY_CACHE_LIMIT) this.keyRoles.set(key, role)
    return role
  }

  read(obj: Record<string, unknown>): ParseResult {
    const values = this.values
    const priorities = this.priorities
    values.fill(undefined)
    priorities.fill(NO_PRIORITY)
    for (const key in obj) {
      const role = this.roleOf(key)
      if (role.priority < priorities[role.slot]!) {
        priorities[role.slot] = role.priority
        values[role.slot] = obj[key]
      }
    }
    for (const nested of this.nestedKeys) {
      let v: unknown = obj
      for (const part of nested.path) v = isObject(v) ? v[part] : undefined
      if (v !== undefined) {
        priorities[nested.slot] = 0
        values[nested.slot] = v
      }
    }
    return build(values, priorities)
  }
}

/** The record from a line's slot values (`priorities` tells which fields the line logged at all). */
function build(values: unknown[], priorities: Int32Array): ParseResult {
  const ip = textValue(values[SLOT.ip])
  const request = textValue(values[SLOT.request])
  const hasMethodKey = priorities[SLOT.method] !== NO_PRIORITY
  let method = textValue(values[SLOT.method])
  let target = textValue(values[SLOT.path])
  let protocol = normaliseProtocol(textValue(values[SLOT.protocol]))
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
  const status = intValue(values[SLOT.status])
  if (!readable || (status === null && request === null && method === null && target === null)) {
    return { rejected: 'not-access-record' }
  }
  // No method (a junk request nginx could not parse): the request text stands alone.
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
  if (target !== null && query === null) query = textValue(values[SLOT.query])
  const { host, port } = hostAndPort(values[SLOT.host], values[SLOT.port])
  const requestTimeMs = floatValue(values[SLOT.requestTimeMs])
  const record: RequestRecord = {
    ip,
    time: timeValue(values[SLOT.time]),
    method,
    path,
    query,
    protocol,
    status,
    bytes: intValue(values[SLOT.bytes]),
    referrer: textValue(values[SLOT.referrer]),
    userAgent: textValue(values[SLOT.userAgent]),
    user: textValue(values[SLOT.user]),
    host,
    port,
    requestLine,
    acceptLanguage: textValue(values[SLOT.acceptLanguage]),
    xForwardedFor: textValue(values[SLOT.xForwardedFor]),
    requestTime: floatValue(values[SLOT.requestTime]) ?? (requestTimeMs === null ? null : requestTimeMs / 1000),
  }
  return record
}

/** nginx `log_format ... escape=json` (or `escape=default`) with any key names. Throws
 *  `FormatError` for a `--field` naming no record field. */
export function createNginxJson(options?: ParserOptions): LogParser {
  const reader = new NginxJsonReader(options?.fieldMap ?? {})
  return jsonFormat({
    name: 'nginx_json',
    description: 'nginx log_format with escape=json or escape=default, any key names (--field record=key)',
    read: (obj) => reader.read(obj),
    // The catch-all JSON format: a specific format that reads the same lines wins the tie.
    detect: (parser, sample) => acceptedShare(parser, sample) * 0.99,
  })
}
