// Cloudflare Logpush `http_requests` records, one JSON object per line (NDJSON):
// `ClientIP`, `ClientRequestHost`, `ClientRequestMethod`, `ClientRequestURI` (path and query),
// `ClientRequestProtocol`, `ClientRequestUserAgent`, `ClientRequestReferer`, `EdgeResponseStatus`,
// `EdgeResponseBytes`, `EdgeStartTimestamp`. The timestamp may be RFC 3339, Unix seconds or Unix
// nanoseconds (Logpush's `timestamp_format` option: rfc3339, unix, unixnano), as a string or a
// number; `EdgeEndTimestamp` is used when the start is missing. The client is the visitor as
// Cloudflare saw it: Cloudflare is the edge, so no X-Forwarded-For handling is needed.

import type { LogParser, ParseResult, RequestRecord } from './types.js'
import { jsonFormat } from './util/json-format.js'
import { normaliseProtocol, splitTarget } from './util/json-request.js'
import { timeValue } from './util/json-time.js'
import { hostAndPort, intValue, textValue } from './util/json-values.js'

const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]{0,24}$/

function readCloudflare(obj: Record<string, unknown>): ParseResult {
  if (obj['ClientIP'] === undefined || (obj['ClientRequestURI'] === undefined && obj['ClientRequestPath'] === undefined)) {
    return { rejected: 'not-access-record' }
  }
  const rawMethod = textValue(obj['ClientRequestMethod'])
  const method = rawMethod !== null && METHOD_TOKEN.test(rawMethod) ? rawMethod : null
  const uri = textValue(obj['ClientRequestURI']) ?? textValue(obj['ClientRequestPath'])
  const [path, query] = method === null ? [null, null] : splitTarget(uri)
  const { host, port } = hostAndPort(obj['ClientRequestHost'])
  const record: RequestRecord = {
    ip: textValue(obj['ClientIP']),
    time: timeValue(obj['EdgeStartTimestamp']) ?? timeValue(obj['EdgeEndTimestamp']),
    method,
    path,
    query,
    protocol: method === null ? null : normaliseProtocol(textValue(obj['ClientRequestProtocol'])),
    status: intValue(obj['EdgeResponseStatus']),
    bytes: intValue(obj['EdgeResponseBytes']) ?? intValue(obj['EdgeResponseBodyBytes']),
    referrer: textValue(obj['ClientRequestReferer']),
    userAgent: textValue(obj['ClientRequestUserAgent']),
    user: null,
    host,
    port,
    requestLine: method === null ? [rawMethod, uri].filter((v) => v !== null).join(' ') || null : null,
  }
  return record
}

/** Cloudflare Logpush http_requests NDJSON. */
export const cloudflareJson: LogParser = jsonFormat({
  name: 'cloudflare_json',
  description: 'Cloudflare Logpush http_requests (NDJSON: ClientIP, ClientRequestURI, EdgeStartTimestamp, ...)',
  read: readCloudflare,
})
