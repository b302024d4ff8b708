// The CLF family: combined, common, vhost_combined, vhost_common and traefik_clf.
//
// One hand-written scanner serves all five (this is the per-line hot path): it walks the decoded
// line with indexOf/charCodeAt, caches the time conversion per day, and builds one record object
// per line. Layout:
//
//   [vhost[:port] ] client ident user [dd/Mon/yyyy:HH:MM:SS +zone] "request" status bytes
//     ["referrer" "user-agent" [trailing fields...]]
//
// Tolerated variations (all seen in real logs or peer test suites): a client field holding an
// X-Forwarded-For list (`a, b, c` or `"a, b" c`), a `host[:port]` prefix on plain combined/common
// lines, a missing ident field, an unquoted `-` referrer (Traefik), any trailing fields after the
// user agent, and request texts that are not HTTP at all (kept in `requestLine`).

import { isRejection, type LogParser, type ParseResult, type RequestRecord } from './types.js'
import { CLF_TIME_LENGTH, ClfTimeReader, twoDigits } from './util/clf-time.js'
import { addressListEntries, closingQuote, dashToNull, digitsValue, looksLikeAddressList, pickClientAddress, splitHostPort } from './util/fields.js'
import { decodeLine, decodeRange } from './util/decode.js'
import { fillRequest } from './util/request-line.js'

type Tail = 'common' | 'combined' | 'traefik'

/** Every CLF record carries these two optional fields (null when absent) so all records share
 *  one shape. */
type ClfRecord = RequestRecord & { xForwardedFor: string | null; requestTime: number | null }

const SPACE = 0x20
const QUOTE = 0x22
const DASH = 0x2d
const COMMA = 0x2c
const BRACKET = 0x5b

// Rejections are immutable and reused: no allocation for junk lines.
const EMPTY = Object.freeze({ rejected: 'empty' })
const NO_MATCH = Object.freeze({ rejected: 'no-match' })
const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const BAD_STATUS = Object.freeze({ rejected: 'bad-status' })
const BAD_BYTES = Object.freeze({ rejected: 'bad-bytes' })
const INTERNAL = Object.freeze({ rejected: 'parser-error' })

/** Detection weights: how far a parsed line is from this format's exact layout. A format that
 *  needs a tolerance to read a line scores it lower than the format the line was written in. */
const FIT_HOST_GUESSED = 0.85
const FIT_NO_IDENT = 0.9
const FIT_EXTRA_AFTER_BYTES = 0.9
const FIT_NO_REFERRER_UA = 0.9
const FIT_JUNK_AFTER_BYTES = 0.8
const FIT_EXTRA_AFTER_UA = 0.95
const FIT_NOT_TRAEFIK = 0.5
const FIT_UNTERMINATED = 0.9

interface PrefixGroup {
  text: string
  /** Quoted, or holding several comma-separated entries. */
  list: boolean
}

/** Splits the text before the time into fields; a quoted field is one group, and entries joined
 *  by commas (`a, b, c`) form one group. */
function prefixGroups(s: string, start: number, end: number): PrefixGroup[] {
  const groups: PrefixGroup[] = []
  let i = start
  let joinNext = false
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c === SPACE) {
      i++
      continue
    }
    let j: number
    let quoted = false
    if (c === QUOTE) {
      j = s.indexOf('"', i + 1)
      j = j === -1 || j >= end ? end : j + 1
      quoted = true
    } else {
      j = s.indexOf(' ', i)
      if (j === -1 || j > end) j = end
    }
    const text = s.slice(i, j)
    const last = groups[groups.length - 1]
    if (last !== undefined && (joinNext || text.charCodeAt(0) === COMMA)) {
      last.text += ' ' + text
      last.list = true
    } else {
      groups.push({ text, list: quoted || text.indexOf(',') !== -1 })
    }
    joinNext = s.charCodeAt(j - 1) === COMMA
    i = j
  }
  return groups
}

