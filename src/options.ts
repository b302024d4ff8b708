// Turns parsed command-line options into the pipeline's parts (parser, mapper) and checks the
// values a user types (project id, durations, times), with one-line messages.
import { builtinParsers, resolveFormat } from '../parsers/registry.js'
import { FormatError, type LogParser, type ParserOptions } from '../parsers/types.js'
import { checkTimeZone, localTimeZoneLabel } from '../parsers/util/wall-clock.js'
import { createMapper, type MapperOptions } from './mapper/index.js'
import type { Mapper } from './pipeline/classify.js'
import { createSiteMap, parseSiteOption, type SiteEntry, type SiteMap } from './mapper/sites.js'
import { UsageError } from './errors.js'
import { singlePlainHost } from './mapper/site-host.js'
import { DEFAULT_STREAM, type StreamChoice } from '../parsers/wrappers/index.js'

export const PID_PATTERN = /^(?!.*--)[a-zA-Z0-9-]{12}$/
/** Shown in `check --events` when no project id is given (a well-formed id, so the output is a real request). */
export const PLACEHOLDER_PID = 'XXXXXXXXXXXX'

/** Repeatable options are absent (undefined) until given once. */
export interface PipelineFlags {
  format: string
  field?: string[]
  /** The IANA zone of times logged without an offset (`--timezone`). */
  timezone?: string
  realIp: 'remote' | 'xff'
  trustedProxy?: string[]
  keepQuery?: boolean
  errors: string
  includeStatic?: boolean
  includeBots?: boolean
  includePath?: string[]
  excludePath?: string[]
  host?: string[]
  /** `HOST=PROJECT` entries (several sites, src/mapper/sites.ts). */
  site?: string[]
  since?: string
  until?: string
  config?: string
  verbose?: boolean
  /** Container logs (CRI, Docker json-file): which of the container's streams to read. */
  stream?: StreamChoice
  /** `backfill`: the site's host for every line (Origin, import hostname, internal referrers). */
  hostname?: string
  /** Delivery commands: one more header with the visitor's address (`--client-ip-header`). */
  clientIpHeader?: string
}

export function validateProjectId(pid: string | undefined, required: boolean): string {
  if (pid === undefined || pid === '') {
    if (required) throw new UsageError('a project id is required: pass -p/--project or set SWETRIX_PROJECT_ID')
    return PLACEHOLDER_PID
  }
  if (!PID_PATTERN.test(pid)) throw new UsageError(`project id "${pid}" is not valid: Swetrix ids are 12 letters, digits or dashes (no "--")`)
  return pid
}

/** `-p` (or SWETRIX_PROJECT_ID) checked, or null when not given (sites may map every line). */
export function projectIdOf(flags: { project?: string }): string | null {
  return flags.project === undefined || flags.project === '' ? null : validateProjectId(flags.project, true)
}

export function parseFieldMap(fields: string[]): Record<string, string> {
  const map: Record<string, string> = {}
  for (const f of fields) {
    const eq = f.indexOf('=')
    if (eq <= 0 || eq === f.length - 1) throw new UsageError(`--field ${f}: expected record=jsonkey, e.g. --field userAgent=ua`)
    map[f.slice(0, eq)] = f.slice(eq + 1)
  }
  return map
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `90`, `90s`, `10m`, `1h`, `500ms` -> milliseconds (a bare number is seconds). */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim())
  if (!m) throw new UsageError(`${flag} ${text}: expected a duration such as 90s, 10m or 1h`)
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!)
}

/** --request-timeout as ms (undefined: the sink's default). */
export function parseRequestTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const ms = parseDuration(text, '--request-timeout')
  if (ms < 1) throw new UsageError(`--request-timeout ${text}: expected a duration of at least 1 ms`)
  return ms
}

/** An ISO 8601 date or time (`2026-11-01`, `2026-11-01T12:00:00+01:00`) or an age (`24h`, `7d`) before `now`. */
export function parseTimeBound(text: string, flag: string, now: number): number {
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d)$/.test(text.trim())) return now - parseDuration(text, flag)
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new UsageError(`${flag} ${text}: expected an ISO 8601 date/time (2026-11-01, 2026-11-01T12:00:00Z) or an age (24h, 7d)`)
  return t
}

/** `100m`, `5000k`, `5000000` -> bytes (decimal units, as the upload limit is stated). */
export function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+)(k|m)?b?$/i.exec(text.trim())
  if (!m) throw new UsageError(`${flag} ${text}: expected bytes, e.g. 100m or 5000000`)
  return Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1000 : 1000_000) : 1)
}

export function parsePositiveInt(text: string, flag: string): number {
  const v = Number(text)
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`${flag} ${text}: expected a whole number >= 1`)
  return v
}

