// Many sites on one server: which Swetrix project a log line belongs to. Pure (no I/O).
//
// Order of the decision, per line:
//   1. the file: a site whose `files` list the file (or the live log a rotated sibling belongs to)
//      owns every line of it;
//   2. the virtual host: the first entry (`--site` options in order, then the config's `sites`
//      in order) whose hosts match the line's host, matched as `--host` is;
//   3. the default project (`-p` / SWETRIX_PROJECT_ID), when one is given;
//   4. none: the line is skipped with the reason `no-site`.
// `backfill --via import` and other callers route with `projectFor(record, filePath)`.
import { basename, dirname, join, resolve } from 'node:path'
import { createHostMatcher } from './filters.js'
import { parseRotation, segmentRegExp } from '../source/paths.js'
import { boundedMemo } from '../util/memo.js'

/** One site: a project and the hosts and/or files that belong to it. */
export interface SiteEntry {
  /** How the user wrote it, for messages: `--site example.com=AbCdEf123456` or `sites[1] in /etc/x.json`. */
  label: string
  project: string
  hosts: readonly string[]
  /** Paths or globs; relative ones are resolved against `baseDir` (the config file's directory). */
  files: readonly string[]
  baseDir?: string
}

/** A record's project, or null when no site and no default claims it (skip `no-site`). */
export type Router = (record: { host: string | null }) => string | null

/** A site map that cannot be used: two sites claim one file, a malformed `--site`. */
export class SiteError extends Error {
  override name = 'ConfigError'
}

export const SKIP_NO_SITE = 'no-site'

/** A Swetrix project id (the same rule as `-p`). */
export const PROJECT_ID_PATTERN = /^(?!.*--)[a-zA-Z0-9-]{12}$/
/** A host name, an IPv4 or IPv6 address (bare or in brackets), or `*.` + a domain; no scheme,
 *  path, port or spaces. */
