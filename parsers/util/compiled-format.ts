// The engine behind user-defined formats (nginx `log_format`, Apache `LogFormat`): a format is a
// list of literals and fields; it compiles to one anchored regular expression plus a table that
// says which record field each capture fills. Front ends (custom-nginx.ts, custom-apache.ts) only
// translate their own syntax into `FormatToken`s.

import { acceptedShare } from './accepted-share.js'
import { FormatError, type LogParser, type ParseResult, type RequestRecord } from '../types.js'
import { CLF_TIME_LENGTH, ClfTimeReader } from './clf-time.js'
import { decodeLine } from './decode.js'
import { dashToNull, splitHostPort } from './fields.js'
import { fillRequest, fillTarget } from './request-line.js'

/** What a field's text means for the record. */
export type FieldRole =
  | 'ip'
  | 'user'
  | 'request'
  | 'method'
  | 'target'
  | 'path'
  | 'args'
  | 'queryWithMark'
  | 'protocol'
  | 'status'
  | 'bytes'
  | 'referrer'
  | 'userAgent'
  | 'xForwardedFor'
  | 'acceptLanguage'
  | 'host'
  | 'hostPort'
  | 'port'
  | 'timeClf'
  | 'timeIso'
  | 'timeEpochSeconds'
  | 'timeEpochMillis'
  | 'timeEpochMicros'
  | 'timeCustom'
  | 'requestTimeSeconds'
  | 'requestTimeMillis'
  | 'requestTimeMicros'
  | 'ignore'
  | 'ignoreNumber'
  | 'ignoreList'

export interface FieldToken {
  kind: 'field'
  role: FieldRole
  /** When two fields fill the same record field, the higher priority one wins (if not null). */
  priority?: number
  /** For `timeCustom`: the time's own regex (no capture groups) and its reader. */
  timePattern?: string
  readTime?: (text: string) => number
  /** For `timeCustom`: the time carries no offset (read in the configured zone). */
  localTime?: boolean
  /** The source text, for error messages. */
  source: string
  /** For `timeClf` written inside literal brackets (`[%t]`): the field's own brackets may or may not
   *  be there. */
  optionalBrackets?: boolean
}

export type FormatToken = { kind: 'literal'; text: string } | FieldToken

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

// Unrolled `(?:[^"\\]|\\.)*`: same language, far less backtracking state per character.
const QUOTED_VALUE = '([^"\\\\]*(?:\\\\.[^"\\\\]*)*)'
const NUMBER = '(\\d+(?:\\.\\d+)?|-)'
// nginx's upstream variables: one value per upstream contacted, `, ` between servers of one group
// and ` : ` where an internal redirect moved to another group (`192.0.2.1:80, 192.0.2.2:80 : -`).
const UPSTREAM_LIST = '((?:[^\\s,]+(?:(?:, | : )[^\\s,]+)*)?)'

/** Value shapes of unquoted fields whose text has a known form. */
function shapeOf(field: FieldToken): string | null {
  switch (field.role) {
    case 'timeClf': {
      const time = '(\\d{2}/[A-Za-z]{3}/\\d{4}:\\d{2}:\\d{2}:\\d{2} [+-]\\d{4})'
      return field.optionalBrackets === true ? `\\[?${time}\\]?` : time
    }
    case 'timeIso':
      return '(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:?\\d{2})?)'
    case 'timeEpochSeconds':
    case 'timeEpochMillis':
    case 'timeEpochMicros':
      return '(\\d+(?:\\.\\d+)?)'
    case 'timeCustom':
      return `(${field.timePattern ?? '.*?'})`
    case 'status':
      return '(\\d{1,3}|-)'
    case 'bytes':
    case 'port':
    case 'requestTimeSeconds':
    case 'requestTimeMillis':
    case 'requestTimeMicros':
      return NUMBER
    case 'ignoreNumber':
      return '([0-9a-fA-F]+|-)'
    case 'ignoreList':
      return UPSTREAM_LIST
    case 'xForwardedFor':
      return '([^\\s,]+(?:,\\s*[^\\s,]+)*|-)'
    case 'queryWithMark':
      return '((?:\\?\\S*)?)' // Apache %q: empty, or `?` and the query
    default:
      return null
  }
}