export interface PipelineParts {
  format: LogParser | 'auto'
  candidates: LogParser[]
  mapper: Mapper
  /** Which project each line goes to (one default project when no sites are given). */
  sites: SiteMap
  /** The mapper for the lines of one file: its site's project, or routing by host. */
  mapperFor(path: string): Mapper
  /** Container logs: the streams read (the other's lines are skipped). */
  stream: StreamChoice
  /** The options name the site's host for every line (`--hostname`, or one plain `--host`). */
  siteHostKnown: boolean
  /** How reports name the zone of times logged without an offset (`--timezone`, else the machine's);
   *  a function because Intl's first use costs ~20 ms of start-up, paid only for such formats. */
  localZone(): string
}

/** `projectId` null: no default project (-p not given). Then, without sites, it is an error unless
 *  `requireProject` is false (check: the placeholder id is used). */
export async function buildPipeline(flags: PipelineFlags, projectId: string | null, now: number, requireProject = true): Promise<PipelineParts> {
  const parserOptions: ParserOptions = { fieldMap: parseFieldMap(flags.field ?? []) }
  if (flags.timezone !== undefined) {
    try {
      parserOptions.timeZone = checkTimeZone(flags.timezone)
    } catch (err) {
      throw new UsageError(`--timezone: ${(err as Error).message}`)
    }
  }
  let format: LogParser | 'auto'
  try {
    format = await resolveFormat(flags.format, parserOptions)
  } catch (err) {
    if (err instanceof FormatError) throw new UsageError(`--format: ${err.message}`)
    throw err
  }
  if (!['5xx', '4xx,5xx', 'none'].includes(flags.errors)) throw new UsageError(`--errors ${flags.errors}: expected 5xx, 4xx,5xx or none`)
  if (flags.realIp === 'xff' && (flags.trustedProxy ?? []).length === 0)
    throw new UsageError('--real-ip xff needs at least one --trusted-proxy <cidr> (the proxies whose X-Forwarded-For you trust)')
  // zod is loaded only when a config file is given (it costs ~60 ms and ~13 MB at start).
  const config = flags.config ? await loadConfigAsUsage(flags.config) : undefined
  const siteList: SiteEntry[] = []
  try {
    for (const s of flags.site ?? []) siteList.push(parseSiteOption(s))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (config && flags.config) siteList.push(...(await import('./mapper/config.js')).siteEntries(config, flags.config))
  if (siteList.length === 0 && projectId === null) {
    if (requireProject)
      throw new UsageError('a project id is required: pass -p/--project or set SWETRIX_PROJECT_ID (or map sites to projects with --site HOST=PROJECT)')
    projectId = PLACEHOLDER_PID
  }
  const sites = createSiteMap(siteList, projectId)
  const mapperOptions: MapperOptions = {
    projectId: projectId ?? PLACEHOLDER_PID,
    route: sites.active ? sites.routerFor('-') : undefined,
    hostProject: sites.active ? sites.hostProject : undefined,
    keepQuery: flags.keepQuery === true,
    errors: flags.errors as MapperOptions['errors'],
    includeStatic: flags.includeStatic === true,
    includeBots: flags.includeBots === true,
    includePaths: flags.includePath ?? [],
    excludePaths: flags.excludePath ?? [],
    hosts: flags.host ?? [],
    hostname: flags.hostname,
    clientIpHeader: flags.clientIpHeader,
    since: flags.since ? parseTimeBound(flags.since, '--since', now) : undefined,
    until: flags.until ? parseTimeBound(flags.until, '--until', now) : undefined,
    realIp: flags.realIp,
    trustedProxies: flags.trustedProxy ?? [],
    rules: config?.customEvents ?? [],
  }
  let mapper: Mapper
  try {
    mapper = createMapper(mapperOptions)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  // A file owned by a site (its `files`) gets a mapper for that project alone; one per site.
  const siteMappers = new Map<SiteEntry, Mapper>()
  const mapperFor = (path: string): Mapper => {
    const site = sites.siteForFile(path)
    if (site === null) return mapper
    let m = siteMappers.get(site)
    if (m === undefined) siteMappers.set(site, (m = createMapper({ ...mapperOptions, projectId: site.project, route: undefined })))
    return m
  }
  return {
    format,
    candidates: builtinParsers(parserOptions),
    mapper,
    sites,
    mapperFor,
    stream: flags.stream ?? DEFAULT_STREAM,
    siteHostKnown: flags.hostname !== undefined || singlePlainHost(flags.host ?? []) !== null,
    localZone: () => localTimeZoneLabel(parserOptions.timeZone),
  }
}

async function loadConfigAsUsage(path: string) {
  const { loadConfig } = await import('./mapper/config.js')
  try {
    return await loadConfig(path)
  } catch (err) {
    // The schema's report spans lines; keep the one-line error contract.
    throw new UsageError(
      (err as Error).message
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .join(' '),
    )
  }
}
