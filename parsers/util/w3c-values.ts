// Values of W3C extended log lines: splitting a data line, and undoing the writers' encodings (IIS
// writes a space inside a value as `+`; CloudFront and SHOUTcast percent-encode the User-Agent).
// Record strings keep the convention of the other formats: a backslash only starts a `\xHH` escape.

import { utf8WithByteEscapes } from './decode.js'

const SPACE = 0x20
const QUOTE = 0x22

/** Splits a space-separated data line: runs of spaces separate; a value starting with `"` runs to
 *  the next `"` followed by a space or the end (`""` inside stands for a quote). Quotes removed. */
export function splitSpaced(s: string): string[] {
  const out: string[] = []
  const len = s.length
  let i = 0
  // Once a quote finds no closing quote, none later can: stop looking (keeps junk lines linear).
  let closable = true
  while (i < len) {
    const c = s.charCodeAt(i)
    if (c === SPACE) {
      i++
      continue
    }
    if (c === QUOTE && closable) {
      let j = i + 1
      for (;;) {
        const q = s.indexOf('"', j)
        if (q === -1) {
          j = -1
          break
        }
        if (s.charCodeAt(q + 1) === QUOTE) {
          j = q + 2
          continue
        }
        if (q + 1 === len || s.charCodeAt(q + 1) === SPACE) {
          j = q
          break
        }
        j = q + 1
      }
      if (j !== -1) {
        out.push(s.slice(i + 1, j).replaceAll('""', '"'))
        i = j + 1
        continue
      }
      closable = false
    }
    let e = s.indexOf(' ', i)
    if (e === -1) e = len
    out.push(s.slice(i, e))
    i = e
  }
  return out
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1
}

/** A backslash as the record writes it (`\x5C`). */
function escapeBackslashes(s: string): string {
  return s.indexOf('\\') === -1 ? s : s.replaceAll('\\', '\\x5C')
}

/** Undoes one level of percent-encoding; bytes that do not form UTF-8 read `\xHH` (the record
 *  convention, so the mapper sends the original bytes). A backslash is written `\x5C`. */
export function percentDecode(s: string): string {
  if (s.indexOf('%') === -1) return escapeBackslashes(s)
  const bytes: number[] = []
  const raw = Buffer.from(s, 'utf8')
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!
    if (c === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1] ?? 0)
      const lo = hexValue(raw[i + 2] ?? 0)
      if (hi >= 0 && lo >= 0) {
        bytes.push(hi * 16 + lo)
        i += 2
        continue
      }
    }
    bytes.push(c)
  }
  const text = utf8WithByteEscapes(Buffer.from(bytes))
  return text.indexOf('\\') === -1 ? text : text.replace(/\\(?!x[0-9A-F]{2})/g, '\\x5C')
}

/** The User-Agent as the browser sent it: percent-decoded once (CloudFront's tab-separated logs,
 *  SHOUTcast), with IIS's `+` read as a space in space-separated logs. */
export function userAgentValue(v: string, tabs: boolean): string {
  return tabs ? percentDecode(v) : percentDecode(v.replaceAll('+', ' '))
}

/** The Accept-Language header: percent-decoded in CloudFront's logs, `+` read as a space in IIS's. */
export function acceptLanguageValue(v: string, tabs: boolean): string {
  return tabs ? percentDecode(v) : v.replaceAll('+', ' ')
}

/** The referrer as logged, its backslashes written `\x5C`. */
export function referrerValue(v: string): string {
  return escapeBackslashes(v)
}

/** A duration in seconds from `time-taken` (milliseconds in IIS, seconds with a fraction in
 *  CloudFront) or IIS Advanced Logging's `timetakenms`; null when it is not a number. */
export function durationValue(v: string, isMs: boolean): number | null {
  if (!/^\d+(?:\.\d+)?$/.test(v)) return null
  return Number(v) / (isMs || v.indexOf('.') === -1 ? 1000 : 1)
}