class ClfParser implements LogParser {
  private readonly clock = new ClfTimeReader()
  /** How closely the last parsed line follows this format (1 = exactly); `detect` averages it. */
  private fit = 0

  constructor(
    readonly name: string,
    readonly description: string,
    private readonly vhost: boolean,
    private readonly tail: Tail,
  ) {}

  detect(sample: readonly Buffer[]): number {
    let lines = 0
    let sum = 0
    for (const line of sample) {
      if (line.length === 0) continue
      lines++
      if (!isRejection(this.parse(line))) sum += this.fit
    }
    return lines === 0 ? 0 : sum / lines
  }

  parse(line: Buffer): ParseResult {
    try {
      return this.parseText(decodeLine(line))
    } catch {
      // Safety net only: the scanner is written not to throw (property-tested).
      return INTERNAL
    }
  }

  parseRange(buf: Buffer, start: number, end: number): ParseResult {
    try {
      return this.parseText(decodeRange(buf, start, end))
    } catch {
      return INTERNAL
    }
  }

  private parseText(s: string): ParseResult {
    const len = s.length
    if (len === 0) return EMPTY
    this.fit = 1
    const rec: ClfRecord = {
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
    }

    let pos = 0
    if (this.vhost) {
      const sp = s.indexOf(' ')
      if (sp <= 0) return NO_MATCH
      const hp = splitHostPort(s.slice(0, sp))
      rec.host = hp.host
      rec.port = hp.port
      pos = sp + 1
    }

    // Client, ident, user. Fast path: three single-space separated words, then `[`.
    let timeAt: number
    const a = s.indexOf(' ', pos)
    const b = a === -1 ? -1 : s.indexOf(' ', a + 1)
    const c = b === -1 ? -1 : s.indexOf(' ', b + 1)
    if (
      c !== -1 &&
      s.charCodeAt(c + 1) === BRACKET &&
      a > pos &&
      b > a + 1 &&
      c > b + 1 &&
      s.charCodeAt(a - 1) !== COMMA &&
      s.charCodeAt(pos) !== QUOTE &&
      !(a === pos + 1 && s.charCodeAt(pos) === DASH)
    ) {
      rec.ip = s.slice(pos, a)
      rec.user = userValue(s, b + 1, c)
      timeAt = c + 2
    } else {
      timeAt = this.readPrefix(s, pos, rec)
      if (timeAt === -1) return NO_MATCH
    }

    // [time]
    const time = this.clock.read(s, timeAt)
    const close = timeAt + CLF_TIME_LENGTH
    if (Number.isNaN(time) || s.charCodeAt(close) !== 0x5d) return BAD_TIME
    rec.time = time
    if (s.charCodeAt(close + 1) !== SPACE || s.charCodeAt(close + 2) !== QUOTE) return NO_MATCH

    // "request" status bytes
    const r0 = close + 3
    let q = closingQuote(s, r0)
    if (q === -1 || q + 1 >= len) return NO_MATCH
    let p = this.readStatusBytes(s, q + 2, rec)
    if (p < 0) {
      // A raw quote inside the request (a server that does not escape): try the later quotes.
      const firstFailure = p
      let alt = s.indexOf('" ', r0)
      while (alt !== -1 && p < 0) {
        if (alt !== q) {
          p = this.readStatusBytes(s, alt + 2, rec)
          if (p >= 0) q = alt
        }
        alt = s.indexOf('" ', alt + 1)
      }
      if (p < 0) return firstFailure === -1 ? BAD_STATUS : BAD_BYTES
    }
    fillRequest(rec, s, r0, q)

    if (this.tail === 'common') {
      if (p < len) this.fit *= FIT_EXTRA_AFTER_BYTES
      return rec
    }
    return this.readTail(s, p, rec)
  }