/** Unquoted values of these may contain spaces. */
const MAY_HOLD_SPACES: ReadonlySet<FieldRole> = new Set<FieldRole>(['request', 'referrer', 'userAgent', 'acceptLanguage', 'timeIso'])

interface Slot {
  role: FieldRole
  priority: number
  readTime: ((text: string) => number) | undefined
}

const BAD_TIME = Object.freeze({ rejected: 'bad-time' })
const NO_MATCH = Object.freeze({ rejected: 'no-match' })
const EMPTY = Object.freeze({ rejected: 'empty' })
const INTERNAL = Object.freeze({ rejected: 'parser-error' })

type CompiledRecord = RequestRecord & { xForwardedFor: string | null; requestTime: number | null }

/** Compiles tokens into a parser. Throws `FormatError` when the format cannot locate a request. */
export function compileTokens(name: string, description: string, tokens: readonly FormatToken[]): LogParser {
  const fields = tokens.filter((t): t is FieldToken => t.kind === 'field')
  if (fields.length === 0) throw new FormatError(`format "${description}" has no fields`)
  const roles = new Set(fields.map((f) => f.role))
  if (!roles.has('request') && !roles.has('target') && !roles.has('path')) {
    throw new FormatError(`format "${description}" does not log the request: it needs the request line or its URI`)
  }

  let pattern = '^'
  const slots: Slot[] = []
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t.kind === 'literal') {
      pattern += escapeRegex(t.text)
      continue
    }
    const before = tokens[i - 1]
    const after = tokens[i + 1]
    const quoted = before?.kind === 'literal' && before.text.endsWith('"') && after?.kind === 'literal' && after.text.startsWith('"')
    let group = shapeOf(t)
    if (quoted && t.role !== 'timeCustom') group = QUOTED_VALUE
    else if (group === null) {
      if (after === undefined) group = '(.*)'
      else if (after.kind !== 'literal' || MAY_HOLD_SPACES.has(t.role)) group = '(.*?)'
      // A word; lazy when the next literal is not a space, so `$host:$server_port` reads `::1:80`.
      else group = after.text.startsWith(' ') ? '(\\S*)' : '(\\S*?)'
    }
    pattern += group
    slots.push({ role: t.role, priority: t.priority ?? 1, readTime: t.readTime })
  }
  pattern += '$'
  let regex: RegExp
  try {
    regex = new RegExp(pattern, 's')
  } catch (err) {
    throw new FormatError(`format "${description}" cannot be compiled: ${(err as Error).message}`)
  }
  const localTime = fields.some((f) => f.localTime === true)
  return new CompiledFormatParser(name, description, regex, slots, roles.has('request'), roles.has('acceptLanguage'), localTime)
}

class CompiledFormatParser implements LogParser {
  private readonly clock = new ClfTimeReader()

  constructor(
    readonly name: string,
    readonly description: string,
    private readonly regex: RegExp,
    private readonly slots: readonly Slot[],
    private readonly hasRequestLine: boolean,
    private readonly hasAcceptLanguage: boolean,
    readonly localTime: boolean,
  ) {}

  detect(sample: readonly Buffer[]): number {
    return acceptedShare(this, sample)
  }

  parse(line: Buffer): ParseResult {
    if (line.length === 0) return EMPTY
    try {
      const m = this.regex.exec(decodeLine(line))
      return m === null ? NO_MATCH : this.build(m)
    } catch {
      return INTERNAL
    }
  }

