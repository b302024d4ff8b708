// The event routes Swetrix serves under a base path: `<base>`, `<base>/custom`, `<base>/error`, each
// also under the `/log` <-> `/v1/log` twin and with a trailing slash.
import type { Endpoint } from '../types.js'

export function normalizeBasePath(p: string): string {
  let base = p.startsWith('/') ? p : `/${p}`
  while (base.endsWith('/')) base = base.slice(0, -1)
  return base
}

/** Exact request paths (no query) -> endpoint. Trailing slashes are tolerated like Express does. */
export function buildRoutes(basePath: string): Map<string, Endpoint> {
  const base = normalizeBasePath(basePath)
  const bases = [base]
  if (base.endsWith('/v1/log')) bases.push(`${base.slice(0, -'/v1/log'.length)}/log`)
  else if (base.endsWith('/log')) bases.push(`${base.slice(0, -'/log'.length)}/v1/log`)
  const routes = new Map<string, Endpoint>()
  for (const b of bases) {
    for (const [suffix, endpoint] of [
      ['', '/log'],
      ['/custom', '/log/custom'],
      ['/error', '/log/error'],
    ] as const) {
      routes.set(`${b}${suffix}` || '/', endpoint)
      routes.set(`${b}${suffix}/`, endpoint)
    }
  }
  return routes
}
