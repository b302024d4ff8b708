// Prometheus metrics and a health endpoint for `follow` (prom-client). The values are read from a
// snapshot function at scrape time, so the pipeline keeps plain counters and knows nothing of HTTP.
import { createServer, type Server } from 'node:http'
import { Gauge, Registry } from 'prom-client'
import type { LineCounters } from '../types.js'
import type { DeliveryStats } from '../delivery/engine.js'

export interface FollowSnapshot {
  counters: LineCounters
  delivery: DeliveryStats
  /** Per followed file: bytes in the file not yet acknowledged. */
  behind: { path: string; bytes: number }[]
  /** Epoch ms of the last event the API accepted (null: none yet). */
  /** When the API last accepted an event (wall clock, ms), null: not yet. */
  lastSendAt: number | null
  /** Since the process started (monotonic: a clock step does not change it). */
  uptimeMs: number
}

export function parseListenAddress(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(text.trim())
  if (!m) return null
  const port = Number(m[3])
  if (port > 65535) return null
  return { host: m[1] ?? m[2]!, port }
}

export async function startMetricsServer(
  addr: { host: string; port: number },
  snapshot: () => FollowSnapshot,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const registry = new Registry()
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        collect(this)
      },
    })
  // Counters that only grow are exposed as gauges set at scrape time (prom-client counters cannot be
  // set); their names end in _total as Prometheus expects for counters.
  gauge('swetrix_ingest_lines_total', 'log lines read', [], (g) => g.set(snapshot().counters.lines))
  gauge('swetrix_ingest_events_total', 'lines that became events, by kind', ['kind'], (g) => {
    for (const [kind, n] of Object.entries(snapshot().counters.events)) g.set({ kind }, n)
  })
  gauge('swetrix_ingest_skipped_total', 'lines skipped, by reason', ['reason'], (g) => {
    for (const [reason, n] of Object.entries(snapshot().counters.skipped)) g.set({ reason }, n)
  })
  gauge('swetrix_ingest_rejected_total', 'lines that could not be parsed', [], (g) => g.set(snapshot().counters.rejected))
  gauge('swetrix_ingest_delivery_total', 'events by delivery outcome', ['outcome'], (g) => {
    const d = snapshot().delivery
    for (const k of ['sent', 'accepted', 'botIgnored', 'deadLettered', 'uncertain'] as const) g.set({ outcome: k }, d[k])
  })
  gauge('swetrix_ingest_retries_total', 'retried requests', [], (g) => g.set(snapshot().delivery.retries))
  gauge('swetrix_ingest_bytes_behind', 'bytes of a followed file not yet acknowledged', ['path'], (g) => {
    g.reset()
    for (const b of snapshot().behind) g.set({ path: b.path }, b.bytes)
  })
  gauge('swetrix_ingest_last_send_timestamp_seconds', 'when the API last accepted an event (0: not yet)', [], (g) => g.set((snapshot().lastSendAt ?? 0) / 1000))

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType })
          res.end(text)
        },
        (err: Error) => {
          res.writeHead(500).end(err.message)
        },
      )
      return
    }
    if (req.method === 'GET' && (path === '/health' || path === '/healthz')) {
      const s = snapshot()
      const body = {
        status: 'ok',
        uptimeSeconds: Math.round(s.uptimeMs / 1000),
        lastSendAt: s.lastSendAt === null ? null : new Date(s.lastSendAt).toISOString(),
        bytesBehind: s.behind.reduce((a, b) => a + b.bytes, 0),
        uncertain: s.delivery.uncertain,
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body) + '\n')
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(addr.port, addr.host, () => resolve())
  })
  const bound = server.address()
  const port = typeof bound === 'object' && bound ? bound.port : addr.port
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
