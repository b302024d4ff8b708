// Docker json-file log lines (/var/lib/docker/containers/<id>/<id>-json.log), one JSON object each:
//   {"log":"<text>\n","stream":"stdout","time":"<RFC 3339 nano>"}
// with `"attrs":{...}` before `time` when labels, env or a tag are logged. Docker writes the keys in
// that order, `log` and `stream` only when not empty; it escapes `"`, `\`, control characters and
// also `<`, `>`, `&` (`\u0026`), and replaces invalid UTF-8 with U+FFFD. A line longer than 16 KiB
// comes as several entries; only the last one's `log` ends in '\n'.
// An entry is recognised by its keys: exactly `log`, `stream`, `time` (and `attrs`), so an access log
// that is itself JSON (nginx `escape=json`, Caddy) is never taken for one.
import { scanRfc3339 } from './rfc3339.js'
import type { PartParser, WrappedPart } from './types.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
const NL = '\n'.charCodeAt(0)
const LOG_KEY = Buffer.from('{"log":"')
const STREAM_KEY = Buffer.from(',"stream":"')
const TIME_KEY = Buffer.from(',"time":"')
const STDOUT = Buffer.from('stdout"')
const STDERR = Buffer.from('stderr"')
const KEYS = new Set(['log', 'stream', 'time', 'attrs'])

export const parseDockerPart: PartParser = (buf, start, end) => fastPath(buf, start, end) ?? anyKeyOrder(buf, start, end)

function startsWithAt(buf: Buffer, at: number, end: number, what: Buffer): boolean {
  if (at + what.length > end) return false
  for (let i = 0; i < what.length; i++) if (buf[at + i] !== what[i]) return false
  return true
}

/** Docker's own layout without attrs: no object is built, and a `log` without escapes is not copied. */
function fastPath(buf: Buffer, start: number, end: number): WrappedPart | null {
  if (!startsWithAt(buf, start, end, LOG_KEY)) return null
  const str = jsonStringBody(buf, start + LOG_KEY.length, end)
  if (str === null) return null
  let i = str.close + 1
  if (!startsWithAt(buf, i, end, STREAM_KEY)) return null
  i += STREAM_KEY.length
  let stream: WrappedPart['stream']
  if (startsWithAt(buf, i, end, STDOUT)) stream = 'stdout'
  else if (startsWithAt(buf, i, end, STDERR)) stream = 'stderr'
  else return null
  i += STDOUT.length
  if (!startsWithAt(buf, i, end, TIME_KEY)) return null
  i += TIME_KEY.length
  const tsEnd = scanRfc3339(buf, i, end)
  if (tsEnd === -1 || tsEnd + 2 !== end || buf[tsEnd] !== QUOTE || buf[tsEnd + 1] !== 0x7d) return null
  return part(stream, str.bytes)
}

const SHORT_ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 }

/** The body of the JSON string starting at `from` (after its opening quote), decoded on bytes in
 *  one pass: until the first escape the bytes are the file's own; after it they are copied and each
 *  escape (`\u0026` for every `&` of a query string) is written as UTF-8. Decoding through a JS
 *  string (JSON.parse) or copying run by run (one native call per escape) took as long as parsing
 *  the access line. `close`: index of the closing quote. null when the string is not valid. */
function jsonStringBody(buf: Buffer, from: number, end: number): { bytes: Buffer; close: number } | null {
  let i = from
  for (; i < end; i++) {
    const c = buf[i]
    if (c === QUOTE) return { bytes: buf.subarray(from, i), close: i }
    if (c === BACKSLASH) break
  }
  if (i >= end) return null
  const out = Buffer.allocUnsafe(end - from) // an escape is never shorter than what it stands for
  let n = buf.copy(out, 0, from, i)
  while (i < end) {
    const c = buf[i]!
    if (c === QUOTE) return { bytes: out.subarray(0, n), close: i }
    if (c !== BACKSLASH) {
      out[n++] = c
      i++
      continue
    }
    const e = i + 1 < end ? buf[i + 1]! : -1
    if (e !== 0x75) {
      const b = SHORT_ESCAPES[e]
      if (b === undefined) return null
      out[n++] = b
      i += 2
      continue
    }
    let cp = hex4(buf, i + 2, end)
    if (cp === -1) return null
    i += 6
    if (cp >= 0xd800 && cp <= 0xdbff && buf[i] === BACKSLASH && buf[i + 1] === 0x75) {
      const low = hex4(buf, i + 2, end)
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
        i += 6
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd // a lone surrogate, as JSON.parse + UTF-8 would give
    n += writeUtf8(out, n, cp)
  }
  return null
}

function hex4(buf: Buffer, at: number, end: number): number {
  if (at + 4 > end) return -1
  let v = 0
  for (let k = at; k < at + 4; k++) {
    const c = buf[k]!
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1
    if (d === -1) return -1
    v = (v << 4) | d
  }
  return v
}

function writeUtf8(out: Buffer, at: number, cp: number): number {
  if (cp < 0x80) {
    out[at] = cp
    return 1
  }
  if (cp < 0x800) {
    out[at] = 0xc0 | (cp >> 6)
    out[at + 1] = 0x80 | (cp & 0x3f)
    return 2
  }
  if (cp < 0x10000) {
    out[at] = 0xe0 | (cp >> 12)
    out[at + 1] = 0x80 | ((cp >> 6) & 0x3f)
    out[at + 2] = 0x80 | (cp & 0x3f)
    return 3
  }
  out[at] = 0xf0 | (cp >> 18)
  out[at + 1] = 0x80 | ((cp >> 12) & 0x3f)
  out[at + 2] = 0x80 | ((cp >> 6) & 0x3f)
  out[at + 3] = 0x80 | (cp & 0x3f)
  return 4
}

/** Any other layout (attrs, keys in another order, spacing): parsed as JSON and checked by its keys. */
function anyKeyOrder(buf: Buffer, start: number, end: number): WrappedPart | null {
  if (buf[start] !== 0x7b || buf[end - 1] !== 0x7d) return null
  let v: unknown
  try {
    v = JSON.parse(buf.toString('utf8', start, end))
  } catch {
    return null
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) if (!KEYS.has(k)) return null
  const { log = '', stream, time, attrs } = o
  if (typeof log !== 'string' || (stream !== 'stdout' && stream !== 'stderr') || typeof time !== 'string') return null
  if (attrs !== undefined && (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs))) return null
  const t = Buffer.from(time, 'latin1')
  if (scanRfc3339(t, 0, t.length) !== t.length) return null
  return part(stream, Buffer.from(log, 'utf8'))
}

function part(stream: WrappedPart['stream'], log: Buffer): WrappedPart {
  const full = log.length > 0 && log[log.length - 1] === NL
  return { stream, partial: !full, content: full ? log.subarray(0, log.length - 1) : log }
}
