// The mapper: one parsed access-log record -> exactly the Swetrix Events API request to send, or
// the reason it is not sent. Pure (no I/O, no clock); everything is compiled once per mapper.
import { STATUS_CODES } from 'node:http'
import type { EventKind, MapResult, OutgoingEvent, RequestRecord, SkipReason } from '../types.js'
import { createUserAgentCache, type UserAgentInfo } from './bots.js'
import { createClientIpResolver } from './client-ip.js'
import { createHostMatcher, createPathFilter, normaliseHost, urlHost } from './filters.js'
import { ACCEPT, DEFAULT_ACCEPT_LANGUAGE, headerValue, localeFromAcceptLanguage, logText } from './headers.js'
import { LIMITS, cut, limitMeta } from './limits.js'
import { compileRule, type CompiledRule, type CustomEventRule } from './rules.js'
import { isStaticPath } from './static.js'
import { addUtm } from './utm.js'
import { checkClientIpHeader } from './client-ip-header.js'
import { addClickIdSource } from './click-ids.js'
import { createLoggedHostNames, siteHostName, singlePlainHost } from './site-host.js'
import { boundedMemo } from '../util/memo.js'

export { STATIC_EXTENSIONS, STATIC_PREFIXES, isStaticPath } from './static.js'
// The config file loader (zod) lives in ./config.js and is imported only when --config is given.
export { parseStatusSpec, type CustomEventRule, type StatusSpec } from './rules.js'
export { compilePathPattern, createPathFilter, createHostMatcher, normaliseHost, urlHost } from './filters.js'
export { normaliseIp, createClientIpResolver, createTrustedProxyList } from './client-ip.js'
export { classifyUserAgent, createUserAgentCache, HEADLESS_PATTERN, type UserAgentInfo } from './bots.js'
export { headerValue, logText, logTextToBytes, localeFromAcceptLanguage, ACCEPT, DEFAULT_ACCEPT_LANGUAGE } from './headers.js'
export { LIMITS, cut, limitMeta } from './limits.js'
export { utmFromQuery, type Utm } from './utm.js'
export { CLICK_ID_SOURCES, addClickIdSource, clickIdSource, type ClickIdSource } from './click-ids.js'
export { siteHostName, singlePlainHost } from './site-host.js'
export { checkClientIpHeader } from './client-ip-header.js'
export { createReferrerTally, mergeReferrerTally, observeReferrer, selfReferrerHint, type ReferrerTally } from './referrer-hint.js'

export interface MapperOptions {
  /** Project id (`pid`), already validated by the CLI. */
  projectId: string
  /** Keep `?query` in `pg` (default: path only, like the Swetrix tracker). */
  keepQuery?: boolean
  /** Which statuses become error events: `5xx` (default: status >= 500), `4xx,5xx` (>= 400), `none`. */
  errors?: '5xx' | '4xx,5xx' | 'none'
  /** Send static assets as pageviews too. */
  includeStatic?: boolean
  /** Send requests from bots too (the API drops most of them anyway). */
  includeBots?: boolean
  /** Globs (`/blog/*`, `/docs/**`) or regular expressions (`/^\/api\//i`) on the path. */
  includePaths?: string[]
  excludePaths?: string[]
  /** Keep only records whose host matches (records without a host pass); also the site's own
   *  hosts for dropping internal referrers. A single plain host is the site host of lines that
   *  log none. */
  hosts?: string[]
  /** The site's host for every line (`--hostname`), instead of the logged one: sent as `Origin`,
   *  written as the import rows' hostname, and its referrers are internal. */
  hostname?: string
  /** One more header carrying the visitor's address, for a Swetrix whose `CLIENT_IP_HEADER` names
   *  another header (checked with checkClientIpHeader). */
  clientIpHeader?: string
  /** Epoch ms: keep records with since <= time < until. */
  since?: number
  until?: number
  /** `remote` (default): the logged client address. `xff`: walk X-Forwarded-For through `trustedProxies`. */
  realIp?: 'remote' | 'xff'
  trustedProxies?: string[]
  /** Custom-event rules (the config file's `customEvents`); the first match wins. */
  rules?: CustomEventRule[]
  /** `Accept-Language` header when the log has none (default `en-US,en;q=0.9`). */
  acceptLanguage?: string
  /** Several sites (src/mapper/sites.ts): each record's project; null skips it as `no-site`.
   *  Decided first, so every other skip and every event belongs to a project. Default: `projectId`. */
  route?: (record: RequestRecord) => string | null
  /** Several sites: the project whose site entry names this (normalised) host, ignoring the
   *  default; a referrer from the line's own project's hosts is internal, as with `--host`. */
  hostProject?: (host: string) => string | null
}

