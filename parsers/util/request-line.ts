// Splitting an HTTP request line as a web server logs it (`$request`, `%r`):
// `METHOD target[ PROTOCOL]`. Real logs also hold `-`, `""`, TLS handshakes (`\x16\x03\x01...`),
// RAT beacons and plain words; those keep their text in `requestLine` and get no method.

/** The request fields of a record that `fillRequest` sets. */
export interface RequestFields {
  method: string | null
  path: string | null
  query: string | null
  protocol: string | null
  requestLine: string | null
}

const MAX_METHOD_LENGTH = 24

/** True for the characters of a method token: `A-Z`, `0-9`, `_`, `-` (first one a letter). */
function isMethodChar(c: number, first: boolean): boolean {
  if (c >= 65 && c <= 90) return true // A-Z
  if (first) return false
  return (c >= 48 && c <= 57) || c === 95 || c === 45 // 0-9 _ -
}

/** Sets `path` and `query` from the request target `s[start..end)`: `path` up to the first `?`,
 *  `query` after it (`""` for a bare `?`, null without one). */
export function fillTarget(rec: RequestFields, s: string, start: number, end: number): void {
  const q = s.indexOf('?', start)
  if (q === -1 || q >= end) {
    rec.path = s.slice(start, end)
    rec.query = null
  } else {
    rec.path = s.slice(start, q)
    rec.query = s.slice(q + 1, end)
  }
}

/** Fills method/path/query/protocol from the request text `s[start..end)`. When no method can be
 *  read, those four are null and `requestLine` holds the text as logged (escapes kept). */
export function fillRequest(rec: RequestFields, s: string, start: number, end: number): void {
  let i = start
  while (i < end && i - start <= MAX_METHOD_LENGTH && isMethodChar(s.charCodeAt(i), i === start)) i++
  // A method is a token followed by a space and a non-empty target.
  let t = i + 1
  if (i === start || i >= end || s.charCodeAt(i) !== 32) return noMethod(rec, s, start, end)
  while (t < end && s.charCodeAt(t) === 32) t++
  let stop = end
  while (stop > t && s.charCodeAt(stop - 1) === 32) stop--
  if (t >= stop) return noMethod(rec, s, start, end)

  rec.method = s.slice(start, i)
  rec.requestLine = null
  // The protocol is the last word when it looks like `HTTP/...`; nginx itself skips any run of
  // spaces before it, so the target does not keep a trailing space.
  const sp = s.lastIndexOf(' ', stop - 1)
  if (sp >= t && s.startsWith('HTTP/', sp + 1)) {
    rec.protocol = s.slice(sp + 1, stop)
    let targetEnd = sp
    while (targetEnd > t && s.charCodeAt(targetEnd - 1) === 32) targetEnd--
    fillTarget(rec, s, t, targetEnd)
  } else {
    rec.protocol = null
    fillTarget(rec, s, t, stop)
  }
}

function noMethod(rec: RequestFields, s: string, start: number, end: number): void {
  rec.method = null
  rec.path = null
  rec.query = null
  rec.protocol = null
  rec.requestLine = s.slice(start, end)
}