  /** Reads `status bytes` at `at`; returns the index after bytes, -1 (bad status) or -2 (bad or
   *  missing bytes). Status and bytes may be `-` (Apache `"-" 408 -`, Traefik `- -`). */
  private readStatusBytes(s: string, at: number, rec: ClfRecord): number {
    const len = s.length
    let e = s.indexOf(' ', at)
    if (e === -1) e = len
    if (e === at + 1 && s.charCodeAt(at) === DASH) {
      rec.status = null
    } else {
      if (e - at > 3) return -1
      const status = digitsValue(s, at, e)
      if (status < 0) return -1
      rec.status = status
    }
    if (e >= len) return -2
    const b0 = e + 1
    let e2 = s.indexOf(' ', b0)
    if (e2 === -1) e2 = len
    if (e2 === b0 + 1 && s.charCodeAt(b0) === DASH) {
      rec.bytes = null
    } else {
      const bytes = digitsValue(s, b0, e2)
      if (bytes < 0) return -2
      rec.bytes = bytes
    }
    return e2
  }

  /** Referrer, user agent and whatever follows, from `p` (just after the bytes field). */
  private readTail(s: string, p: number, rec: ClfRecord): ParseResult {
    const len = s.length
    if (p >= len) {
      this.fit *= FIT_NO_REFERRER_UA * (this.tail === 'traefik' ? FIT_NOT_TRAEFIK : 1)
      return rec
    }
    // referrer
    p = this.readQuotedOrDash(s, p + 1)
    if (p === -2) {
      this.fit *= FIT_JUNK_AFTER_BYTES
      return rec
    }
    rec.referrer = this.value
    if (p >= len) {
      this.fit *= FIT_NO_REFERRER_UA
      return rec
    }
    // user agent
    p = this.readQuotedOrDash(s, p + 1)
    if (p === -2) {
      this.fit *= FIT_JUNK_AFTER_BYTES
      return rec
    }
    rec.userAgent = this.value

    if (this.tail === 'traefik') {
      if (!this.readTraefikTail(s, p, rec)) this.fit *= FIT_NOT_TRAEFIK
      return rec
    }
    if (p < len) {
      this.fit *= FIT_EXTRA_AFTER_UA
      // nginx setups often log "$http_x_forwarded_for" right after the user agent.
      if (s.charCodeAt(p + 1) === QUOTE && rec.xForwardedFor === null) {
        const end = closingQuote(s, p + 2)
        if (end !== -1 && looksLikeAddressList(s, p + 2, end)) rec.xForwardedFor = s.slice(p + 2, end)
      }
    }
    return rec
  }

  /** Scratch result of `readQuotedOrDash` (avoids a result object per field). */
  private value: string | null = null

  /** Reads a `"quoted"` field or a bare `-` at `p`; sets `this.value` and returns the index after
   *  it, or -2 when the text is neither. */
  private readQuotedOrDash(s: string, p: number): number {
    const c = s.charCodeAt(p)
    if (c === QUOTE) {
      const end = closingQuote(s, p + 1)
      if (end === -1) {
        // A cut-off line (seen in real logs): the field runs to the end of the line.
        this.fit *= FIT_UNTERMINATED
        this.value = dashToNull(s, p + 1, s.length)
        return s.length
      }
      this.value = dashToNull(s, p + 1, end)
      return end + 1
    }
    if (c === DASH && (p + 1 === s.length || s.charCodeAt(p + 1) === SPACE)) {
      this.value = null
      return p + 1
    }
    return -2
  }

  /** Traefik CLF after the user agent: ` <requests> "<router>" "<server URL>" <duration>ms`. */
  private readTraefikTail(s: string, p: number, rec: ClfRecord): boolean {
    const len = s.length
    if (s.charCodeAt(p) !== SPACE) return false
    let e = s.indexOf(' ', p + 1)
    if (e === -1 || digitsValue(s, p + 1, e) < 0) return false
    for (let field = 0; field < 2; field++) {
      if (s.charCodeAt(e + 1) !== QUOTE) return false
      const end = closingQuote(s, e + 2)
      if (end === -1 || end + 1 >= len) return false
      e = end + 1
    }
    if (s.charCodeAt(e) !== SPACE || !s.endsWith('ms')) return false
    const ms = digitsValue(s, e + 1, len - 2)
    if (ms < 0) return false
    rec.requestTime = ms / 1000
    return true
  }