export interface Mapper {
  (record: RequestRecord): MapResult
  /** The same decision as calling the mapper, without building the request: the event kind, or the skip. */
  classify?: (record: RequestRecord) => EventKind | MapResult
}

/** Statuses that are pageviews: 2xx except 204 (nothing shown) and 206 (a later piece of a range
 *  request, e.g. media or PDF), plus 304 (a revisit served from the browser cache). */
export function isPageviewStatus(status: number): boolean {
  return (status >= 200 && status <= 299 && status !== 204 && status !== 206) || status === 304
}

const skip = (reason: SkipReason): MapResult => Object.freeze({ skip: reason })
const SKIP = {
  malformed: skip('malformed'),
  time: skip('time'),
  filtered: skip('filtered'),
  method: skip('method'),
  status: skip('status'),
  static: skip('static'),
  bot: skip('bot'),
  noClientIp: skip('no-client-ip'),
  noSite: skip('no-site'),
}

interface LanguageInfo {
  header: string
  lc: string | undefined
}

export function createMapper(options: MapperOptions): Mapper {
  const defaultPid = options.projectId
  const route = options.route
  const hostProject = options.hostProject
  const keepQuery = options.keepQuery === true
  const errors = options.errors ?? '5xx'
  if (errors !== '5xx' && errors !== '4xx,5xx' && errors !== 'none') throw new Error(`errors: expected 5xx, 4xx,5xx or none, got "${String(errors)}"`)
  const errorFrom = errors === '5xx' ? 500 : errors === '4xx,5xx' ? 400 : Infinity
  const includeStatic = options.includeStatic === true
  const includeBots = options.includeBots === true
  const since = options.since ?? -Infinity
  const until = options.until ?? Infinity
  const timeFilter = options.since !== undefined || options.until !== undefined
  const hostList = (options.hosts ?? []).filter((h) => h.trim() !== '')
  const hostFilter = hostList.length > 0 ? createHostMatcher(hostList) : null
  const fixedHost = options.hostname === undefined || options.hostname.trim() === '' ? null : siteHostName(options.hostname.trim())
  if (options.hostname !== undefined && options.hostname.trim() !== '' && fixedHost === null)
    throw new Error(`--hostname ${options.hostname}: not a host name (example.com); no scheme, path or spaces`)
  const defaultHost = fixedHost ?? singlePlainHost(hostList)
  const loggedHost = createLoggedHostNames()
  const clientIpHeader = options.clientIpHeader === undefined ? null : checkClientIpHeader(options.clientIpHeader)
  const pathFilter = createPathFilter(options.includePaths, options.excludePaths)
  const clientIp = createClientIpResolver({ realIp: options.realIp ?? 'remote', trustedProxies: options.trustedProxies })
  const rules: CompiledRule[] = (options.rules ?? []).map(compileCheckedRule)
  const defaultLanguage = headerValue(options.acceptLanguage ?? DEFAULT_ACCEPT_LANGUAGE) ?? DEFAULT_ACCEPT_LANGUAGE
  const userAgent = createUserAgentCache()
  const noLanguage: LanguageInfo = { header: defaultLanguage, lc: undefined }
  const loggedLanguage = boundedMemo((logged: string): LanguageInfo => {
    const header = headerValue(logged)
    return header === null ? noLanguage : { header, lc: localeFromAcceptLanguage(header) }
  }, 1000)
  const language = (logged: string | null | undefined): LanguageInfo => (logged === null || logged === undefined ? noLanguage : loggedLanguage(logged))

  /** The site's host name of a line: `hostname`, else the logged host, else the one `--host`. */
  function siteHost(record: RequestRecord): string | null {
    if (fixedHost !== null) return fixedHost
    const logged = record.host
    return (logged === null || logged === '' ? null : loggedHost(logged)) ?? defaultHost
  }

  function headers(ua: UserAgentInfo, ip: string, lang: LanguageInfo, host: string | null): Record<string, string> {
    const h: Record<string, string> = {}
    if (ua.header !== null) h['User-Agent'] = ua.header
    h['X-Client-IP-Address'] = ip
    h['X-Forwarded-For'] = ip
    if (clientIpHeader !== null) h[clientIpHeader] = ip
    // Swetrix takes an event's host from Origin only; import rows get the same name (import/row.ts).
    if (host !== null) h.Origin = `https://${host}`
    h.Accept = ACCEPT
    h['Accept-Language'] = lang.header
    h['Accept-Encoding'] = 'identity'
    h['Content-Type'] = 'application/json'
    return h
  }

  /** `ref`, unless it is the site itself: the line's site host, one of `hosts`, or (several sites)
   *  a host of the line's project; `www.` and case ignored. */
  function referrer(record: RequestRecord, pid: string, site: string | null): string | undefined {
    const raw = record.referrer
    if (raw === null || raw === '' || raw === '-') return undefined
    const ref = logText(raw)
    const host = urlHost(ref)
    if (host !== null) {
      if (site !== null && normaliseHost(site) === host) return undefined
      if (fixedHost !== null && record.host !== null && record.host !== '') {
        const logged = loggedHost(record.host)
        if (logged !== null && normaliseHost(logged) === host) return undefined
      }
      if (hostFilter !== null && hostFilter(host)) return undefined
      if (hostProject !== undefined && hostProject(host) === pid) return undefined
    }
    return cut(ref, LIMITS.ref)
  }

  /** Fields shared by pageviews and custom events, in the tracker's order. The query itself is not
   *  sent: what Swetrix reads from it (UTM values as its tracker does, then click ids) is derived
   *  here, so live events and import rows carry the same source, medium and referrer. */
  function visitFields(body: Record<string, unknown>, record: RequestRecord, query: string | null, lang: LanguageInfo, site: string | null): void {
    const ref = referrer(record, dPid, site)
    if (ref !== undefined) body.ref = ref
    if (query !== null && query !== '') {
      addUtm(body, query)
      addClickIdSource(body, query)
    }
    if (lang.lc !== undefined) body.lc = lang.lc
  }

  function event(kind: EventKind, endpoint: OutgoingEvent['endpoint'], body: Record<string, unknown>, h: Record<string, string>, name?: string): MapResult {
    const e: OutgoingEvent = name === undefined ? { kind, endpoint, headers: h, body } : { kind, name, endpoint, headers: h, body }
    return { event: e }
  }

  // The decision (send or skip, and which kind) is shared by `map` and `classify`; it leaves what
  // `map` needs to build the request in these variables instead of allocating a result per line.
  let dKind: EventKind = 'pageview'
  let dPid = defaultPid
  let dRule: CompiledRule | undefined
  let dUa: UserAgentInfo | undefined
  let dIp = ''
  let dPath = ''

  /** null when the record becomes an event (described by the d* variables), else the skip. */
  function decide(record: RequestRecord): MapResult | null {
    let pid = defaultPid
    if (route !== undefined) {
      const routed = route(record)
      if (routed === null) return SKIP.noSite
      pid = routed
    }
    const method = record.method
    const rawPath = record.path
    if (method === null || rawPath === null) return SKIP.malformed
    if (timeFilter) {
      const t = record.time
      if (t === null || t < since || t >= until) return SKIP.time
    }
    if (hostFilter !== null && record.host !== null && !hostFilter(record.host)) return SKIP.filtered
    const path = logText(rawPath)
    if (pathFilter !== null && !pathFilter(path)) return SKIP.filtered

    const status = record.status
    let rule: CompiledRule | undefined
    for (const r of rules) {
      if (r.matches(record, path)) {
        rule = r
        break
      }
    }
    let kind: EventKind
    if (rule !== undefined) kind = 'custom'
    else if (status !== null && status >= errorFrom) kind = 'error'
    else {
      if (method !== 'GET') return SKIP.method
      if (status === null || !isPageviewStatus(status)) return SKIP.status
      if (!includeStatic && isStaticPath(path)) return SKIP.static
      kind = 'pageview'
    }
    const ua = userAgent(record.userAgent)
    if (ua.bot && !includeBots) return SKIP.bot
    const ip = clientIp(record)
    if (ip === null) return SKIP.noClientIp
    dKind = kind
    dPid = pid
    dRule = rule
    dUa = ua
    dIp = ip
    dPath = path
    return null
  }

  const map = ((record: RequestRecord): MapResult => {
    const skipped = decide(record)
    if (skipped !== null) return skipped
    const kind = dKind
    const pid = dPid
    const rule = dRule
    const path = dPath
    const method = record.method!
    const status = record.status
    const query = record.query === null ? null : logText(record.query)
    const pg = cut(keepQuery && query !== null && query !== '' ? `${path}?${query}` : path, LIMITS.pg)
    const lang = language(record.acceptLanguage)
    const site = siteHost(record)
    const h = headers(dUa!, dIp, lang, site)

    if (kind === 'pageview') {
      const body: Record<string, unknown> = { pid, pg }
      visitFields(body, record, query, lang, site)
      return event('pageview', '/log', body, h)
    }
    if (kind === 'error') {
      const text = STATUS_CODES[status!]
      const body: Record<string, unknown> = {
        pid,
        name: `HTTP ${status}`,
        message: cut(`${method} ${pg} -> ${status}${text === undefined ? '' : ` ${text}`}`, LIMITS.errorMessage),
        pg,
      }
      if (lang.lc !== undefined) body.lc = lang.lc
      return event('error', '/log/error', body, h)
    }
    const body: Record<string, unknown> = { pid, ev: rule!.event, pg }
    visitFields(body, record, query, lang, site)
    const entries = rule!.meta({ record, pg, query, referrer: record.referrer === null ? null : logText(record.referrer) })
    if (entries !== undefined) {
      const meta = limitMeta(entries)
      if (meta !== undefined) body.meta = meta
    }
    return event('custom', '/log/custom', body, h, rule!.event)
  }) as Mapper
  // Counting (check without per-line output) needs the decision, not the request: same rules,
  // no headers, body or query parsing.
  map.classify = (record) => {
    const skipped = decide(record)
    return skipped !== null ? skipped : dKind
  }
  return map
}

/** Rules from loadConfig are already validated; this keeps direct callers honest without loading
 *  the schema library on every start. Messages name the rule and the field. */
function compileCheckedRule(rule: CustomEventRule, i: number): CompiledRule {
  const where = `customEvents[${i}]`
  if (typeof rule.event !== 'string' || rule.event.length === 0 || rule.event.length > LIMITS.ev)
    throw new Error(`${where}.event: must be 1 to ${LIMITS.ev} characters`)
  try {
    new RegExp(rule.path)
  } catch (err) {
    throw new Error(`${where}.path: not a valid regular expression: ${(err as Error).message}`, { cause: err })
  }
  try {
    return compileRule(rule)
  } catch (err) {
    throw new Error(`${where}.status: ${(err as Error).message}`, { cause: err })
  }
}
