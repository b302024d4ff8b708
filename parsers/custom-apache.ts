// Compiles an Apache `LogFormat` string into a parser. Known directives fill record fields; any
// other directive matches a field and is ignored. `%{format}t` supports the strftime conversions
// web servers use (and `sec`, `msec`, `usec`); without `%z` the time is a local time (Apache writes
// the server's), read in `--timezone` (`ParserOptions.timeZone`), else in the machine's zone.

import { FormatError, type LogParser, type ParserOptions } from './types.js'
import { compileTokens, type FieldToken, type FormatToken } from './util/compiled-format.js'
import { daysFromCivil, daysInMonth, monthAt } from './util/clf-time.js'
import { createWallClock, type WallClock } from './util/wall-clock.js'

interface TimePart {
  pattern: string
  set?: (t: TimeFields, v: string) => void
}

interface TimeFields {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  pm: number // -1 unknown, 0 AM, 1 PM
  offsetMinutes: number | null
  epochSeconds: number | null
}

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']

const num = (v: string): number => Number(v.trim())

const STRFTIME: Readonly<Record<string, TimePart | string>> = {
  d: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.day = num(v)
    },
  },
  e: {
    pattern: ' ?\\d{1,2}',
    set: (t, v) => {
      t.day = num(v)
    },
  },
  m: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.month = num(v)
    },
  },
  b: {
    pattern: '[A-Za-z]{3}',
    set: (t, v) => {
      t.month = monthAt(v, 0)
    },
  },
  h: {
    pattern: '[A-Za-z]{3}',
    set: (t, v) => {
      t.month = monthAt(v, 0)
    },
  },
  B: {
    pattern: '[A-Za-z]+',
    set: (t, v) => {
      t.month = MONTH_NAMES.indexOf(v.toLowerCase()) + 1
    },
  },
  Y: {
    pattern: '\\d{4}',
    set: (t, v) => {
      t.year = num(v)
    },
  },
  y: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.year = 2000 + num(v)
    },
  },
  H: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.hour = num(v)
    },
  },
  k: {
    pattern: ' ?\\d{1,2}',
    set: (t, v) => {
      t.hour = num(v)
    },
  },
  I: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.hour = num(v) % 12
    },
  },
  l: {
    pattern: ' ?\\d{1,2}',
    set: (t, v) => {
      t.hour = num(v) % 12
    },
  },
  p: {
    pattern: '[AaPp][Mm]',
    set: (t, v) => {
      t.pm = v.toLowerCase() === 'pm' ? 1 : 0
    },
  },
  M: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.minute = num(v)
    },
  },
  S: {
    pattern: '\\d{2}',
    set: (t, v) => {
      t.second = num(v)
    },
  },
  z: {
    pattern: '[+-]\\d{2}:?\\d{2}|Z',
    set: (t, v) => {
      if (v === 'Z') {
        t.offsetMinutes = 0
        return
      }
      const digits = v.replace(':', '')
      const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5))
      t.offsetMinutes = v[0] === '-' ? -minutes : minutes
    },
  },
  Z: {
    pattern: '[A-Za-z]+',
    set: (t, v) => {
      if (/^(UTC|GMT|Z)$/i.test(v)) t.offsetMinutes = 0
    },
  },
  s: {
    pattern: '\\d+',
    set: (t, v) => {
      t.epochSeconds = Number(v)
    },
  },
  a: { pattern: '[A-Za-z]+' },
  A: { pattern: '[A-Za-z]+' },
  j: { pattern: '\\d{3}' },
  T: '%H:%M:%S',
  F: '%Y-%m-%d',
  D: '%m/%d/%y',
  R: '%H:%M',
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

/** Compiles a strftime format into a regex (for the whole line) and a reader returning epoch ms;
 *  a time without `%z` (or a UTC `%Z`) is read in `zone`. `localTime`: the format has no offset. */
