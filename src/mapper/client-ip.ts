// The visitor's address: the logged client address, or (behind trusted proxies) the right-most
// untrusted X-Forwarded-For entry, as nginx's realip module with `real_ip_recursive on` finds it.
import { BlockList, isIP } from 'node:net'
import { boundedMemo } from '../util/memo.js'

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i
const PORT = /^\d{1,5}$/

/** One address as the API wants it: IPv4 or IPv6 text, `::ffff:a.b.c.d` as `a.b.c.d`, a port or
 *  brackets (`a.b.c.d:port`, `[v6]:port`, `[v6]`) removed. `null` for anything else (`unknown`,
 *  `unix:`, host names, `-`). */
export function normaliseIp(text: string): string | null {
  const s = text.trim()
  const family = isIP(s)
  if (family === 4) return s
  if (family === 6) {
    const m = MAPPED_V4.exec(s)
    return m !== null && isIP(m[1]!) === 4 ? m[1]! : s
  }
  if (s.charCodeAt(0) === 0x5b) {
    const close = s.indexOf(']')
    if (close < 0) return null
    const rest = s.slice(close + 1)
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return null
    const inner = s.slice(1, close)
    return isIP(inner) === 6 ? normaliseIp(inner) : null
  }
  const colon = s.indexOf(':')
  if (colon > 0 && s.indexOf(':', colon + 1) < 0 && PORT.test(s.slice(colon + 1))) {
    const v4 = s.slice(0, colon)
    if (isIP(v4) === 4) return v4
  }
  return null
}

/** True exactly when `s` is an IPv4 address as `isIP` reads one: four decimal parts of 0-255,
 *  without leading zeros, signs or spaces. */
export function isDottedQuad(s: string): boolean {
  const len = s.length
  if (len < 7 || len > 15) return false
  let parts = 0
  let i = 0
  while (i < len) {
    const start = i
    let v = 0
    while (i < len && i - start < 4) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      v = v * 10 + d
      i++
    }
    const digits = i - start
    if (digits === 0 || digits > 3 || v > 255 || (digits > 1 && s.charCodeAt(start) === 48)) return false
    parts++
    if (i === len) break
    if (s.charCodeAt(i) !== 0x2e || parts === 4) return false
    i++
    if (i === len) return false
  }
  return parts === 4
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a single address (`/32` or `/128`). Throws a message naming
 *  the bad entry. */
export function createTrustedProxyList(cidrs: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of cidrs) {
    const text = entry.trim()
    const slash = text.indexOf('/')
    const addr = normaliseIp(slash < 0 ? text : text.slice(0, slash))
    const family = addr === null ? 0 : isIP(addr)
    if (addr === null || family === 0) throw new Error(`trusted proxy "${entry}": not an IPv4/IPv6 address or CIDR`)
    const max = family === 4 ? 32 : 128
    let prefix = max
    if (slash >= 0) {
      const p = text.slice(slash + 1)
      prefix = /^\d{1,3}$/.test(p) ? Number(p) : -1
      if (prefix < 0 || prefix > max) throw new Error(`trusted proxy "${entry}": prefix must be 0-${max}`)
    }
    list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6')
  }
  return list
}

function isTrusted(list: BlockList, ip: string): boolean {
  try {
    return list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6')
  } catch {
    return false // e.g. a zone id (`fe80::1%eth0`) BlockList cannot read
  }
}

export interface ClientIpOptions {
  realIp?: 'remote' | 'xff'
  trustedProxies?: readonly string[]
}

export interface IpFields {
  ip: string | null
  xForwardedFor?: string | null
}

interface Address {
  ip: string | null
  trusted: boolean
}

/** A resolver `record -> client address | null`. With `realIp: 'xff'` the chain is
 *  `X-Forwarded-For` entries followed by the logged address, walked from the right: trusted
 *  addresses are skipped, the first untrusted one is the client; when every entry is trusted the
 *  left-most is the client; an entry that is not an address (`unknown`) ends the walk at the last
 *  address read (nginx does the same). */
export function createClientIpResolver(options: ClientIpOptions): (record: IpFields) => string | null {
  const xff = options.realIp === 'xff'
  const trusted = options.trustedProxies ?? []
  if (xff && trusted.length === 0) throw new Error('real IP from X-Forwarded-For needs at least one trusted proxy address or CIDR')
  const list = xff ? createTrustedProxyList(trusted) : null
  // isIP and BlockList.check cost 0.1-4 µs per call and a log repeats its clients and proxies.
  const address = boundedMemo((text: string): Address => {
    const ip = normaliseIp(text)
    return { ip, trusted: ip !== null && list !== null && isTrusted(list, ip) }
  }, 10_000)
  // A dotted quad is its own normal form; checking it costs less than a lookup in a memo that a log
  // with many distinct clients keeps refilling.
  if (!xff) return (record) => (record.ip === null ? null : isDottedQuad(record.ip) ? record.ip : address(record.ip).ip)
  return (record) => {
    if (record.ip === null) return null
    let a = address(record.ip)
    if (!a.trusted) return a.ip
    const header = record.xForwardedFor
    if (header === null || header === undefined) return a.ip
    let end = header.length
    while (end > 0) {
      const comma = header.lastIndexOf(',', end - 1)
      const entry = header.slice(comma + 1, end).trim()
      end = comma < 0 ? 0 : comma
      if (entry === '') continue
      const next = address(entry)
      if (next.ip === null) return a.ip
      a = next
      if (!a.trusted) return a.ip
    }
    return a.ip
  }
}
