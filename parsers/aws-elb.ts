// AWS Elastic Load Balancing access logs, in their documented space-separated layouts:
//
//   classic ELB: time elb client:port backend:port request_processing_time backend_processing_time
//                response_processing_time elb_status_code backend_status_code received_bytes
//                sent_bytes "request" "user_agent" ssl_cipher ssl_protocol
//   ALB:         type time elb client:port target:port request_processing_time target_processing_time
//                response_processing_time elb_status_code target_status_code received_bytes sent_bytes
//                "request" "user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id"
//                "domain_name" ... (later fields are ignored)
//
// The client is reported without its port; `"request"` holds the full URL
// (`GET https://www.example.com:443/path?q HTTP/1.1`), from which host, port, path and query come.
// The time is the entry's `time` (when the response was sent; ALB also logs request_creation_time).
// A TCP/SSL-listener entry (`"- - - "`, no status) and a request the load balancer could not parse
// (400) are records without a method, like junk requests in the other formats (the mapper skips
// them as malformed). `#` lines (not written by AWS) are rejected as `comment`.

import { isIP } from 'node:net'
import type { LogParser, ParseResult, RequestRecord } from './types.js'
import { acceptedShare } from './util/accepted-share.js'
import { decodeLine } from './util/decode.js'
import { closingQuote, digitsValue, splitHostPort } from './util/fields.js'
import { fillTarget } from './util/request-line.js'
import { timeValue } from './util/json-time.js'

const EMPTY = Object.freeze({ rejected: 'empty' })
const NO_MATCH = Object.freeze({ rejected: 'no-match' })
const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const BAD_STATUS = Object.freeze({ rejected: 'bad-status' })
const INTERNAL = Object.freeze({ rejected: 'parser-error' })
const COMMENT = Object.freeze({ rejected: 'comment' })

/** ALB entry types (the first field). */
const ALB_TYPES: ReadonlySet<string> = new Set(['http', 'https', 'h2', 'grpcs', 'ws', 'wss'])

const ISO_START = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/

/** Splits on single spaces; a field starting with `"` runs to its closing quote (kept without the
 *  quotes). At most `limit` fields are read; the rest of the line is ignored. */
function splitFields(s: string, limit: number): string[] | null {
  const out: string[] = []
  let i = 0
  const len = s.length
  while (i < len && out.length < limit) {
    if (s.charCodeAt(i) === 0x22) {
      const end = closingQuote(s, i + 1)
      if (end === -1) return null
      out.push(s.slice(i + 1, end))
      i = end + 1
    } else {
      let e = s.indexOf(' ', i)
      if (e === -1) e = len
      out.push(s.slice(i, e))
      i = e
    }
    if (i < len && s.charCodeAt(i) !== 0x20) return null
    i++
  }
  return out
}

/** `client:port` -> the address (`[2001:db8::1]:443` and `2001:db8::1:443` too). */
export function addressWithoutPort(text: string): string | null {
  if (text === '-' || text === '') return null
  if (text.charCodeAt(0) === 0x5b) {
    const close = text.indexOf(']')
    return close > 1 ? text.slice(1, close) : text
  }
  const colon = text.lastIndexOf(':')
  if (colon <= 0 || digitsValue(text, colon + 1, text.length) < 0) return text
  const host = text.slice(0, colon)
  // One colon: IPv4 or a name with a port. More: IPv6 with the port appended, when what is left is an address.
  if (text.indexOf(':') === colon || isIP(host) === 6) return host
  return text
}

type ElbRecord = RequestRecord & { requestTime: number | null }

