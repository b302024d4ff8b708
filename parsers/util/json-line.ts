// A JSON log line -> its object, decoded once and JSON.parse'd once.
//
// String values follow the record convention of the text formats: a backslash in a record string
// only ever starts a `\xHH` byte escape. So a backslash itself reads `\x5C`, and bytes that are not
// valid UTF-8 (nginx escape=json writes the visitor's raw bytes) read `\xHH`, exactly as nginx's
// combined format writes them: nothing is lost to U+FFFD, and the mapper undoes all escapes the
// same way for every format.
import { isUtf8 } from 'node:buffer'
import { utf8WithByteEscapes } from './decode.js'

const OPEN_BRACE = 0x7b
const BACKSLASH = 0x5c
const HEX_ESCAPE = Buffer.from('\\x', 'latin1')
const DOUBLE_BACKSLASH = Buffer.from('\\\\', 'latin1')
const HEX_DIGITS = '0123456789ABCDEF'
/** A stray byte as JSON source: `\\xHH`, which JSON.parse turns into the four characters `\xHH`. */
const JSON_BYTE_ESCAPE = '\\\\x'

/** Index of the `{` that opens the JSON object: after leading blanks, or after a `docker compose`
 *  prefix such as `caddy  | `. -1 when the line cannot be a JSON object. */
export function jsonStart(line: Buffer): number {
  let i = 0
  const n = line.length
  while (i < n && (line[i] === 0x20 || line[i] === 0x09)) i++
  if (i < n && line[i] === OPEN_BRACE) return i
  // `<service-name> <spaces>| {...}` (docker compose logs)
  const nameStart = i
  while (i < n && i - nameStart < 128) {
    const c = line[i]!
    const isNameChar = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f
    if (!isNameChar) break
    i++
  }
  if (i === nameStart || i >= n || line[i] !== 0x20) return -1
  while (i < n && line[i] === 0x20) i++
  if (line[i] !== 0x7c /* | */) return -1
  i++
  while (i < n && line[i] === 0x20) i++
  return i < n && line[i] === OPEN_BRACE ? i : -1
}

/** The JSON text of a line, rewritten so that its decoded strings follow the record convention
 *  (a backslash in a record string only ever starts a `\xHH` byte escape, as in nginx's text
 *  formats): a JSON `\\` decodes to `\x5C`, nginx escape=default `\xHH` escapes decode to the
 *  character they stand for (`\x5C` stays `\x5C`), and bytes that are not valid UTF-8 decode to the
 *  text `\xHH`. */
export function jsonText(line: Buffer, start: number): string {
  const body = start === 0 ? line : line.subarray(start)
  if (body.indexOf(HEX_ESCAPE) === -1 && body.indexOf(DOUBLE_BACKSLASH) === -1 && isUtf8(body)) {
    return body.toString('utf8')
  }
  const normalised = normaliseEscapes(body)
  return isUtf8(normalised) ? normalised.toString('utf8') : utf8WithByteEscapes(normalised, JSON_BYTE_ESCAPE)
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/** nginx escape=default writes `"`, `\`, control bytes and bytes >= 0x7f as `\xHH`, which JSON does
 *  not allow. Turn each into the byte itself, or a JSON `\u00HH` escape where a raw byte would break
 *  the JSON; a backslash (`\\` or `\x5C`) into JSON source for the text `\x5C`. Other backslash
 *  pairs (`\"`, `\n`, `\u...`) are copied untouched. */
function normaliseEscapes(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length * 3)
  let o = 0
  const n = src.length
  for (let i = 0; i < n;) {
    const c = src[i]!
    if (c !== BACKSLASH) {
      out[o++] = c
      i++
      continue
    }
    if (src[i + 1] === 0x78 /* x */) {
      const hi = hexValue(src[i + 2])
      const lo = hexValue(src[i + 3])
      if (hi >= 0 && lo >= 0) {
        const v = hi * 16 + lo
        if (v === 0x5c) {
          o += out.write('\\\\x5C', o, 'latin1')
        } else if (v < 0x20 || v === 0x22 || v === 0x7f) {
          out[o++] = BACKSLASH
          out[o++] = 0x75 // u
          out[o++] = 0x30
          out[o++] = 0x30
          out[o++] = HEX_DIGITS.charCodeAt(hi)
          out[o++] = HEX_DIGITS.charCodeAt(lo)
        } else {
          out[o++] = v
        }
        i += 4
        continue
      }
    }
    if (src[i + 1] === BACKSLASH) {
      o += out.write('\\\\x5C', o, 'latin1')
      i += 2
      continue
    }
    out[o++] = c
    if (i + 1 < n) out[o++] = src[i + 1]!
    i += 2
  }
  return out.subarray(0, o)
}

/** JSON.parse of a line; `undefined` when the line is not JSON. */
function parseJsonLine(line: Buffer): unknown {
  const start = jsonStart(line)
  if (start < 0) return undefined
  try {
    return JSON.parse(jsonText(line, start))
  } catch {
    return undefined
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The line's JSON object, or the reason it is not one (`empty`, `bad-json`, `not-access-record`). */
export function jsonRecordOf(line: Buffer): Record<string, unknown> | string {
  if (line.length === 0) return 'empty'
  const obj = parseJsonLine(line)
  if (obj === undefined) return 'bad-json'
  return isObject(obj) ? obj : 'not-access-record'
}
