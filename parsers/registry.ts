// `--format` values -> parsers: built-in names, `nginx:<log_format>`, `apache:<LogFormat>`,
// `module:<path or package>` (third-party parsers), and `auto`.
import { createRequire } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createClfParser } from './clf.js'
import { compileApacheFormat } from './custom-apache.js'
import { compileNginxFormat } from './custom-nginx.js'
import { awsAlb, awsElb } from './aws-elb.js'
import { cloudflareJson } from './cloudflare.js'
import { createHaproxyParser } from './haproxy.js'
import { createIngressNginxParser } from './ingress-nginx.js'
import { caddyJson } from './caddy-json.js'
import { createNginxJson } from './nginx-json.js'
import { traefikJson } from './traefik-json.js'
import { createW3cParser } from './w3c.js'
import { checkTimeZone } from './util/wall-clock.js'
import { FormatError, RECORD_KEYS, type LogParser, type ParseResult, type ParserOptions } from './types.js'

/** The built-in `--format` names (also the formats of the conformance sets). */
export const BUILTIN_FORMAT_NAMES = [
  'combined',
  'common',
  'vhost_combined',
  'vhost_common',
  'traefik_clf',
  'ingress_nginx',
  'nginx_json',
  'caddy_json',
  'traefik_json',
  'w3c',
  'aws_elb',
  'aws_alb',
  'haproxy',
  'cloudflare_json',
] as const

export type BuiltinFormatName = (typeof BUILTIN_FORMAT_NAMES)[number]

/** A fresh instance (own caches) of a built-in format; caddy_json, traefik_json, aws_elb, aws_alb and
 *  cloudflare_json keep no state; w3c keeps its layout per input (`forInput`). */
function builtinParser(name: BuiltinFormatName, options: ParserOptions | undefined): LogParser {
  switch (name) {
    case 'nginx_json':
      return createNginxJson(options)
    case 'caddy_json':
      return caddyJson
    case 'traefik_json':
      return traefikJson
    case 'w3c':
      return createW3cParser(options)
    case 'aws_elb':
      return awsElb
    case 'aws_alb':
      return awsAlb
    case 'haproxy':
      return createHaproxyParser(options)
    case 'cloudflare_json':
      return cloudflareJson
    case 'ingress_nginx':
      return createIngressNginxParser()
    default:
      return createClfParser(name)
  }
}

/** Detection order: on a tie the earlier parser wins, so a format comes before every format that
 *  also reads its lines (vhost_combined before vhost_common, ingress_nginx before combined, which
 *  reads its lines with trailing fields, combined before common; the CLF
 *  variants before traefik_clf, which also reads plain common lines; nginx_json, which reads any
 *  JSON access record, last). The CDN/load-balancer formats come after the CLF family and before
 *  nginx_json, so they never take a line today's formats read (a `#Fields:` directive picks w3c
 *  outright, see detect.ts). */
const DETECTION_ORDER: readonly BuiltinFormatName[] = [
  'vhost_combined',
  'vhost_common',
  'ingress_nginx',
  'combined',
  'common',
  'traefik_clf',
  'w3c',
  'aws_alb',
  'aws_elb',
  'haproxy',
  'caddy_json',
  'traefik_json',
  'cloudflare_json',
  'nginx_json',
]

/** Every built-in parser, fresh per call (per-run caches), in detection order. */
export function builtinParsers(options?: ParserOptions): LogParser[] {
  return DETECTION_ORDER.map((name) => builtinParser(name, options))
}

/** Other spellings users reach for. */
const ALIASES: Readonly<Record<string, BuiltinFormatName>> = {
  json: 'nginx_json',
  caddy: 'caddy_json',
  traefik: 'traefik_json',
  iis: 'w3c',
  cloudfront: 'w3c',
  amazon_cloudfront: 'w3c',
  w3c_extended: 'w3c',
  elb: 'aws_elb',
  alb: 'aws_alb',
  cloudflare: 'cloudflare_json',
  ingress: 'ingress_nginx',
  nginx_ingress: 'ingress_nginx',
  upstreaminfo: 'ingress_nginx',
}

function builtinName(spec: string): BuiltinFormatName | undefined {
  const normalised = spec.toLowerCase().replaceAll('-', '_')
  const alias = ALIASES[normalised]
  if (alias !== undefined) return alias
  return (BUILTIN_FORMAT_NAMES as readonly string[]).includes(normalised) ? (normalised as BuiltinFormatName) : undefined
}

/** Resolves a `--format` value. Throws `FormatError` (a usage error) for anything unusable. */
export async function resolveFormat(spec: string, options?: ParserOptions): Promise<LogParser | 'auto'> {
  if (options?.timeZone !== undefined) checkTimeZone(options.timeZone)
  const trimmed = spec.trim()
  if (trimmed.toLowerCase() === 'auto') return 'auto'
  const builtin = builtinName(trimmed)
  if (builtin !== undefined) return builtinParser(builtin, options)
  const colon = trimmed.indexOf(':')
  const kind = colon > 0 ? trimmed.slice(0, colon).toLowerCase() : ''
  const rest = colon > 0 ? trimmed.slice(colon + 1) : ''
  if (kind === 'nginx' || kind === 'apache') {
    if (rest.trim() === '') throw new FormatError(`--format ${kind}: needs the format definition after "${kind}:"`)
    return kind === 'nginx' ? compileNginxFormat(rest) : compileApacheFormat(rest, options)
  }
  if (kind === 'module') {
    if (rest.trim() === '') throw new FormatError('--format module: needs a file path or package name after "module:"')
    return loadParserModule(rest.trim(), options ?? {})
  }
  throw new FormatError(
    `unknown format "${spec}": use auto, ${BUILTIN_FORMAT_NAMES.join(', ')}, ` + `nginx:'<log_format>', apache:'<LogFormat>' or module:<path or package>`,
  )
}

