// Campaign fields derived from the query string exactly as Swetrix's browser tracker derives them
// from `location.search` (values are NOT URL-decoded). `(?:^|[?&])` on the bare query equals the
// tracker's `[?&]` on `?` + query.
import { LIMITS, cut } from './limits.js'

const SOURCE = /(?:^|[?&])(ref|source|utm_source|gad_source)=([^?&]+)/
const MEDIUM = /(?:^|[?&])(utm_medium)=([^?&]+)/
const CAMPAIGN = /(?:^|[?&])(utm_campaign|gad_campaignid)=([^?&]+)/
const TERM = /(?:^|[?&])(utm_term)=([^?&]+)/
const CONTENT = /(?:^|[?&])(utm_content)=([^?&]+)/
const GCLID = /(?:^|[?&])gclid=[^?&]/

export interface Utm {
  so?: string
  me?: string
  ca?: string
  te?: string
  co?: string
}

function find(re: RegExp, query: string): string | undefined {
  const m = re.exec(query)
  return m === null ? undefined : cut(m[2]!, LIMITS.utm)
}

/** Adds `so`, `me`, `ca`, `te`, `co` to `body` from a raw query string (text after `?`). */
export function addUtm(body: Record<string, unknown>, query: string): void {
  if (query.indexOf('=') < 0) return
  const so = find(SOURCE, query)
  if (so !== undefined) body.so = so
  const me = find(MEDIUM, query) ?? (GCLID.test(query) ? '<gclid>' : undefined)
  if (me !== undefined) body.me = me
  const ca = find(CAMPAIGN, query)
  if (ca !== undefined) body.ca = ca
  const te = find(TERM, query)
  if (te !== undefined) body.te = te
  const co = find(CONTENT, query)
  if (co !== undefined) body.co = co
}

/** The UTM fields of a query string as an object (for callers other than the mapper). */
export function utmFromQuery(query: string): Utm {
  const body: Record<string, unknown> = {}
  addUtm(body, query)
  return body as Utm
}