const HOST_PATTERN = /^(?:(?:\*\.)?[a-zA-Z0-9_](?:[a-zA-Z0-9_.-]*[a-zA-Z0-9_])?\.?|\[[0-9a-fA-F:.]+\]|[0-9a-fA-F.]*:[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/

/** Logs record IPv6 hosts without brackets (`2001:db8::80`); accept `[2001:db8::80]` too. */
const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host)

/** Why a host pattern is not usable, or null when it is. */
export function hostPatternProblem(host: string): string | null {
  if (host.trim() === '') return 'must not be empty'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return `"${host}" is a URL; give the host name only, e.g. example.com`
  if (!HOST_PATTERN.test(host)) return `"${host}" is not a host name (example.com, *.example.com); no port, path or spaces`
  return null
}

/** `HOST=PROJECT` (the `--site` option) -> an entry; throws SiteError with a one-line message. */
export function parseSiteOption(text: string): SiteEntry {
  const eq = text.indexOf('=')
  const host = eq < 0 ? '' : text.slice(0, eq).trim()
  const project = eq < 0 ? '' : text.slice(eq + 1).trim()
  if (host === '' || project === '') throw new SiteError(`--site ${text}: expected HOST=PROJECT, e.g. --site example.com=AbCdEf123456`)
  const problem = hostPatternProblem(host)
  if (problem !== null) throw new SiteError(`--site ${text}: ${problem}`)
  if (!PROJECT_ID_PATTERN.test(project))
    throw new SiteError(`--site ${text}: project id "${project}" is not valid: Swetrix ids are 12 letters, digits or dashes (no "--")`)
  return { label: `--site ${host}=${project}`, project, hosts: [host], files: [] }
}

/** A glob or path (absolute, normalised) over whole absolute paths: `*`, `?`, `[...]` within one segment. */
function compileFilePattern(pattern: string): (absPath: string) => boolean {
  if (!/[*?[]/.test(pattern)) return (p) => p === pattern
  const segments = pattern.split('/')
  const res = segments.map((s) => (/[*?[]/.test(s) ? segmentRegExp(s) : s))
  return (p) => {
    const parts = p.split('/')
    if (parts.length !== res.length) return false
    for (let i = 0; i < parts.length; i++) {
      const r = res[i]!
      if (typeof r === 'string' ? r !== parts[i] : !r.test(parts[i]!)) return false
    }
    return true
  }
}

/** The names a file answers to: itself and, for a rotated generation (`x.log.1`, `x.log.2.gz`,
 *  `x.log-20261126`), the live log it was rotated from. */
function fileNames(path: string): string[] {
  const abs = resolve(path)
  const { base, rotation } = parseRotation(basename(abs))
  return rotation.kind === 'live' ? [abs] : [abs, join(dirname(abs), base)]
}

export interface SiteMap {
  readonly entries: readonly SiteEntry[]
  readonly defaultProject: string | null
  /** True when there are site entries (the summary then breaks counts down per project). */
  readonly active: boolean
  /** The site that owns this file (by its `files`), or null. Throws SiteError when two sites do. */
  siteForFile(path: string): SiteEntry | null
  /** The routing of the lines of one file. */
  routerFor(path: string): Router
  /** The project of the first entry whose hosts match `host`, ignoring files and the default. */
  hostProject: (host: string) => string | null
  /** The project of one record of `filePath` (null: skip `no-site`). */
  projectFor(record: { host: string | null }, filePath: string): string | null
  /** Every project the map can send to, in entry order, the default last. */
  projects(): string[]
  /** Where a project comes from, for messages: `--site b.example.org=BBBB…` or `-p, the default project`. */
  sourceOf(pid: string): string | null
}

export function createSiteMap(entries: readonly SiteEntry[], defaultProject: string | null): SiteMap {
  const fileSites = entries
    .filter((e) => e.files.length > 0)
    .map((e) => ({ entry: e, patterns: e.files.map((f) => compileFilePattern(e.baseDir === undefined ? resolve(f) : resolve(e.baseDir, f))) }))
  const hostSites = entries.filter((e) => e.hosts.length > 0).map((e) => ({ project: e.project, matches: createHostMatcher(e.hosts.map(unbracket)) }))
  const hostProject = boundedMemo((host: string): string | null => {
    for (const s of hostSites) if (s.matches(host)) return s.project
    return null
  }, 1000)

  const hostRouter: Router = (record) => {
    const host = record.host
    if (host === null || host === '') return defaultProject
    return hostProject(host) ?? defaultProject
  }
  const fileRouters = new Map<SiteEntry, Router>()

  function siteForFile(path: string): SiteEntry | null {
    if (fileSites.length === 0 || path === '-') return null
    const names = fileNames(path)
    const owners = fileSites.filter((s) => s.patterns.some((m) => names.some((n) => m(n))))
    if (owners.length > 1)
      throw new SiteError(`${path}: claimed by two sites, ${owners[0]!.entry.label} and ${owners[1]!.entry.label}; list each file in one site only`)
    return owners[0]?.entry ?? null
  }

  function routerFor(path: string): Router {
    const site = siteForFile(path)
    if (site === null) return hostRouter
    let r = fileRouters.get(site)
    if (r === undefined) {
      const pid = site.project
      r = () => pid
      fileRouters.set(site, r)
    }
    return r
  }

  return {
    entries,
    defaultProject,
    active: entries.length > 0,
    siteForFile,
    routerFor,
    hostProject,
    projectFor: (record, filePath) => routerFor(filePath)(record),
    projects() {
      const all = new Set(entries.map((e) => e.project))
      if (defaultProject !== null) all.add(defaultProject)
      return [...all]
    },
    sourceOf(pid) {
      const labels = entries.filter((e) => e.project === pid).map((e) => e.label)
      if (pid === defaultProject) labels.push('-p, the default project')
      return labels.length === 0 ? null : labels.join(', ')
    },
  }
}

/** One line for a refused project that names the site entry mapping to it (the API's message
 *  names only the project). Unchanged when there are no sites, the project is not in the map, or
 *  the refusal is not about the project (a redirect, a wrong --api-url path: `Cannot POST`). */
export function explainRefusedProject(map: SiteMap, pid: string, message: string, status?: number): string {
  if (!map.active) return message
  if (status !== undefined && status !== 400 && status !== 404 && status !== 402) return message
  if (message.includes('Cannot POST')) return message
  const source = map.sourceOf(pid)
  return source === null ? message : `${message} (project ${pid} is mapped by ${source}; fix or remove that entry)`
}