function isPathSpecifier(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || spec.startsWith('file:')
}

/** The URL to import for `module:<spec>`: paths are resolved from the working directory, package
 *  names from the working directory's node_modules first (where the user installed it). */
function moduleUrl(spec: string): string {
  if (spec.startsWith('file:')) return spec
  if (isPathSpecifier(spec)) return pathToFileURL(resolve(process.cwd(), spec)).href
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(spec)).href
  } catch {
    return spec // ESM-only packages without a `require` export: let import() resolve it
  }
}

async function loadParserModule(spec: string, options: ParserOptions): Promise<LogParser> {
  let mod: unknown
  try {
    mod = await import(moduleUrl(spec))
  } catch (err) {
    throw new FormatError(`module:${spec}: cannot load it: ${(err as Error).message}`)
  }
  const parser = parserFromModule(mod, options, spec)
  const problem = shapeProblem(parser)
  if (problem !== null) throw new FormatError(`module:${spec}: the exported parser ${problem}`)
  return safeParser(parser as LogParser)
}

function isRecordLike(v: unknown): v is Record<string, unknown> {
  return (typeof v === 'object' && v !== null) || typeof v === 'function'
}

function looksLikeParser(v: unknown): boolean {
  return isRecordLike(v) && typeof v['parse'] === 'function' && typeof v['detect'] === 'function'
}

/** `createParser(options)`, `default` (a parser or a factory), or `parser`; a CommonJS module's
 *  exports arrive as `default`, so those names are also looked up inside it. */
function parserFromModule(mod: unknown, options: ParserOptions, spec: string): unknown {
  const callFactory = (factory: (o: ParserOptions) => unknown, label: string): unknown => {
    try {
      return factory(options)
    } catch (err) {
      throw new FormatError(`module:${spec}: ${label}() failed: ${(err as Error).message}`)
    }
  }
  const pick = (m: Record<string, unknown>): unknown => {
    if (typeof m['createParser'] === 'function') return callFactory(m['createParser'] as (o: ParserOptions) => unknown, 'createParser')
    const d = m['default']
    if (typeof d === 'function' && !looksLikeParser(d)) return callFactory(d as (o: ParserOptions) => unknown, 'default')
    if (looksLikeParser(d)) return d
    if (m['parser'] !== undefined) return m['parser']
    return undefined
  }
  if (!isRecordLike(mod)) return undefined
  const top = pick(mod)
  if (top !== undefined) return top
  const inner = mod['default']
  if (isRecordLike(inner) && typeof inner !== 'function') return pick(inner) ?? inner
  throw new FormatError(`module:${spec}: exports no parser (expected a default export, a "parser" export or a "createParser(options)" function)`)
}

/** What is wrong with a would-be parser, or null. */
function shapeProblem(p: unknown): string | null {
  if (!isRecordLike(p)) return `is ${p === null ? 'null' : typeof p}, not an object with name, detect() and parse()`
  const missing: string[] = []
  if (typeof p['name'] !== 'string' || p['name'] === '') missing.push('a "name" string')
  if (typeof p['detect'] !== 'function') missing.push('a detect(sample) function')
  if (typeof p['parse'] !== 'function') missing.push('a parse(line) function')
  return missing.length === 0 ? null : `lacks ${missing.join(', ')}`
}

/** Wraps a third-party parser so that it keeps the `LogParser` promises the pipeline relies on:
 *  a throw or a malformed result becomes `{ rejected: 'parser-error' }`, missing record fields
 *  become null, and `detect` always returns a number in [0, 1]. */
export function safeParser(p: LogParser): LogParser {
  const parse = (line: Buffer): ParseResult => {
    let result: unknown
    try {
      result = p.parse(line)
    } catch {
      return { rejected: 'parser-error' }
    }
    if (typeof result !== 'object' || result === null) return { rejected: 'parser-error' }
    const r = result as Record<string, unknown>
    if ('rejected' in r) {
      return typeof r['rejected'] === 'string' && r['rejected'] !== '' ? (r as unknown as ParseResult) : { rejected: 'parser-error' }
    }
    for (const key of RECORD_KEYS) if (r[key] === undefined) r[key] = null
    return r as unknown as ParseResult
  }
  const detect = (sample: readonly Buffer[]): number => {
    let score: unknown
    try {
      score = p.detect(sample)
    } catch {
      return 0
    }
    return typeof score === 'number' && score > 0 ? Math.min(score, 1) : 0
  }
  const wrapped: LogParser = p.description === undefined ? { name: p.name, detect, parse } : { name: p.name, description: p.description, detect, parse }
  // Read when asked: a parser that learns its layout from the file says so only then.
  Object.defineProperty(wrapped, 'localTime', { enumerable: true, get: () => safeLocalTime(p) })
  // A module parser with per-file state keeps it: each input's instance is wrapped the same way.
  if (typeof p.forInput === 'function') {
    const forInput = p.forInput.bind(p)
    wrapped.forInput = () => {
      let fresh: LogParser
      try {
        fresh = forInput()
      } catch {
        return wrapped
      }
      return shapeProblem(fresh) === null ? safeParser(fresh) : wrapped
    }
  }
  return wrapped
}

function safeLocalTime(p: LogParser): boolean {
  try {
    return p.localTime === true
  } catch {
    return false
  }
}
