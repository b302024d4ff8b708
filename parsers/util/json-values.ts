// Coercion of JSON values to record fields: servers log the same field as a string, a number or
// `"-"` depending on the version and the format definition, so each reader accepts all of them.

/** A logged text value: `-`, `""`, non-strings other than finite numbers -> null. */
export function textValue(v: unknown): string | null {
  if (typeof v === 'string') {
    return v === '' || v === '-' ? null : v
  }
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : null
  return null
}

/** A non-negative integer written as a number or as decimal digits; anything else -> null. */
export function intValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null
  if (typeof v !== 'string' || v.length === 0 || v.length > 15) return null
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return null
  }
  return Number(v)
}

/** A finite number written as a number or a decimal string; anything else -> null. */
export function floatValue(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null
  if (typeof v !== 'string' || !DECIMAL.test(v)) return null
  return Number(v)
}
const DECIMAL = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/

/** A `Host`-style value split into host and port: `example.com:8080`, `[2001:db8::1]:443`. A bare
 *  IPv6 address is left whole. */
export function splitHostPort(value: string): { host: string; port: number | null } {
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']')
    if (close > 0) {
      const rest = value.slice(close + 1)
      const port = rest.charCodeAt(0) === 0x3a ? intValue(rest.slice(1)) : null
      return { host: value.slice(1, close), port }
    }
    return { host: value, port: null }
  }
  const colon = value.indexOf(':')
  if (colon <= 0 || value.indexOf(':', colon + 1) !== -1) return { host: value, port: null }
  const port = intValue(value.slice(colon + 1))
  return port === null ? { host: value, port: null } : { host: value.slice(0, colon), port }
}

/** A client address logged with its port (Caddy < 2.5 `remote_addr`, Traefik `ClientAddr`): the
 *  address alone. */
export function addressValue(v: unknown): string | null {
  const text = textValue(v)
  return text === null ? null : splitHostPort(text).host
}

const NO_HOST: { host: string | null; port: number | null } = Object.freeze({ host: null, port: null })

/** The host and port of a record from a host value (which may carry `:port`) and, where the format
 *  logs one, a separate port value, which wins. */
export function hostAndPort(hostValue: unknown, portValue?: unknown): { host: string | null; port: number | null } {
  const host = textValue(hostValue)
  const port = intValue(portValue)
  if (host === null) return port === null ? NO_HOST : { host, port }
  return port === null ? splitHostPort(host) : { host, port }
}
