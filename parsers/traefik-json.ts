// Traefik v2/v3 JSON access log (`accessLog.format: json`). The time is `StartUTC` (when the request
// started); `ClientHost` holds the X-Forwarded-For list when there is one.
import type { LogParser, ParseResult, RequestRecord } from './types.js'
import { jsonFormat } from './util/json-format.js'
import { normaliseProtocol, splitTarget } from './util/json-request.js'
import { timeValue } from './util/json-time.js'
import { addressValue, floatValue, hostAndPort, intValue, textValue } from './util/json-values.js'

/** The first entry of a list (the originating client as the proxy chain reports it). */
function firstListEntry(v: string | null): string | null {
  if (v === null) return null
  const comma = v.indexOf(',')
  return comma < 0 ? v : textValue(v.slice(0, comma).trim())
}

function readTraefik(obj: Record<string, unknown>): ParseResult {
  const rawMethod = obj['RequestMethod']
  const rawPath = obj['RequestPath']
  if (
    (rawMethod === undefined && rawPath === undefined) ||
    (obj['ClientHost'] === undefined && obj['ClientAddr'] === undefined && obj['DownstreamStatus'] === undefined)
  ) {
    return { rejected: 'not-access-record' }
  }
  const method = textValue(rawMethod)
  const target = method === null ? null : textValue(rawPath)
  const [path, query] = splitTarget(target)
  const clientHost = textValue(obj['ClientHost'])
  const { host, port } = hostAndPort(obj['RequestHost'], obj['RequestPort'])
  // StartUTC is the request's start with full precision and an explicit zone; `time` is when the
  // entry was written (and older Traefik versions write it without a zone).
  const time = timeValue(obj['StartUTC']) ?? timeValue(obj['StartLocal']) ?? timeValue(obj['time'])
  const duration = floatValue(obj['Duration'])
  const record: RequestRecord = {
    ip: firstListEntry(clientHost) ?? addressValue(obj['ClientAddr']),
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

/** Traefik v2/v3 JSON access log. */
export const traefikJson: LogParser = jsonFormat({
  name: 'traefik_json',
  description: 'Traefik JSON access log (accessLog format json)',
  read: readTraefik,
})