  /** Slow path for the client/ident/user part: address lists, a host prefix, a missing ident.
   *  Returns the index just after the time's `[`, or -1. */
  private readPrefix(s: string, pos: number, rec: ClfRecord): number {
    let br = s.indexOf(' [', pos)
    while (br !== -1 && !(twoDigits(s, br + 2) >= 0 && s.charCodeAt(br + 4) === 0x2f)) br = s.indexOf(' [', br + 1)
    if (br === -1) return -1
    const groups = prefixGroups(s, pos, br)
    const n = groups.length
    if (n < 2 || n > 6) return -1
    if (n === 2) this.fit *= FIT_NO_IDENT
    const user = groups[n - 1]!.text
    rec.user = user === '-' || user === '""' || user === '' ? null : user
    let clients = groups.slice(0, n === 2 ? 1 : n - 2)
    // `host[:port] client ...` on a plain combined/common line (nginx `$host $remote_addr ...`).
    if (!this.vhost && clients.length >= 2 && !clients[0]!.list) {
      const hp = splitHostPort(clients[0]!.text)
      rec.host = hp.host
      rec.port = hp.port
      clients = clients.slice(1)
      this.fit *= FIT_HOST_GUESSED
    }
    if (clients.length === 1 && !clients[0]!.list) {
      const ip = clients[0]!.text
      if (ip === '-' || ip === '') return -1
      rec.ip = ip
    } else {
      const entries = addressListEntries(clients.map((g) => g.text).join(' '))
      if (entries.length === 0) return -1
      const list = entries.join(', ')
      rec.ip = pickClientAddress(list)
      rec.xForwardedFor = list
    }
    return br + 2
  }
}

function userValue(s: string, start: number, end: number): string | null {
  if (end - start === 2 && s.charCodeAt(start) === QUOTE && s.charCodeAt(start + 1) === QUOTE) return null
  return dashToNull(s, start, end)
}

export type ClfFormatName = 'combined' | 'common' | 'vhost_combined' | 'vhost_common' | 'traefik_clf'

const CLF_FORMATS: Readonly<Record<ClfFormatName, readonly [description: string, vhost: boolean, tail: Tail]>> = {
  combined: ['nginx/Apache combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" [extra fields]', false, 'combined'],
  common: ['Common Log Format: %h %l %u %t "%r" %>s %b', false, 'common'],
  vhost_combined: ['Combined with a virtual-host prefix: %v:%p %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"', true, 'combined'],
  vhost_common: ['Common with a virtual-host prefix: %v[:%p] %h %l %u %t "%r" %>s %b', true, 'common'],
  traefik_clf: ['Traefik CLF: combined + <requests> "<router>" "<server URL>" <duration>ms', false, 'traefik'],
}

/** A fresh parser instance (its own time cache) for one CLF-family format. The exported
 *  constants below are shared instances; their caches are keyed by content, so sharing is safe. */
export function createClfParser(format: ClfFormatName): LogParser {
  const [description, vhost, tail] = CLF_FORMATS[format]
  return new ClfParser(format, description, vhost, tail)
}

/** nginx/Apache combined: `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`; trailing
 *  fields are accepted and ignored; common lines parse too (no referrer/user agent). */
export const combined: LogParser = createClfParser('combined')

/** Common Log Format: `%h %l %u %t "%r" %>s %b`; anything after the size is ignored. */
export const common: LogParser = createClfParser('common')

/** Apache vhost_combined / nginx `$host:$server_port` prefix, then combined. */
export const vhostCombined: LogParser = createClfParser('vhost_combined')

/** Virtual-host prefix (`%v` or `%v:%p`), then common. */
export const vhostCommon: LogParser = createClfParser('vhost_common')

/** Traefik 1.x/2.x CLF access log: combined-like, referrer may be a bare `-`, then
 *  `<requests> "<router>" "<server URL>" <duration>ms`. */
export const traefikClf: LogParser = createClfParser('traefik_clf')
