// Compiles an nginx `log_format` string (the text after the format name, quotes already joined)
// into a parser. Known variables fill record fields; any other `$variable` matches a field and is
// ignored.

import { FormatError, type LogParser } from './types.js'
import { compileTokens, type FieldRole, type FormatToken } from './util/compiled-format.js'

/** nginx variables the record understands: role and priority among duplicates. */
const VARIABLES: Readonly<Record<string, readonly [FieldRole, number?]>> = {
  remote_addr: ['ip'],
  remote_user: ['user'],
  time_local: ['timeClf'],
  time_iso8601: ['timeIso'],
  msec: ['timeEpochSeconds'],
  request: ['request'],
  request_method: ['method'],
  request_uri: ['target'],
  uri: ['path'],
  document_uri: ['path'],
  args: ['args'],
  query_string: ['args'],
  server_protocol: ['protocol'],
  status: ['status'],
  body_bytes_sent: ['bytes', 2],
  bytes_sent: ['bytes', 1],
  http_referer: ['referrer'],
  http_user_agent: ['userAgent'],
  http_x_forwarded_for: ['xForwardedFor', 2],
  proxy_add_x_forwarded_for: ['xForwardedFor', 1],
  http_accept_language: ['acceptLanguage'],
  host: ['host', 3],
  server_name: ['host', 2],
  http_host: ['hostPort', 1],
  server_port: ['port'],
  request_time: ['requestTimeSeconds'],
  // Matched as lists (one value per upstream tried) and ignored.
  upstream_addr: ['ignoreList'],
  upstream_status: ['ignoreList'],
  upstream_response_time: ['ignoreList'],
  upstream_response_length: ['ignoreList'],
  upstream_connect_time: ['ignoreList'],
  upstream_header_time: ['ignoreList'],
  upstream_bytes_received: ['ignoreList'],
  upstream_bytes_sent: ['ignoreList'],
}

const isNameChar = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95

/** Splits a log_format string into literals and `$variable` fields. */
export function tokenizeNginxFormat(definition: string): FormatToken[] {
  const tokens: FormatToken[] = []
  let literal = ''
  let i = 0
  while (i < definition.length) {
    const ch = definition[i]!
    if (ch !== '$') {
      literal += ch
      i++
      continue
    }
    let name: string
    let next: number
    if (definition[i + 1] === '{') {
      const close = definition.indexOf('}', i + 2)
      if (close === -1) throw new FormatError(`nginx log_format: unterminated "\${" at offset ${i}`)
      name = definition.slice(i + 2, close)
      next = close + 1
    } else {
      let j = i + 1
      while (j < definition.length && isNameChar(definition.charCodeAt(j))) j++
      name = definition.slice(i + 1, j)
      next = j
    }
    if (name === '' || ![...name].every((c) => isNameChar(c.charCodeAt(0)))) {
      throw new FormatError(`nginx log_format: invalid variable name after "$" at offset ${i}`)
    }
    if (literal !== '') tokens.push({ kind: 'literal', text: literal })
    literal = ''
    const known = VARIABLES[name.toLowerCase()]
    tokens.push({ kind: 'field', role: known?.[0] ?? 'ignore', priority: known?.[1] ?? 1, source: `$${name}` })
    i = next
  }
  if (literal !== '') tokens.push({ kind: 'literal', text: literal })
  return tokens
}

/** Compiles an nginx `log_format` definition, e.g.
 *  `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`.
 *  A leading `escape=default` / `escape=none` parameter is accepted; `escape=json` formats are
 *  JSON lines and belong to the JSON parser. Throws `FormatError` when it cannot be compiled. */
export function compileNginxFormat(definition: string): LogParser {
  let body = definition.trim()
  const escape = /^escape=(\w+)\s+/.exec(body)
  if (escape) {
    if (escape[1] === 'json') {
      throw new FormatError('nginx log_format with escape=json writes JSON lines: use the JSON format instead')
    }
    if (escape[1] !== 'default' && escape[1] !== 'none') {
      throw new FormatError(`nginx log_format: unknown escape=${escape[1]}`)
    }
    body = body.slice(escape[0].length)
  }
  if (body === '') throw new FormatError('nginx log_format is empty')
  return compileTokens(`nginx:${definition}`, definition, tokenizeNginxFormat(body))
}