/** Fills method, host, port, path, query and protocol from `METHOD URL PROTOCOL`. */
function fillRequest(rec: ElbRecord, request: string): boolean {
  const sp1 = request.indexOf(' ')
  const sp2 = request.lastIndexOf(' ')
  if (sp1 <= 0 || sp2 <= sp1) return false
  const method = request.slice(0, sp1)
  const url = request.slice(sp1 + 1, sp2)
  const protocol = request.slice(sp2 + 1)
  if (method === '-' || url === '-' || url === '') return false
  if (!/^[A-Z][A-Z0-9_-]{0,24}$/.test(method)) {
    rec.requestLine = request
    return true
  }
  rec.method = method
  rec.protocol = protocol === '-' || protocol === '' ? null : protocol
  const scheme = url.indexOf('://')
  let target = url
  if (scheme > 0 && scheme < 10) {
    const rest = url.slice(scheme + 3)
    let slash = rest.indexOf('/')
    const q = rest.indexOf('?')
    if (q !== -1 && (slash === -1 || q < slash)) slash = q
    const authority = slash === -1 ? rest : rest.slice(0, slash)
    target = slash === -1 ? '/' : rest.charCodeAt(slash) === 0x3f ? '/' + rest.slice(slash) : rest.slice(slash)
    const hp = splitHostPort(authority)
    rec.host = hp.host
    rec.port = hp.port
  }
  fillTarget(rec, target, 0, target.length)
  return true
}

function numberOrNull(v: string): number | null {
  const n = digitsValue(v, 0, v.length)
  return n >= 0 ? n : null
}

function parseEntry(line: Buffer, alb: boolean): ParseResult {
  if (line.length === 0) return EMPTY
  if (line[0] === 0x23) return COMMENT
  try {
    const s = decodeLine(line)
    const f = splitFields(s, alb ? 19 : 15)
    const o = alb ? 1 : 0 // ALB lines start with the entry type
    if (f === null || f.length < 12 + o) return NO_MATCH
    if (alb !== ALB_TYPES.has(f[0]!)) return NO_MATCH
    if (!ISO_START.test(f[o]!)) return BAD_TIME
    const time = timeValue(f[o]!)
    if (time === null) return BAD_TIME
    const status = f[o + 7]!
    const code = status === '-' ? null : numberOrNull(status)
    if (status !== '-' && (code === null || code > 999)) return BAD_STATUS
    const rec: ElbRecord = {
      ip: addressWithoutPort(f[o + 2]!),
      time,
      method: null,
      path: null,
      query: null,
      protocol: null,
      status: code,
      bytes: f[o + 10] === '-' ? null : numberOrNull(f[o + 10]!),
      referrer: null,
      userAgent: f[o + 12] === undefined || f[o + 12] === '-' || f[o + 12] === '' ? null : f[o + 12]!,
      user: null,
      host: null,
      port: null,
      requestLine: null,
      requestTime: null,
    }
    const times = [f[o + 4]!, f[o + 5]!, f[o + 6]!].map(Number)
    if (times.every((t) => Number.isFinite(t) && t >= 0)) rec.requestTime = times[0]! + times[1]! + times[2]!
    // No request that could be read: a TCP/SSL-listener entry (`"- - - "`, no status) or a request
    // the load balancer could not parse (`"- http://host:80- -"`, answered 400). The line has the
    // format's layout, so it is a record without a method (the mapper skips it as malformed).
    if (!fillRequest(rec, f[o + 11]!)) rec.requestLine = f[o + 11]!
    if (rec.method === null) {
      rec.path = null
      rec.query = null
    }
    // ALB: the SNI domain when the URL's host is an address.
    if (alb && f[18] !== undefined && f[18] !== '-' && (rec.host === null || isIP(rec.host) !== 0)) rec.host = f[18]
    return rec
  } catch {
    return INTERNAL
  }
}

/** AWS Classic Load Balancer (ELB) access log. */
export const awsElb: LogParser = {
  name: 'aws_elb',
  description: 'AWS Classic Load Balancer access log: time elb client:port backend:port ... "request" "user_agent" ...',
  detect: (sample) => acceptedShare(awsElb, sample),
  parse: (line) => parseEntry(line, false),
}

/** AWS Application Load Balancer access log. */
export const awsAlb: LogParser = {
  name: 'aws_alb',
  description: 'AWS Application Load Balancer access log: type time elb client:port target:port ... "request" "user_agent" ...',
  detect: (sample) => acceptedShare(awsAlb, sample),
  parse: (line) => parseEntry(line, true),
}
