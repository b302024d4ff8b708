// Decoding a text log line. Valid UTF-8 (and so every ASCII line) decodes as usual; a line that is
// not valid UTF-8 (a Latin-1 User-Agent from an old client) keeps each stray byte as the text
// `\xHH`, the escape nginx and Apache write for such bytes themselves, so the mapper can send the
// visitor's original bytes (src/mapper/headers.ts undoes `\xHH`) instead of U+FFFD replacements.
import { isUtf8 } from 'node:buffer'

const HEX_DIGITS = '0123456789ABCDEF'

/** Length of the valid UTF-8 sequence at `i`, or 0 when the byte there does not start one. */
export function utf8SequenceLength(b: Buffer, i: number): number {
  const c = b[i]!
  if (c < 0x80) return 1
  const c1 = b[i + 1]
  if (c1 === undefined) return 0
  if (c >= 0xc2 && c <= 0xdf) return c1 >= 0x80 && c1 <= 0xbf ? 2 : 0
  const c2 = b[i + 2]
  if (c2 === undefined || c2 < 0x80 || c2 > 0xbf) return 0
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80
    const hi = c === 0xed ? 0x9f : 0xbf
    return c1 >= lo && c1 <= hi ? 3 : 0
  }
  const c3 = b[i + 3]
  if (c3 === undefined || c3 < 0x80 || c3 > 0xbf) return 0
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80
    const hi = c === 0xf4 ? 0x8f : 0xbf
    return c1 >= lo && c1 <= hi ? 4 : 0
  }
  return 0
}

/** UTF-8 text of `b`, with each byte that is not part of a valid sequence written as `\xHH`
 *  (`prefix` and two hex digits: JSON source wants the backslash itself escaped). */
export function utf8WithByteEscapes(b: Buffer, prefix = '\\x'): string {
  let out = ''
  let runStart = 0
  for (let i = 0; i < b.length;) {
    const len = utf8SequenceLength(b, i)
    if (len > 0) {
      i += len
      continue
    }
    const v = b[i]!
    out += b.toString('utf8', runStart, i) + prefix + HEX_DIGITS[v >> 4] + HEX_DIGITS[v & 15]
    i++
    runStart = i
  }
  return out + b.toString('utf8', runStart)
}

/** The text of a log line. Invalid UTF-8 decodes to U+FFFD, so only a line holding one is looked
 *  at again; for an ASCII line (V8 stores it one byte per character) that search fails at once,
 *  so the common case costs next to nothing. A real U+FFFD in valid UTF-8 is kept. */
export function decodeLine(line: Buffer): string {
  const s = line.toString('utf8')
  if (s.indexOf('\uFFFD') === -1 || isUtf8(line)) return s
  return utf8WithByteEscapes(line)
}

/** `decodeLine(buf.subarray(start, end))`, without making the view unless the text needs a second look. */
export function decodeRange(buf: Buffer, start: number, end: number): string {
  const s = buf.toString('utf8', start, end)
  if (s.indexOf('\uFFFD') === -1) return s
  return decodeLine(buf.subarray(start, end))
}
