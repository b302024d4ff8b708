// HAProxy HTTP log (`option httplog`), with or without a syslog prefix (RFC 3164 or RFC 5424):
//
//   [Sep 25 06:05:27 host haproxy[6801]: ]client:port [accept_date] frontend backend/server
//     TR/Tw/Tc/Tr/Ta status bytes req_cookie res_cookie termination actconn/feconn/beconn/srv_conn/retries
//     srv_queue/backend_queue [{captured request headers}] [{captured response headers}] "request"
//
// The client is reported without its port. HAProxy writes the accept date in its local time with
// no zone; it is read in `--timezone` (`ParserOptions.timeZone`), else as the local time of the
// machine running swetrix-ingest (as an Apache `%{...}t` without `%z`), which is right when both
// run on the same host.
//
// Captured request headers (`capture request header <name> len <n>`) are logged in configuration
// order, `|`-separated, in the first `{...}` block. Which position holds what is configurable with
// `--field host=N`, `--field userAgent=N`, `--field referrer=N`, `--field xForwardedFor=N`,
// `--field acceptLanguage=N` (1-based). Without a setting, a position is read by its content: the
// first value shaped like a host name (`www.example.com[:port]`) is the host, the first value shaped
// like a User-Agent (`Product/version ...`) is the User-Agent; nothing else is guessed.
// An `option tcplog` entry (a connection, no HTTP request) is a record without a method (the mapper
// skips it as malformed); other lines HAProxy writes (TLS handshake failures, start-up messages)
// are rejected as `not-access-record`.

import type { LogParser, ParseResult, ParserOptions, RequestRecord } from './types.js'
import { acceptedShareWithOwnLines } from './util/accepted-share.js'
import { CLF_TIME_LENGTH, ClfTimeReader } from './util/clf-time.js'
import { decodeLine } from './util/decode.js'
import { splitHostPort } from './util/fields.js'
import { createWallClock, type WallClock } from './util/wall-clock.js'
import { fillRequest } from './util/request-line.js'

const EMPTY = Object.freeze({ rejected: 'empty' })
const NOT_ACCESS = Object.freeze({ rejected: 'not-access-record' })
const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const INTERNAL = Object.freeze({ rejected: 'parser-error' })

// client:port [date] frontend backend/server timers status bytes cookie cookie termination conns queues
const HTTPLOG = new RegExp(
  '(?:^|\\s)(\\S+):(\\d{1,5}) \\[(\\d{2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2})(\\.\\d{1,6})?\\] ' +
    '(\\S+) (\\S+/\\S+) (-?\\d+/-?\\d+/-?\\d+/-?\\d+/\\+?-?\\d+) (-?\\d{1,3}) (\\+?-?\\d+) (\\S+) (\\S+) (\\S{4}) ' +
    '(\\d+/\\d+/\\d+/\\d+/\\+?\\d+) (\\d+/\\d+)(?: \\{([^}]*)\\})?(?: \\{([^}]*)\\})? "(.*?)"?$',
)

/** Any line HAProxy writes about a connection: `client:port [accept date] ...`. */
const HAPROXY_EVENT = /(?:^|\s)\S+:\d{1,5} \[\d{2}\/[A-Za-z]{3}\/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?\] \S/

// option tcplog: client:port [date] frontend backend/server Tw/Tc/Tt bytes termination conns queues
const TCPLOG = new RegExp(
  '(?:^|\\s)(\\S+):(\\d{1,5}) \\[(\\d{2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2})(\\.\\d{1,6})?\\] ' +
    '(\\S+) (\\S+/\\S+) (-?\\d+/-?\\d+/\\+?-?\\d+) (\\+?\\d+) (\\S{2}) (\\d+/\\d+/\\d+/\\d+/\\+?\\d+) (\\d+/\\d+)$',
)

function unbracket(ip: string): string {
  return ip.charCodeAt(0) === 0x5b && ip.endsWith(']') ? ip.slice(1, -1) : ip
}

type CaptureField = 'host' | 'userAgent' | 'referrer' | 'xForwardedFor' | 'acceptLanguage'
const CAPTURE_FIELDS: readonly CaptureField[] = ['host', 'userAgent', 'referrer', 'xForwardedFor', 'acceptLanguage']

const HOST_SHAPE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/
const UA_SHAPE = /^[A-Za-z][A-Za-z0-9._-]*\/\S/

type HaproxyRecord = RequestRecord & { xForwardedFor: string | null; requestTime: number | null; acceptLanguage: string | null }

/** 1-based capture positions from `--field`; a value that is not a position is a usage error. */
function capturePositions(options: ParserOptions | undefined): Partial<Record<CaptureField, number>> | null {
  const map = options?.fieldMap
  if (map === undefined) return null
  const out: Partial<Record<CaptureField, number>> = {}
  let any = false
  for (const field of CAPTURE_FIELDS) {
    const v = map[field]
    if (v === undefined) continue
    const n = Number(v.replace(/^(?:capture|hdr)[:.]?/i, ''))
    if (Number.isInteger(n) && n >= 1 && n <= 64) {
      out[field] = n
      any = true
    }
  }
  return any ? out : null
}

