// Undoing the web server's log escaping, and turning logged text into HTTP header values.
// nginx writes `"`, `\` and bytes outside 0x20-0x7e as `\xHH`; Apache writes `\"`, `\\`, C escapes
// (`\n`, `\t`, ...) and other bytes as `\xhh`. Both are undone to the bytes the client sent.

/** Printable ASCII without a backslash: nothing to undo, nothing to strip. */
const PLAIN = /^[\x20-\x5b\x5d-\x7e]*$/
const CONTROL = /[\x00-\x1f\x7f]/g

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const l = c | 0x20
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10
  return -1
}

const C_ESCAPES: Record<string, number> = { '"': 0x22, '\\': 0x5c, n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, v: 0x0b, f: 0x0c }

/** The bytes a logged string stands for: escapes undone, other characters as UTF-8. */
export function logTextToBytes(s: string): Buffer {
  // Escapes only shrink and UTF-8 needs at most 3 bytes per UTF-16 unit.
  const out = Buffer.allocUnsafe(s.length * 3)
  let n = 0
  let runStart = 0
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x5c || i + 1 >= s.length) continue
    const next = s[i + 1]!
    let byte = -1
    let width = 2
    if (next === 'x' && i + 3 < s.length) {
      const hi = hexValue(s.charCodeAt(i + 2))
      const lo = hexValue(s.charCodeAt(i + 3))
      if (hi >= 0 && lo >= 0) {
        byte = hi * 16 + lo
        width = 4
      }
    }
    if (byte < 0) byte = C_ESCAPES[next] ?? -1
    if (byte < 0) continue
    if (i > runStart) n += out.write(s.slice(runStart, i), n, 'utf8')
    out[n++] = byte
    i += width - 1
    runStart = i + 1
  }
  if (s.length > runStart) n += out.write(runStart === 0 ? s : s.slice(runStart), n, 'utf8')
  return out.subarray(0, n)
}

/** Logged text as the text the client sent (escaped bytes read as UTF-8), for JSON bodies. */
export function logText(s: string): string {
  if (s.indexOf('\\') < 0) return s
  return logTextToBytes(s).toString('utf8')
}

/** Logged text as an HTTP header value: the client's raw bytes as a Latin-1 string (a valid
 *  ByteString), control characters (CR, LF, NUL, ...) removed, outer spaces trimmed.
 *  `null` when nothing is left. */
export function headerValue(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null
  let v: string
  if (PLAIN.test(s)) v = s
  else v = logTextToBytes(s).toString('latin1').replace(CONTROL, '')
  v = v.trim()
  return v === '' || v === '-' ? null : v
}

/** `lc` from an Accept-Language value: its first language tag, canonicalised
 *  (`en-gb` -> `en-GB`); `undefined` when the tag is not a valid locale. */
export function localeFromAcceptLanguage(value: string): string | undefined {
  let end = value.length
  const comma = value.indexOf(',')
  if (comma >= 0) end = comma
  const semi = value.indexOf(';')
  if (semi >= 0 && semi < end) end = semi
  const tag = value.slice(0, end).trim()
  if (tag === '' || tag === '*') return undefined
  try {
    const canonical = Intl.getCanonicalLocales(tag)[0]
    return canonical !== undefined && canonical.length <= 35 ? canonical : undefined
  } catch {
    return undefined
  }
}

/** The fixed request headers the mapper adds to every event (the strict bot level of the API flags
 *  requests missing two of the three `Accept*` headers). */
export const ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
export const DEFAULT_ACCEPT_LANGUAGE = 'en-US,en;q=0.9'