  private build(m: RegExpExecArray): ParseResult {
    const rec: CompiledRecord = {
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
    if (this.hasAcceptLanguage) rec.acceptLanguage = null
    // Priority per record field already written, so a weaker duplicate does not overwrite.
    const taken: Partial<Record<FieldRole, number>> = {}
    let timeSeen = false
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i]!
      const text = m[i + 1] ?? ''
      const value = dashToNull(text, 0, text.length)
      const role = slot.role
      if (role === 'ignore' || role === 'ignoreNumber' || role === 'ignoreList') continue
      const key = roleKey(role)
      const prev = taken[key]
      if (prev !== undefined && (prev > slot.priority || value === null)) continue
      switch (role) {
        case 'ip':
          rec.ip = value
          break
        case 'user':
          rec.user = value === '""' ? null : value
          break
        case 'request':
          fillRequest(rec, text, 0, text.length)
          break
        case 'method':
          if (!this.hasRequestLine) rec.method = value
          break
        case 'target':
          if (!this.hasRequestLine && value !== null) fillTarget(rec, value, 0, value.length)
          break
        case 'path':
          if (!this.hasRequestLine) rec.path = value
          break
        case 'args':
          if (!this.hasRequestLine) rec.query = value
          break
        case 'queryWithMark':
          if (!this.hasRequestLine) rec.query = text.startsWith('?') ? text.slice(1) : null
          break
        case 'protocol':
          if (!this.hasRequestLine) rec.protocol = value
          break
        case 'status':
          rec.status = value === null ? null : Number(value)
          break
        case 'bytes':
          rec.bytes = value === null ? null : Number(value)
          break
        case 'referrer':
          rec.referrer = value
          break
        case 'userAgent':
          rec.userAgent = value
          break
        case 'xForwardedFor':
          rec.xForwardedFor = value
          break
        case 'acceptLanguage':
          rec.acceptLanguage = value
          break
        case 'host':
          // nginx `$host` writes an IPv6 literal in brackets; the record holds the bare address.
          rec.host = value !== null && value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value
          break
        case 'hostPort': {
          const hp = splitHostPort(text)
          rec.host = hp.host
          if (hp.port !== null && taken.port === undefined) rec.port = hp.port
          break
        }
        case 'port':
          rec.port = value === null ? null : Number(value)
          break
        case 'requestTimeSeconds':
          rec.requestTime = value === null ? null : Number(value)
          break
        case 'requestTimeMillis':
          rec.requestTime = value === null ? null : Number(value) / 1e3
          break
        case 'requestTimeMicros':
          rec.requestTime = value === null ? null : Number(value) / 1e6
          break
        default: {
          // a time field
          if (timeSeen) continue
          const time = this.readTime(slot, text)
          if (Number.isNaN(time)) return BAD_TIME
          rec.time = time
          timeSeen = true
        }
      }
      taken[key] = slot.priority
    }
    if (rec.status !== null && !Number.isFinite(rec.status)) rec.status = null
    if (rec.bytes !== null && !Number.isFinite(rec.bytes)) rec.bytes = null
    return rec
  }

  private readTime(slot: Slot, text: string): number {
    switch (slot.role) {
      case 'timeClf':
        return text.length === CLF_TIME_LENGTH ? this.clock.read(text, 0) : Number.NaN
      case 'timeIso':
        return Date.parse(text)
      case 'timeEpochSeconds':
        return Number(text) * 1000
      case 'timeEpochMillis':
        return Number(text)
      case 'timeEpochMicros':
        return Number(text) / 1000
      case 'timeCustom':
        return slot.readTime ? slot.readTime(text) : Number.NaN
      default:
        return Number.NaN
    }
  }
}

/** Roles that fill the same record field share a key for the priority check. */
function roleKey(role: FieldRole): FieldRole {
  switch (role) {
    case 'hostPort':
      return 'host'
    case 'timeIso':
    case 'timeEpochSeconds':
    case 'timeEpochMillis':
    case 'timeEpochMicros':
    case 'timeCustom':
      return 'timeClf'
    case 'requestTimeMillis':
    case 'requestTimeMicros':
      return 'requestTimeSeconds'
    case 'args':
      return 'queryWithMark'
    default:
      return role
  }
}