class HaproxyParser implements LogParser {
  readonly name = 'haproxy'
  readonly description = 'HAProxy option httplog (with or without the syslog prefix)'
  readonly localTime = true
  private readonly clock = new ClfTimeReader()

  constructor(
    private readonly positions: Partial<Record<CaptureField, number>> | null,
    private readonly zone: WallClock,
  ) {}

  /** HAProxy's own non-request lines (`client:port [date] frontend/backend: SSL handshake failure`)
   *  get partial credit. */
  detect(sample: readonly Buffer[]): number {
    return acceptedShareWithOwnLines(this, sample, (line) => HAPROXY_EVENT.test(line.toString('latin1')))
  }

  parse(line: Buffer): ParseResult {
    if (line.length === 0) return EMPTY
    try {
      const s = decodeLine(line)
      const m = HTTPLOG.exec(s)
      if (m === null) return this.tcpEntry(s)
      const time = this.acceptDate(m[3]!, m[4])
      if (Number.isNaN(time)) return BAD_TIME
      const status = Number(m[8])
      const bytes = Number(m[9]!.replace('+', ''))
      const timers = m[7]!.split('/')
      const total = Number(timers[4]!.replace('+', ''))
      const rec: HaproxyRecord = {
        ip: unbracket(m[1]!),
        time,
        method: null,
        path: null,
        query: null,
        protocol: null,
        status: status >= 0 ? status : null,
        bytes: Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : null,
        referrer: null,
        userAgent: null,
        user: null,
        host: null,
        port: null,
        requestLine: null,
        xForwardedFor: null,
        requestTime: total >= 0 ? total / 1000 : null,
        acceptLanguage: null,
      }
      const request = m[17]!
      fillRequest(rec, request, 0, request.length)
      if (m[15] !== undefined) this.readCaptures(rec, m[15])
      return rec
    } catch {
      return INTERNAL
    }
  }

  /** An `option tcplog` entry: a connection without an HTTP request, a record without a method. */
  private tcpEntry(s: string): ParseResult {
    const m = TCPLOG.exec(s)
    if (m === null) return NOT_ACCESS
    const time = this.acceptDate(m[3]!, m[4])
    if (Number.isNaN(time)) return BAD_TIME
    const bytes = Number(m[8]!.replace('+', ''))
    const total = Number(m[7]!.split('/')[2]!.replace('+', ''))
    const rec: HaproxyRecord = {
      ip: unbracket(m[1]!),
      time,
      method: null,
      path: null,
      query: null,
      protocol: null,
      status: null,
      bytes: Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : null,
      referrer: null,
      userAgent: null,
      user: null,
      host: null,
      port: null,
      requestLine: null,
      xForwardedFor: null,
      requestTime: total >= 0 ? total / 1000 : null,
      acceptLanguage: null,
    }
    return rec
  }

  /** HAProxy's accept date (its local time, no zone) as epoch ms. */
  private acceptDate(date: string, fraction: string | undefined): number {
    // The CLF time reader wants `dd/Mon/yyyy:HH:MM:SS +zone`: read the wall clock as UTC, then
    // take the instant of that wall-clock time in the zone.
    const wall = this.clock.read(`${date} +0000`, 0)
    if (Number.isNaN(wall) || date.length + 6 !== CLF_TIME_LENGTH) return Number.NaN
    return this.zone.fromWall(wall) + (fraction === undefined ? 0 : Number(fraction) * 1000)
  }

  private readCaptures(rec: HaproxyRecord, block: string): void {
    const values = block.split('|')
    const at = (n: number | undefined): string | null => {
      if (n === undefined) return null
      const v = values[n - 1]
      return v === undefined || v === '' || v === '-' ? null : v
    }
    if (this.positions !== null) {
      const host = at(this.positions.host)
      if (host !== null) {
        const hp = splitHostPort(host)
        rec.host = hp.host
        rec.port = hp.port
      }
      rec.userAgent = at(this.positions.userAgent)
      rec.referrer = at(this.positions.referrer)
      rec.xForwardedFor = at(this.positions.xForwardedFor)
      rec.acceptLanguage = at(this.positions.acceptLanguage)
      return
    }
    for (const v of values) {
      if (v === '') continue
      if (rec.host === null && HOST_SHAPE.test(v)) {
        const hp = splitHostPort(v)
        rec.host = hp.host
        rec.port = hp.port
      } else if (rec.userAgent === null && UA_SHAPE.test(v)) {
        rec.userAgent = v
      }
    }
  }
}

/** An HAProxy httplog parser; `options.fieldMap` may name capture positions (see above),
 *  `options.timeZone` the zone of the accept date. */
export function createHaproxyParser(options?: ParserOptions): LogParser {
  return new HaproxyParser(capturePositions(options), createWallClock(options?.timeZone))
}