export function compileStrftime(format: string, zone: WallClock = createWallClock()): { pattern: string; read: (text: string) => number; localTime: boolean } {
  let outer = ''
  let inner = ''
  const setters: Array<(t: TimeFields, v: string) => void> = []
  const expand = (fmt: string, depth: number): void => {
    for (let i = 0; i < fmt.length; i++) {
      const ch = fmt[i]!
      if (ch !== '%') {
        outer += escapeRegex(ch)
        inner += escapeRegex(ch)
        continue
      }
      const conv = fmt[++i]
      if (conv === undefined) throw new FormatError(`time format "${format}" ends with a lone %`)
      if (conv === '%') {
        outer += '%'
        inner += '%'
        continue
      }
      const part = STRFTIME[conv]
      if (part === undefined) throw new FormatError(`time format "${format}": %${conv} is not supported`)
      if (typeof part === 'string') {
        if (depth > 2) throw new FormatError(`time format "${format}" nests too deeply`)
        expand(part, depth + 1)
        continue
      }
      outer += `(?:${part.pattern})`
      if (part.set) {
        inner += `(${part.pattern})`
        setters.push(part.set)
      } else {
        inner += `(?:${part.pattern})`
      }
    }
  }
  expand(format, 0)
  const re = new RegExp(`^${inner}$`)
  const read = (text: string): number => {
    const m = re.exec(text)
    if (m === null) return Number.NaN
    const t: TimeFields = {
      year: 1970,
      month: 1,
      day: 1,
      hour: 0,
      minute: 0,
      second: 0,
      pm: -1,
      offsetMinutes: null,
      epochSeconds: null,
    }
    for (let i = 0; i < setters.length; i++) setters[i]!(t, m[i + 1]!)
    if (t.epochSeconds !== null) return t.epochSeconds * 1000
    const hour = t.pm === 1 ? t.hour + 12 : t.hour
    if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > daysInMonth(t.year, t.month) || hour > 23 || t.minute > 59 || t.second > 60) return Number.NaN
    const wall = daysFromCivil(t.year, t.month, t.day) * 86_400_000 + ((hour * 60 + t.minute) * 60 + t.second) * 1000
    return t.offsetMinutes === null ? zone.fromWall(wall) : wall - t.offsetMinutes * 60_000
  }
  const localTime = !/%[zs]/.test(format.replaceAll('%%', ''))
  return { pattern: outer, read, localTime }
}

/** The field for one `%...` directive. */
function directiveField(letter: string, arg: string | null, greater: boolean, source: string, zone: WallClock): FieldToken {
  const field = (role: FieldToken['role'], priority = 1): FieldToken => ({ kind: 'field', role, priority, source })
  switch (letter) {
    // %h remote host, %a client IP (mod_remoteip's visitor), %{c}a / %{c}h the connection's peer
    // (the proxy): used only when the format logs no other client.
    case 'h':
      return arg === 'c' ? field('ip', 0) : field('ip', 1)
    case 'a':
      return arg === 'c' ? field('ip', 0) : field('ip', 2)
    case 'u':
      return field('user')
    case 'r':
      return field('request')
    case 'm':
      return field('method')
    case 'U':
      return field('path')
    case 'q':
      return field('queryWithMark')
    case 'H':
      return field('protocol')
    case 's':
      return field('status', greater ? 2 : 1)
    case 'b':
    case 'B':
      return field('bytes', 2)
    case 'O':
      return field('bytes', 1)
    case 'v':
      return field('host', 2)
    case 'V':
      return field('host', 1)
    case 'p':
      return arg === null || arg === 'canonical' || arg === 'local' ? field('port') : field('ignoreNumber')
    case 'D':
      return field('requestTimeMicros')
    case 'T':
      if (arg === 'ms') return field('requestTimeMillis')
      if (arg === 'us') return field('requestTimeMicros')
      return field('requestTimeSeconds')
    case 'i': {
      switch (arg?.toLowerCase()) {
        case 'referer':
          return field('referrer')
        case 'user-agent':
          return field('userAgent')
        case 'x-forwarded-for':
          return field('xForwardedFor')
        case 'accept-language':
          return field('acceptLanguage')
        case 'host':
          return field('hostPort', 0)
        default:
          return field('ignore')
      }
    }
    case 't': {
      if (arg === null) return field('timeClf')
      const fmt = arg.replace(/^(begin|end):/, '')
      if (fmt === 'sec') return field('timeEpochSeconds')
      if (fmt === 'msec') return field('timeEpochMillis')
      if (fmt === 'usec') return field('timeEpochMicros')
      if (fmt === 'msec_frac' || fmt === 'usec_frac') return field('ignoreNumber')
      const time = compileStrftime(fmt, zone)
      return { kind: 'field', role: 'timeCustom', priority: 1, timePattern: time.pattern, readTime: time.read, localTime: time.localTime, source }
    }
    // Matched and ignored: %{VAR}x (mod_ssl), %{VAR}e %{VAR}n %{VAR}o %{VAR}C, %P %{pid|tid|hextid}P,
    // %k %X %I %S %R %l %L %f, and any other letter.
    case 'P':
    case 'k':
    case 'I':
    case 'S':
      return field('ignoreNumber')
    default:
      return field('ignore')
  }
}

