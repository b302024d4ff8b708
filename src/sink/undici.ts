// undici, loaded by parts. The package entry also loads fetch, WebSocket, cookies and caches, and
// through them Node's bundled undici: more than twice the start-up of Pool alone, paid by every cron
// run before its first request. Pool is the entry's
// own class (test/sink.test.ts checks it, so an undici upgrade that moves it fails there). The proxy
// agent needs what the entry adds to every dispatcher (CONNECT), so it comes from the entry, which
// only a run through a proxy loads.
import { createRequire } from 'node:module'
import type { EnvHttpProxyAgent, Pool as PoolClass } from 'undici'

const require = createRequire(import.meta.url)

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof PoolClass

export function envHttpProxyAgent(options: EnvHttpProxyAgent.Options): EnvHttpProxyAgent {
  const entry = require('undici') as typeof import('undici')
  return new entry.EnvHttpProxyAgent(options)
}
