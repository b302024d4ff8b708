// Caddy v2 JSON access log (`log { format json }`), also with a `docker compose` prefix. Access
// records come from the `http.log.access[.<name>]` loggers; the client is `request.client_ip`.
import type { LogParser, ParseResult, RequestRecord } from './types.js'
import { acceptedShareWithOwnLines } from './util/accepted-share.js'
import { jsonFormat } from './util/json-format.js'
import { isObject } from './util/json-line.js'
import { normaliseProtocol, splitTarget } from './util/json-request.js'
import { timeValue } from './util/json-time.js'
import { addressValue, floatValue, hostAndPort, intValue, textValue } from './util/json-values.js'

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

function readCaddy(obj: Record<string, unknown>): ParseResult {
  const logger = obj['logger']
  const req = obj['request']
  // Everything but the access loggers (startup, TLS, reverse_proxy debug records) is not a request.
  if (!isObject(req) || (typeof logger === 'string' ? !logger.startsWith('http.log.access') : logger !== undefined)) {
    return { rejected: 'not-access-record' }
  }
  const headers = req['headers']
  const method = textValue(req['method'])
  const uri = method === null ? null : textValue(req['uri'])
  const [path, query] = splitTarget(uri)
  const { host, port } = hostAndPort(req['host'])
  const record: RequestRecord = {
    ip: textValue(req['client_ip']) ?? textValue(req['remote_ip']) ?? addressValue(req['remote_addr']),
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
    host,
    port,
    requestLine: method === null ? textValue(req['uri']) : null,
    acceptLanguage: firstHeader(headers, 'Accept-Language'),
    xForwardedFor: joinedHeader(headers, 'X-Forwarded-For'),
    requestTime: floatValue(obj['duration']),
  }
  return record
}

/** Caddy v2 JSON access log. */
export const caddyJson: LogParser = jsonFormat({
  name: 'caddy_json',
  description: 'Caddy v2 JSON access log (http.log.access records)',
  read: readCaddy,
  // Caddy's own non-access records (startup, TLS...) often fill the start of its log.
  detect: (parser, sample) => acceptedShareWithOwnLines(parser, sample, (_line, reason) => reason === 'not-access-record'),
})
