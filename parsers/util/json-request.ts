// The request of a JSON log record: a whole request line (`$request`), or a method and a target
// logged apart. The method rule is the text formats' (parsers/util/request-line.ts): upper-case
// tokens, so a junk request such as "junk line" has no method in every format.

const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]{0,24}$/
const PROTOCOL = /^HTTP\/\d+(?:\.\d+)?$/

/** `METHOD target[ HTTP/x.y]` -> parts, or null for anything else (TLS probes, `HELLO`, junk). */
export function splitRequestLine(text: string): { method: string; target: string; protocol: string | null } | null {
  const sp = text.indexOf(' ')
  if (sp <= 0) return null
  const method = text.slice(0, sp)
  if (!METHOD_TOKEN.test(method)) return null
  const rest = text.slice(sp + 1)
  const last = rest.lastIndexOf(' ')
  if (last >= 0 && PROTOCOL.test(rest.slice(last + 1))) {
    const target = rest.slice(0, last)
    return target.length === 0 ? null : { method, target, protocol: rest.slice(last + 1) }
  }
  return rest.length === 0 || rest.indexOf(' ') !== -1 ? null : { method, target: rest, protocol: null }
}

/** A protocol logged as its version alone (`1.1`, `2`) reads `HTTP/1.1`, `HTTP/2`. */
export function normaliseProtocol(p: string | null): string | null {
  if (p === null) return null
  const c = p.charCodeAt(0)
  return c >= 0x30 && c <= 0x39 ? 'HTTP/' + p : p
}

/** A request target split at the first `?` into path and query (null without a `?`). */
export function splitTarget(target: string | null): [string | null, string | null] {
  if (target === null) return [null, null]
  const q = target.indexOf('?')
  return q < 0 ? [target, null] : [target.slice(0, q), target.slice(q + 1)]
}
