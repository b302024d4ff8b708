// The host name of the site a line belongs to, as Swetrix stores it: live events take it from the
// `Origin` header (the URL's hostname: lower case, no port, IDNs in punycode), imported rows from
// their `hostname` cell. The mapper puts the same name in both, so the two agree.
import { isIP } from 'node:net'
import { logText } from './headers.js'
import { boundedMemo } from '../util/memo.js'

/** Characters no host header value should carry (a path, credentials, a query, quotes, spaces,
 *  controls). */
const NOT_A_HOST = /[/?#@\\"'<>`\s\x00-\x1f\x7f]/

/** The URL hostname of `https://<text>` (`Example.COM:8080` -> `example.com`, an unbracketed IPv6
 *  address in brackets), or null when the text is not a host (empty, `-`, a path, junk). */
export function siteHostName(text: string): string | null {
  if (text === '' || text === '-' || NOT_A_HOST.test(text)) return null
  try {
    const hostname = new URL(`https://${isIP(text) === 6 ? `[${text}]` : text}`).hostname
    return hostname === '' ? null : hostname
  } catch {
    return null
  }
}

/** `siteHostName` of logged host text (log escapes undone), remembered per text. */
export function createLoggedHostNames(): (logged: string) => string | null {
  return boundedMemo((logged: string) => siteHostName(logText(logged)), 1000)
}

/** The host a `--host` list names for lines that log none: its one entry when that is a plain
 *  host (not `*.example.com`), else null (several sites: no single answer). */
export function singlePlainHost(hosts: readonly string[]): string | null {
  const list = hosts.map((h) => h.trim()).filter((h) => h !== '')
  if (list.length !== 1 || list[0]!.startsWith('*.')) return null
  return siteHostName(list[0]!)
}
