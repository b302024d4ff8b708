// Custom-event rules: which requests become Swetrix custom events, compiled once per mapper.
import type { RequestRecord } from '../types.js'
import { createHostMatcher } from './filters.js'

export type StatusSpec = string | number | ReadonlyArray<string | number>

/** One entry of `customEvents` in the config file. All given conditions must hold. */
export interface CustomEventRule {
  /** Event name sent as `ev` (1-256 characters). */
  event: string
  /** Regular expression (JavaScript syntax, unanchored, case-sensitive) tested against the
   *  request path without the query, log escapes undone, percent-encoding as logged. */
  path: string
  /** Method or methods (case-insensitive); any method when absent. */
  method?: string | readonly string[]
  /** `"2xx"`, `"200"`, `"2xx,3xx"`, `"any"`, a number, or a list of these; default `"2xx,3xx"`. */
  status?: StatusSpec
  /** Host or hosts (`example.com` also matches `www.example.com`; `*.example.com` = subdomains);
   *  a record without a host never matches a rule that names hosts. */
  host?: string | readonly string[]
  /** `key -> value`: `query:NAME` (URL-decoded query parameter), `path`, `status`, `method`,
   *  `host`, `referrer`, or any other text as a literal. Keys whose value is absent are left out. */
  meta?: Readonly<Record<string, string>>
}

export const DEFAULT_RULE_STATUS = '2xx,3xx'

/** A lookup table `status -> matches` for 0..999. Throws a message naming the bad part. */
export function parseStatusSpec(spec: StatusSpec): Uint8Array {
  const table = new Uint8Array(1000)
  const items = Array.isArray(spec) ? spec : [spec]
  if (items.length === 0) throw new Error('status: empty list')
  for (const item of items as ReadonlyArray<string | number>) {
    const tokens = typeof item === 'number' ? [String(item)] : item.split(',')
    for (const raw of tokens) {
      const t = raw.trim().toLowerCase()
      if (t === 'any' || t === '*') table.fill(1, 100)
      else if (/^[1-9]xx$/.test(t)) {
        const base = Number(t[0]) * 100
        table.fill(1, base, base + 100)
      } else if (/^[1-9]\d\d$/.test(t)) table[Number(t)] = 1
      else throw new Error(`status "${raw.trim()}": expected a code (200), a class (2xx), a comma-separated list of these, or "any"`)
    }
  }
  return table
}

type MetaSource = { kind: 'query'; pattern: RegExp } | { kind: 'path' | 'status' | 'method' | 'host' | 'referrer' } | { kind: 'literal'; value: string }

function compileMetaSource(value: string): MetaSource {
  if (value.startsWith('query:') && value.length > 6) {
    const name = value.slice(6).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    return { kind: 'query', pattern: new RegExp(`(?:^|&)${name}=([^&]*)`) }
  }
  if (value === 'path' || value === 'status' || value === 'method' || value === 'host' || value === 'referrer') return { kind: value }
  return { kind: 'literal', value }
}

function decodeQueryValue(raw: string): string {
  const plus = raw.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(plus)
  } catch {
    return plus
  }
}

/** What a rule's meta values can refer to, with log escapes already undone. */
export interface RuleContext {
  record: RequestRecord
  /** The `pg` that is sent. */
  pg: string
  query: string | null
  referrer: string | null
}

export interface CompiledRule {
  event: string
  matches(record: RequestRecord, path: string): boolean
  /** Meta entries in rule order, before limits are applied. */
  meta(ctx: RuleContext): Array<[string, string]> | undefined
}

export function compileRule(rule: CustomEventRule): CompiledRule {
  const methods = rule.method === undefined ? null : new Set((typeof rule.method === 'string' ? [rule.method] : rule.method).map((m) => m.toUpperCase()))
  const path = new RegExp(rule.path)
  const status = parseStatusSpec(rule.status ?? DEFAULT_RULE_STATUS)
  const hosts = rule.host === undefined ? null : createHostMatcher(typeof rule.host === 'string' ? [rule.host] : rule.host)
  const meta = rule.meta === undefined ? [] : Object.entries(rule.meta).map(([k, v]) => [k, compileMetaSource(v)] as const)
  return {
    event: rule.event,
    matches(record, p) {
      if (methods !== null && (record.method === null || !(methods.has(record.method) || methods.has(record.method.toUpperCase())))) return false
      if (record.status === null || status[record.status] !== 1) return false
      if (hosts !== null && (record.host === null || !hosts(record.host))) return false
      return path.test(p)
    },
    meta(ctx) {
      if (meta.length === 0) return undefined
      const out: Array<[string, string]> = []
      for (const [key, src] of meta) {
        let v: string | null = null
        switch (src.kind) {
          case 'query': {
            const m = ctx.query === null ? null : src.pattern.exec(ctx.query)
            v = m === null ? null : decodeQueryValue(m[1]!)
            break
          }
          case 'path':
            v = ctx.pg
            break
          case 'status':
            v = ctx.record.status === null ? null : String(ctx.record.status)
            break
          case 'method':
            v = ctx.record.method
            break
          case 'host':
            v = ctx.record.host
            break
          case 'referrer':
            v = ctx.referrer
            break
          case 'literal':
            v = src.value
            break
        }
        if (v !== null && v !== '') out.push([key, v])
      }
      return out
    },
  }
}