/** Splits a LogFormat string into literals and directive fields; local times are read in `zone`. */
export function tokenizeApacheFormat(definition: string, zone: WallClock = createWallClock()): FormatToken[] {
  // Formats are often pasted from a config file, where quotes are written `\"`.
  const text = definition.replace(/\\(["\\nt])/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c))
  const tokens: FormatToken[] = []
  let literal = ''
  const pushField = (f: FieldToken): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal })
    literal = ''
    tokens.push(f)
  }
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (ch !== '%') {
      literal += ch
      i++
      continue
    }
    const start = i
    i++
    let arg: string | null = null
    let greater = false
    let letter: string | undefined
    // Modifiers in any order: status conditions (`!`, digits, commas), `<`/`>`, `{argument}`.
    while (i < text.length) {
      const c = text[i]!
      if (c === '!' || c === ',' || (c >= '0' && c <= '9')) {
        i++
        continue
      }
      if (c === '<' || c === '>') {
        greater = c === '>'
        i++
        continue
      }
      if (c === '{') {
        const close = text.indexOf('}', i + 1)
        if (close === -1) throw new FormatError(`Apache LogFormat: unterminated "%{" at offset ${start}`)
        arg = text.slice(i + 1, close)
        i = close + 1
        continue
      }
      letter = c
      i++
      break
    }
    if (letter === undefined) throw new FormatError(`Apache LogFormat: "%" without a directive at offset ${start}`)
    if (letter === '%' && i === start + 2) {
      literal += '%'
      continue
    }
    if (letter !== '^' && !/[A-Za-z]/.test(letter)) {
      throw new FormatError(`Apache LogFormat: unknown directive "${text.slice(start, i)}" at offset ${start}`)
    }
    const source = text.slice(start, i)
    if (letter === '^') {
      // `%{VAR}^ti` / `%{VAR}^to`: request / response trailer lines.
      const kind = text.slice(i, i + 2)
      if (kind !== 'ti' && kind !== 'to') {
        throw new FormatError(`Apache LogFormat: unknown directive "${text.slice(start, i + 2)}" at offset ${start}`)
      }
      i += 2
      pushField({ kind: 'field', role: 'ignore', priority: 1, source: text.slice(start, i) })
      continue
    }
    if (letter === 't' && (arg === null || arg === 'begin' || arg === 'end')) {
      // `%t` writes `[10/Oct/2000:13:55:36 -0700]`, brackets included. Written as `[%t]` (mod_ssl's
      // request log is often quoted so), it stands for one pair of brackets: the extra pair is
      // optional.
      const bracketed = literal.endsWith('[') && text[i] === ']'
      if (bracketed) {
        pushField({ ...directiveField(letter, null, greater, source, zone), optionalBrackets: true })
        continue
      }
      literal += '['
      pushField(directiveField(letter, null, greater, source, zone))
      literal = ']'
      continue
    }
    pushField(directiveField(letter, arg, greater, source, zone))
  }
  if (literal !== '') tokens.push({ kind: 'literal', text: literal })
  return tokens
}

/** Compiles an Apache `LogFormat` string, e.g.
 *  `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`; `options.timeZone` is the zone of
 *  `%{...}t` times without `%z`. Throws `FormatError` when it cannot be compiled. */
export function compileApacheFormat(definition: string, options?: ParserOptions): LogParser {
  const body = definition.trim()
  if (body === '') throw new FormatError('Apache LogFormat is empty')
  return compileTokens(`apache:${definition}`, definition, tokenizeApacheFormat(body, createWallClock(options?.timeZone)))
}
