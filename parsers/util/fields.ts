// Field scanning shared by the CLF-family parsers: quoted fields, numbers, client address lists
// and `host[:port]` prefixes. Everything works on index ranges of the decoded line.

import { isIP } from 'node:net'

const BACKSLASH = 0x5c
const SPACE = 0x20

/** True when the quote at `s[i]` is escaped by an odd run of backslashes after `from`
 *  (Apache writes `\"` and `\\`; nginx writes `\x22`, so it never has a raw quote inside). */
export function isEscaped(s: string, i: number, from: number): boolean {
  let n = 0
  while (i - 1 - n >= from && s.charCodeAt(i - 1 - n) === BACKSLASH) n++
  return (n & 1) === 1
}

/** Index of the quote closing a quoted field whose text starts at `from` (just after the opening
 *  quote), or -1. The closing quote is unescaped and followed by a space or the end of the line;
 *  if there is none, the first quote followed by a space/end is taken (a server that does not
 *  escape, or a value ending in a backslash). */
export function closingQuote(s: string, from: number): number {
  const len = s.length
  let i = s.indexOf('"', from)
  while (i !== -1) {
    if ((i + 1 === len || s.charCodeAt(i + 1) === SPACE) && !isEscaped(s, i, from)) return i
    i = s.indexOf('"', i + 1)
  }
  i = s.indexOf('"', from)
  while (i !== -1) {
    if (i + 1 === len || s.charCodeAt(i + 1) === SPACE) return i
    i = s.indexOf('"', i + 1)
  }
  return -1
}

/** Value of the decimal digits `s[start..end)`, or -1 when empty, not all digits, or unsafe. */
export function digitsValue(s: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1
  let v = 0
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/** `null` for a logged empty value (`-` or nothing), else the text. */
export function dashToNull(s: string, start: number, end: number): string | null {
  if (end <= start) return null
  if (end - start === 1 && s.charCodeAt(start) === 0x2d) return null
  return s.slice(start, end)
}

/** Loopback, private, link-local, shared (CGNAT) and unspecified addresses: not a visitor's
 *  public address. */
export function isInternalAddress(addr: string): boolean {
  const kind = isIP(addr)
  if (kind === 4) {
    const dot = addr.indexOf('.')
    const a = Number(addr.slice(0, dot))
    const b = Number(addr.slice(dot + 1, addr.indexOf('.', dot + 1)))
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    )
  }
  if (kind === 6) {
    const lower = addr.toLowerCase()
    if (lower === '::1' || lower === '::') return true
    if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return isInternalAddress(lower.slice(7))
    return /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower)
  }
  return false
}

/** The entries of an address list as logged (`a, b, c`, optionally quoted, space or comma
 *  separated). */
export function addressListEntries(list: string): string[] {
  return list.split(/[\s,"]+/).filter((e) => e !== '')
}

/** The visitor address to report for a client field that holds a list (X-Forwarded-For entries
 *  before the proxy's address): the first public IP, else the first entry. Same choice as
 *  Filebeat's nginx module. */
export function pickClientAddress(list: string): string {
  const entries = addressListEntries(list)
  for (const e of entries) if (isIP(e) !== 0 && !isInternalAddress(e)) return e
  return entries[0] ?? list
}

/** True when the text looks like an X-Forwarded-For value: comma-separated IPs (or `unknown`). */
export function looksLikeAddressList(s: string, start: number, end: number): boolean {
  if (end <= start || (end - start === 1 && s.charCodeAt(start) === 0x2d)) return false
  let sawAddress = false
  let entryStart = start
  for (let i = start; i <= end; i++) {
    if (i === end || s.charCodeAt(i) === 0x2c) {
      let a = entryStart
      let b = i
      while (a < b && s.charCodeAt(a) === SPACE) a++
      while (b > a && s.charCodeAt(b - 1) === SPACE) b--
      if (a === b) return false
      const entry = s.slice(a, b)
      if (entry.toLowerCase() === 'unknown') {
        // nginx writes `unknown` for a proxy that hid the address
      } else if (isIP(entry.charCodeAt(0) === 0x5b ? entry.slice(1, entry.lastIndexOf(']')) : entry) !== 0 || isIP(stripPort(entry)) !== 0) {
        sawAddress = true
      } else {
        return false
      }
      entryStart = i + 1
    }
  }
  return sawAddress
}

function stripPort(entry: string): string {
  const colon = entry.lastIndexOf(':')
  return colon > 0 && entry.indexOf(':') === colon ? entry.slice(0, colon) : entry
}

/** Splits a `host[:port]` token (`example.com:443`, `[2001:db8::1]:80`, `2001:db8::1`). */
export function splitHostPort(token: string): { host: string | null; port: number | null } {
  if (token === '' || token === '-') return { host: null, port: null }
  if (token.charCodeAt(0) === 0x5b) {
    const close = token.indexOf(']')
    if (close > 0) {
      const port = close + 1 < token.length && token.charCodeAt(close + 1) === 0x3a ? digitsValue(token, close + 2, token.length) : -1
      return { host: token.slice(1, close), port: port >= 0 ? port : null }
    }
    return { host: token, port: null }
  }
  const colon = token.indexOf(':')
  if (colon === -1 || token.indexOf(':', colon + 1) !== -1) return { host: token, port: null } // bare IPv6
  if (colon === token.length - 1) return { host: token.slice(0, colon), port: null }
  const port = digitsValue(token, colon + 1, token.length)
  return port >= 0 ? { host: token.slice(0, colon), port } : { host: token, port: null }
}
