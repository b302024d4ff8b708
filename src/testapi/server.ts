// A Swetrix-compatible Events API on loopback for tests, the demo and the benchmark: plain node:http
// (node:https with a test certificate when asked), the real DTO rules and status codes, a record of
// what it accepted, and faults (5xx, 429, resets, hangs, slow bodies, portals, latency, outages) from
// a seeded schedule. The contract it follows is docs/mapping.md (what gets sent) and docs/delivery.md
// (the answers of the API); docs/testapi.md describes it. This module wires the parts: events.ts (the event
// routes), fault-injection.ts, outage.ts (and the listener), admin.ts, recorder.ts, counters.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { createAdminRoutes } from './admin.js'
import type { TestApi, TestApiOptions, TestApiStats } from './contract.js'
import { createCounters, resetCounters } from './counters.js'
import { createDataImport } from './data-import.js'
import { createEventRoutes } from './events.js'
import { createFaultInjector } from './fault-injection.js'
import type { Faults, FaultSettings } from './faults.js'
import { createHungRequests } from './hung-requests.js'
import { createOutage } from './outage.js'
import { createRecorder } from './recorder.js'
import { errorBody, headerString, sendJson } from './replies.js'
import { buildRoutes, normalizeBasePath } from './routes.js'

export type { AcceptedEvent, EndpointCounts, FaultCounts, OutageMode, TestApi, TestApiOptions, TestApiStats } from './contract.js'
export type { Faults, FaultSettings } from './faults.js'
export { readRecordFile } from './recorder.js'
export { buildRoutes } from './routes.js'

const DEFAULT_BODY_LIMIT = 100 * 1024

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1'
}

export async function startTestApi(o: TestApiOptions = {}): Promise<TestApi> {
  const host = o.host ?? '127.0.0.1'
  if (!isLoopbackHost(host) && o.allowRemote !== true) {
    throw new Error(`refusing to bind the test API to non-loopback host ${host} (set allowRemote)`)
  }
  const basePath = normalizeBasePath(o.basePath ?? '/log')
  const routes = buildRoutes(basePath)
  const seed = (o.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0
  const counters = createCounters()
  const hung = createHungRequests()
  const injector = createFaultInjector(seed, o.faults, counters, hung)
  const recorder = createRecorder({
    ...(o.recordFile !== undefined && { recordFile: o.recordFile }),
    ...(o.keepInMemory !== undefined && { keepInMemory: o.keepInMemory }),
    ...(o.maxInMemory !== undefined && { maxInMemory: o.maxInMemory }),
  })
  const dataImport = createDataImport(o.dataImport)
  const sockets = new Set<Socket>()
  let closed = false

  const outage = createOutage({ listen, sockets, counters, hung, mode: o.outageMode ?? 'refuse' })
  const onEventRequest = createEventRoutes({
    projects: o.projects === undefined ? null : new Set(o.projects),
    disabledProjects: new Set(o.disabledProjects ?? []),
    strictBots: o.strictBots === true,
    bodyLimitBytes: o.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    counters,
    recorder,
    injector,
    outage,
    isClosed: () => closed,
  })
  const onAdminRequest = createAdminRoutes({
    api: { stats, accepted: () => recorder.events(), faults, reset, endOutage: () => outage.end() },
    counters,
    setFaults,
    startOutage: (seconds, mode, spare) => outage.begin(seconds, mode, spare),
  })

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const method = req.method
    const endpoint = routes.get(path)
    if (endpoint !== undefined && method === 'POST') return onEventRequest(req, res, endpoint)
    if (method === 'OPTIONS') {
      // CORS preflight as NestJS' enableCors() answers it.
      res.writeHead(204, {
        'access-control-allow-origin': '*',
        'access-control-allow-methods': 'GET,HEAD,PUT,PATCH,POST,DELETE',
        'access-control-allow-headers': headerString(req.headers['access-control-request-headers']) ?? '*',
        'content-length': '0',
      })
      res.end()
      return
    }
    if (path.startsWith('/__admin/')) return onAdminRequest(req, res, path)
    if (dataImport.handle(req, res, path)) return
    counters.unknownRoute++
    sendJson(res, 404, errorBody(404, `Cannot ${method} ${path}`))
  }

  function listen(port: number): Promise<Server> {
    const s: Server = o.tls ? createHttpsServer({ cert: o.tls.cert, key: o.tls.key }, onRequest) : createServer(onRequest)
    s.on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
    return new Promise((resolve, rejectListen) => {
      s.once('error', rejectListen)
      s.listen({ port, host, exclusive: true }, () => {
        s.off('error', rejectListen)
        s.on('error', () => {})
        resolve(s)
      })
    })
  }

  function stats(): TestApiStats {
    return {
      seed,
      requests: counters.requests,
      byEndpoint: structuredClone(counters.byEndpoint),
      accepted: recorder.count(),
      bot: counters.bot,
      rejected: { ...counters.rejected },
      faults: { ...counters.faults },
      aborted: counters.aborted,
      hanging: hung.open(),
      unknownRoute: counters.unknownRoute,
      pg: recorder.pg(),
      outage: outage.snapshot(),
      faultSettings: faults(),
    }
  }

  function faults(): FaultSettings {
    return { ...injector.settings() }
  }

  function setFaults(f: Faults, spare: Socket | undefined): void {
    injector.configure(f)
    // Validated above; an outage is an action, so it is not part of the stored settings.
    const outageSeconds = (f as Faults | null | undefined)?.outageSeconds
    if (outageSeconds !== undefined) {
      if (outageSeconds > 0) outage.begin(outageSeconds, undefined, spare)
      else outage.end()
    }
  }

  function reset(): void {
    resetCounters(counters)
    recorder.clear()
    injector.restart(seed)
  }

  const port = await outage.open(o.port ?? 0)
  const origin = `${o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`
  const api: TestApi = {
    dataImport,
    url: `${origin}${basePath}`,
    port,
    origin,
    seed,
    accepted: () => recorder.events(),
    stats,
    faults,
    setFaults: (f) => setFaults(f, undefined),
    startOutage: (seconds, mode) => outage.begin(seconds, mode, undefined),
    endOutage: () => outage.end(),
    whenUp: () => outage.whenUp(),
    reset,
    async close() {
      if (closed) return
      closed = true
      injector.close()
      const done = outage.close()
      hung.destroyAll()
      for (const socket of sockets) socket.destroy()
      recorder.close()
      await done
    },
  }

  if (o.faults?.outageSeconds !== undefined && o.faults.outageSeconds > 0) api.startOutage(o.faults.outageSeconds)
  return api
}
