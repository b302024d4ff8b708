// A Swetrix-compatible Events API on loopback for tests, the demo and the benchmark: plain node:http,
// the real DTO rules and status codes (node:https with a test certificate when asked), records what it accepted, and injects faults (5xx, 429, resets,
// latency, outages) from a seeded schedule. The contract it follows is the README's
// "What gets sent" and "Delivery guarantees" (routes, validation, answers).
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Endpoint } from '../types.js'
import { createRandom, normalizeFaults, pickFault, type FaultKind, type Faults, type FaultSettings } from './faults.js'
import { BOT_MESSAGE, DISABLED_MESSAGE, isBotRequest, isBotUserAgent, notFoundMessage, validateEventBody } from './validate.js'

import { createDataImport, type DataImportApi, type DataImportOptions } from './data-import.js'

export type { Faults, FaultSettings } from './faults.js'

/** `refuse`: the listening socket is closed (clients get ECONNREFUSED) and every open connection is reset.
 *  `reset`: the port stays open but every event request's connection is reset (admin routes still work). */
export type OutageMode = 'refuse' | 'reset'

export interface TestApiOptions {
  /** Default 127.0.0.1; non-loopback hosts are refused unless `allowRemote`. */
  host?: string
  /** 0 (default) = a random free port. */
  port?: number
  /** Default '/log'. `/x/log` also serves `/x/v1/log` and vice versa, like Swetrix's `['log','v1/log']`. */
  basePath?: string
  /** Known project ids; when omitted every well-formed pid is known. */
  projects?: string[]
  /** Projects that exist but have analytics disabled (400). */
  disabledProjects?: string[]
  /** Swetrix "strict" bot level: also drop requests missing >= 2 of Accept/Accept-Language/Accept-Encoding
   *  and requests for probe paths (`/.env`, `/wp-…` is not one, `/cgi-bin`, …). */
  strictBots?: boolean
  faults?: Faults
  /** Append one NDJSON line per accepted event to this file (created 0600, written synchronously). */
  recordFile?: string
  /** Keep accepted events in memory for `accepted()` / `GET /__admin/received` (default true). */
  keepInMemory?: boolean
  /** Keep at most this many (the newest) events in memory (default unbounded). */
  maxInMemory?: number
  /** Seed of the fault schedule (default random; reported in `stats().seed`). */
  seed?: number
  /** Default 'refuse'. */
  outageMode?: OutageMode
  /** Request body limit (default 100 kB = 102400 bytes, Swetrix CE's Express default) -> 413. */
  bodyLimitBytes?: number
  /** Allow binding a non-loopback host. */
  allowRemote?: boolean
  /** Data Import and login routes (`/data-import/...`, `/v1/auth/login`); see data-import.ts. */
  dataImport?: DataImportOptions
  /** Serve HTTPS with this PEM certificate and key (tests of certificate handling). */
  tls?: { cert: string | Buffer; key: string | Buffer }
}

export interface AcceptedEvent {
  /** Server time of acceptance, ms since the epoch. */
  t: number
  endpoint: Endpoint
  /** First entry of X-Client-IP-Address, else of X-Forwarded-For, else the socket address. */
  ip: string
  /** User-Agent as Node decodes header bytes (Latin-1: one char per raw byte). */
  ua: string
  body: Record<string, unknown>
}

export interface EndpointCounts {
  requests: number
  accepted: number
  bot: number
}

export interface FaultCounts {
  /** Injected 500/502/503. */
  serverError: number
  /** Injected 429. */
  rateLimit: number
  /** Connections reset before recording. */
  reset: number
  /** Events recorded, then the connection reset (also counted in `accepted`). */
  resetAfterStore: number
  /** Connections/requests reset because of an outage. */
  outageReset: number
  /** Outages started. */
  outages: number
}

export interface TestApiStats {
  seed: number
  /** Requests on the event routes, all outcomes. */
  requests: number
  byEndpoint: Record<Endpoint, EndpointCounts>
  accepted: number
  /** Answered with the "Bot traffic detected" body. */
  bot: number
  /** Client errors by status code ('400', '404', '413'), not counting unknown routes. */
  rejected: Record<string, number>
  faults: FaultCounts
  /** Requests whose connection went away before they were answered (client abort, outage). */
  aborted: number
  /** Requests to unknown routes or with a wrong method. */
  unknownRoute: number
  /** `pg` values of accepted events (all endpoints): total, distinct, and the first few seen twice. */
  pg: { total: number; distinct: number; duplicates: string[] }
  outage: { active: boolean; mode: OutageMode; endsAt: string | null }
  faultSettings: FaultSettings
}

export interface TestApi {
  /** e.g. http://127.0.0.1:PORT/log */
  url: string
  port: number
  /** The `http://host:port` origin, for the admin routes. */
  origin: string
  seed: number
  accepted(): AcceptedEvent[]
  stats(): TestApiStats
  faults(): FaultSettings
  /** Replaces all fault settings (omitted = off). `outageSeconds` > 0 starts an outage, 0 ends one. */
  setFaults(f: Faults): void
  startOutage(seconds: number, mode?: OutageMode): void
  endOutage(): void
  /** Resolves when no outage is running and the port accepts connections again. */
  whenUp(): Promise<void>
  /** Clears recorded events (memory and record file) and counters, and restarts the fault schedule
   *  from the seed. Fault settings and a running outage are kept. */
  reset(): void
  close(): Promise<void>
  /** The Data Import side: uploaded imports and their rows. */
  dataImport: DataImportApi
}

const DEFAULT_BODY_LIMIT = 100 * 1024
const ADMIN_BODY_LIMIT = 1024 * 1024
const MAX_DUPLICATE_SAMPLES = 20
const UA_CACHE_SIZE = 4096
const REOPEN_ATTEMPTS = 200
const REOPEN_RETRY_MS = 25
/** The latency compensation never exceeds this: after a long stall, answers are not sent early. */
const MAX_LATENESS_MS = 2

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'access-control-allow-origin': '*' }
const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}
const OK_BODY = '{}'
const BOT_BODY = JSON.stringify({ message: BOT_MESSAGE })
const SERVER_ERROR_STATUSES = [500, 502, 503] as const

function errorBody(statusCode: number, message: string | string[]): string {
  return JSON.stringify({ statusCode, message, error: STATUS_TEXT[statusCode] ?? 'Error' })
}

function sendJson(res: ServerResponse, status: number, body: string, extraHeaders?: Record<string, string>): void {
  res.writeHead(status, extraHeaders === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extraHeaders })
  res.end(body)
}

/** Ends the connection with a TCP RST (ECONNRESET on the client), as a crashed or cut-off server would. */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.') || host === '::ffff:127.0.0.1'
}

function normalizeBasePath(p: string): string {
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

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

function firstListEntry(v: string | string[] | undefined): string | undefined {
  const s = headerString(v)
  if (s === undefined || s === '') return undefined
  const comma = s.indexOf(',')
  return (comma === -1 ? s : s.slice(0, comma)).trim()
}

function isJsonContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false
  const semi = ct.indexOf(';')
  return (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase() === 'application/json'
}

function emptyEndpointCounts(): Record<Endpoint, EndpointCounts> {
  return {
    '/log': { requests: 0, accepted: 0, bot: 0 },
    '/log/custom': { requests: 0, accepted: 0, bot: 0 },
    '/log/error': { requests: 0, accepted: 0, bot: 0 },
  }
}

function emptyFaultCounts(): FaultCounts {
  return { serverError: 0, rateLimit: 0, reset: 0, resetAfterStore: 0, outageReset: 0, outages: 0 }
}

interface Counters {
  requests: number
  byEndpoint: Record<Endpoint, EndpointCounts>
  accepted: number
  bot: number
  rejected: Record<string, number>
  faults: FaultCounts
  aborted: number
  unknownRoute: number
  pgTotal: number
  pgSeen: Set<string>
  pgDuplicates: string[]
}

function emptyCounters(): Counters {
  return {
    requests: 0,
    byEndpoint: emptyEndpointCounts(),
    accepted: 0,
    bot: 0,
    rejected: {},
    faults: emptyFaultCounts(),
    aborted: 0,
    unknownRoute: 0,
    pgTotal: 0,
    pgSeen: new Set(),
    pgDuplicates: [],
  }
}

type Outcome = { kind: 'accepted'; event: AcceptedEvent } | { kind: 'bot' } | { kind: 'rejected'; status: number; body: string }

interface Waiter {
  resolve: () => void
  reject: (e: Error) => void
}

export async function startTestApi(o: TestApiOptions = {}): Promise<TestApi> {
  const host = o.host ?? '127.0.0.1'
  if (!isLoopbackHost(host) && o.allowRemote !== true) {
    throw new Error(`refusing to bind the test API to non-loopback host ${host} (set allowRemote)`)
  }
  const basePath = normalizeBasePath(o.basePath ?? '/log')
  const routes = buildRoutes(basePath)
  const projects = o.projects === undefined ? null : new Set(o.projects)
  const disabledProjects = new Set(o.disabledProjects ?? [])
  const strictBots = o.strictBots === true
  const keepInMemory = o.keepInMemory !== false
  const maxInMemory = o.maxInMemory ?? Number.POSITIVE_INFINITY
  const bodyLimit = o.bodyLimitBytes ?? DEFAULT_BODY_LIMIT
  const seed = (o.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0
  let faults = normalizeFaults(o.faults)
  let random = createRandom(seed)
  let counters = emptyCounters()
  let events: AcceptedEvent[] = []
  let recordFd = o.recordFile === undefined ? null : openSync(o.recordFile, 'a', 0o600)
  const dataImport = createDataImport(o.dataImport)

  let server: Server | null = null
  const sockets = new Set<Socket>()
  const latencyTimers = new Set<NodeJS.Timeout>()
  // Timers fire late (millisecond timers, a busy loop): by 0.45-0.75 ms on average on the 2-core VM
  // under 1,400 requests/s. The average lateness seen so far is taken off each delay, which is
  // counted from the request's arrival, so answers leave on average the set latency after their
  // request arrived, as from an API that far away (the bench divides by that latency).
  let timerLatenessMs = 0
  let closed = false
  let outageUntil: number | null = null
  let outageMode: OutageMode = o.outageMode ?? 'refuse'
  let outageTimer: NodeJS.Timeout | null = null
  let reopening = false
  let waiters: Waiter[] = []
  // Real traffic repeats a few thousand UAs; caching the isbot verdict saves most of its regex cost.
  const uaVerdicts = new Map<string, boolean>()
  const uaIsBot = (ua: string): boolean => {
    let verdict = uaVerdicts.get(ua)
    if (verdict === undefined) {
      verdict = isBotUserAgent(ua)
      if (uaVerdicts.size >= UA_CACHE_SIZE) uaVerdicts.clear()
      uaVerdicts.set(ua, verdict)
    }
    return verdict
  }

  function record(event: AcceptedEvent): void {
    counters.accepted++
    counters.byEndpoint[event.endpoint].accepted++
    const pg = event.body.pg
    if (typeof pg === 'string') {
      counters.pgTotal++
      if (counters.pgSeen.has(pg)) {
        if (counters.pgDuplicates.length < MAX_DUPLICATE_SAMPLES) counters.pgDuplicates.push(pg)
      } else counters.pgSeen.add(pg)
    }
    // Written before the answer is sent, so a reader never misses an event the client saw acknowledged.
    if (recordFd !== null) writeSync(recordFd, `${JSON.stringify(event)}\n`)
    if (keepInMemory) {
      events.push(event)
      // Trim in batches so a bounded buffer stays O(1) amortised per event.
      if (events.length >= 2 * maxInMemory) events = events.slice(-maxInMemory)
    }
  }

  function rejection(status: number, message: string | string[]): Outcome {
    return { kind: 'rejected', status, body: errorBody(status, message) }
  }

  /** The real API's order: body parsing, DTO validation, bot check, project checks, store. */
  function evaluate(req: IncomingMessage, endpoint: Endpoint, raw: Buffer): Outcome {
    const headers = req.headers
    let body: unknown = {}
    // Like Express' json(): other content types leave the body empty, which then fails validation.
    if (raw.length > 0 && isJsonContentType(headers['content-type'])) {
      const text = raw.toString('utf8')
      const first = text.trimStart().charAt(0)
      if (first !== '{' && first !== '[') {
        return rejection(400, `Unexpected token '${first}', JSON body must be an object`)
      }
      try {
        body = JSON.parse(text)
      } catch (e) {
        return rejection(400, (e as Error).message)
      }
    }
    const errors = validateEventBody(endpoint, body)
    if (errors !== null) return rejection(400, errors)
    const b = body as Record<string, unknown>
    const ua = headers['user-agent']
    const bot = isBotRequest(
      {
        ua,
        accept: headers.accept,
        acceptLanguage: headers['accept-language'],
        acceptEncoding: headers['accept-encoding'],
        pg: b.pg,
      },
      strictBots,
      uaIsBot,
    )
    if (bot) return { kind: 'bot' }
    const pid = b.pid as string
    if (disabledProjects.has(pid)) return rejection(400, DISABLED_MESSAGE)
    if (projects !== null && !projects.has(pid)) return rejection(404, notFoundMessage(pid))
    const ip = firstListEntry(headers['x-client-ip-address']) ?? firstListEntry(headers['x-forwarded-for']) ?? req.socket.remoteAddress ?? ''
    return { kind: 'accepted', event: { t: Date.now(), endpoint, ip, ua: ua ?? '', body: b } }
  }

  function respond(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, raw: Buffer, fault: FaultKind, errorStatus: number): void {
    // The connection may have gone (outage, client abort) while we waited: then nothing is stored.
    if (closed || req.socket.destroyed) {
      counters.aborted++
      return
    }
    if (fault === 'serverError') {
      counters.faults.serverError++
      if (errorStatus === 500) sendJson(res, 500, errorBody(500, 'Error occured while saving the log data'))
      else {
        res.writeHead(errorStatus, { 'content-type': 'text/html', 'access-control-allow-origin': '*' })
        res.end(`<html><head><title>${errorStatus} ${STATUS_TEXT[errorStatus]}</title></head></html>\n`)
      }
      return
    }
    if (fault === 'rateLimit') {
      counters.faults.rateLimit++
      sendJson(res, 429, errorBody(429, 'Too many requests, please try again later'), {
        'retry-after': String(faults.retryAfterSeconds),
      })
      return
    }
    if (fault === 'reset') {
      counters.faults.reset++
      resetSocket(req.socket)
      return
    }
    const outcome = evaluate(req, endpoint, raw)
    if (outcome.kind === 'accepted') {
      record(outcome.event)
      if (fault === 'resetAfterStore') {
        counters.faults.resetAfterStore++
        resetSocket(req.socket)
      } else sendJson(res, 201, OK_BODY)
    } else if (outcome.kind === 'bot') {
      counters.bot++
      counters.byEndpoint[endpoint].bot++
      sendJson(res, 201, BOT_BODY)
    } else {
      const key = String(outcome.status)
      counters.rejected[key] = (counters.rejected[key] ?? 0) + 1
      sendJson(res, outcome.status, outcome.body)
    }
  }

  function onEventBody(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, raw: Buffer, arrived: number): void {
    // All draws for one request happen here, synchronously, so the schedule depends only on arrival order.
    const fault = pickFault(random(), faults)
    const errorStatus = fault === 'serverError' ? SERVER_ERROR_STATUSES[Math.floor(random() * 3)]! : 0
    const delay = faults.latencyMs + (faults.latencyJitterMs > 0 ? random() * faults.latencyJitterMs : 0)
    if (delay <= 0) {
      respond(req, res, endpoint, raw, fault, errorStatus)
      return
    }
    const armed = performance.now()
    const wait = Math.max(0, delay - (armed - arrived) - timerLatenessMs)
    const timer = setTimeout(() => {
      const late = performance.now() - armed - wait
      timerLatenessMs = Math.min(MAX_LATENESS_MS, Math.max(0, timerLatenessMs + (late - timerLatenessMs) / 32))
      latencyTimers.delete(timer)
      respond(req, res, endpoint, raw, fault, errorStatus)
    }, wait)
    latencyTimers.add(timer)
  }

  function onEventRequest(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint): void {
    const arrived = performance.now()
    counters.requests++
    counters.byEndpoint[endpoint].requests++
    if (outageUntil !== null) {
      counters.faults.outageReset++
      resetSocket(req.socket)
      return
    }
    const declared = Number(req.headers['content-length'])
    if (declared > bodyLimit) {
      tooLarge(res)
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let overLimit = false
    req.on('data', (chunk: Buffer) => {
      if (overLimit) return
      size += chunk.length
      if (size > bodyLimit) {
        overLimit = true
        chunks.length = 0
        tooLarge(res)
      } else chunks.push(chunk)
    })
    req.on('end', () => {
      if (overLimit) return
      onEventBody(req, res, endpoint, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), arrived)
    })
    req.on('error', () => {
      // Client went away mid-body; nothing to answer.
    })
  }

  function tooLarge(res: ServerResponse): void {
    counters.rejected['413'] = (counters.rejected['413'] ?? 0) + 1
    sendJson(res, 413, errorBody(413, 'request entity too large'), { connection: 'close' })
  }

  function readSmallBody(req: IncomingMessage, done: (body: unknown, error?: string) => void): void {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= ADMIN_BODY_LIMIT) chunks.push(c)
    })
    req.on('end', () => {
      if (size > ADMIN_BODY_LIMIT) return done(undefined, 'body too large')
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return done({})
      try {
        done(JSON.parse(text))
      } catch (e) {
        done(undefined, (e as Error).message)
      }
    })
    req.on('error', () => {})
  }

  function onAdminRequest(req: IncomingMessage, res: ServerResponse, path: string): void {
    const method = req.method
    if (method === 'GET' && path === '/__admin/stats') return sendJson(res, 200, JSON.stringify(api.stats()))
    if (method === 'GET' && path === '/__admin/faults') return sendJson(res, 200, JSON.stringify(faults))
    if (method === 'GET' && path === '/__admin/received') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8' })
      res.end(
        api
          .accepted()
          .map((e) => `${JSON.stringify(e)}\n`)
          .join(''),
      )
      return
    }
    if (method !== 'POST' || !['/__admin/faults', '/__admin/outage', '/__admin/reset'].includes(path)) {
      counters.unknownRoute++
      return sendJson(res, 404, errorBody(404, `Cannot ${method} ${path}`))
    }
    readSmallBody(req, (body, parseError) => {
      if (parseError !== undefined) return sendJson(res, 400, errorBody(400, parseError))
      try {
        if (path === '/__admin/faults') {
          applyFaults(body as Faults, req.socket)
          return sendJson(res, 200, JSON.stringify(faults))
        }
        if (path === '/__admin/outage') {
          const { seconds, mode } = (body ?? {}) as { seconds?: unknown; mode?: unknown }
          if (typeof seconds !== 'number' || !(seconds >= 0)) throw new RangeError('seconds must be a number >= 0')
          if (mode !== undefined && mode !== 'refuse' && mode !== 'reset') throw new RangeError('mode must be refuse or reset')
          if (seconds === 0) api.endOutage()
          else beginOutage(seconds, mode, req.socket)
          return sendJson(res, 200, JSON.stringify(api.stats().outage))
        }
        api.reset()
        return sendJson(res, 200, OK_BODY)
      } catch (e) {
        return sendJson(res, 400, errorBody(400, (e as Error).message))
      }
    })
  }

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

  function listenOnce(port: number): Promise<Server> {
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

  function isUp(): boolean {
    return !closed && outageUntil === null && server !== null && !reopening
  }

  function settleWaiters(error?: Error): void {
    const ws = waiters
    waiters = []
    for (const w of ws) {
      if (error === undefined) w.resolve()
      else w.reject(error)
    }
  }

  function closeListener(): void {
    const s = server
    server = null
    s?.close()
  }

  async function reopen(): Promise<void> {
    if (reopening) return
    reopening = true
    let lastError: Error | undefined
    for (let attempt = 0; attempt < REOPEN_ATTEMPTS; attempt++) {
      // A new refuse-outage or close() while we were retrying: stop, they own the state now.
      if (closed || (outageUntil !== null && outageMode === 'refuse')) {
        reopening = false
        return
      }
      try {
        const s = await listenOnce(port)
        if (closed || (outageUntil !== null && outageMode === 'refuse')) {
          s.close()
          s.closeAllConnections()
          reopening = false
          return
        }
        server = s
        reopening = false
        if (isUp()) settleWaiters()
        return
      } catch (e) {
        lastError = e as Error
        await new Promise((r) => setTimeout(r, REOPEN_RETRY_MS))
      }
    }
    reopening = false
    settleWaiters(new Error(`test API could not listen on port ${port} again: ${lastError?.message}`))
  }

  function applyFaults(f: Faults, spare: Socket | undefined): void {
    faults = normalizeFaults(f)
    // Validated above; an outage is an action, so it is not part of the stored settings.
    const outageSeconds = (f as Faults | null | undefined)?.outageSeconds
    if (outageSeconds !== undefined) {
      if (outageSeconds > 0) beginOutage(outageSeconds, undefined, spare)
      else api.endOutage()
    }
  }

  /** `spare`: the admin connection that asked for the outage, so it still gets its answer. */
  function beginOutage(seconds: number, mode: OutageMode | undefined, spare: Socket | undefined): void {
    if (closed) return
    if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError('outage seconds must be > 0')
    if (outageTimer !== null) clearTimeout(outageTimer)
    if (outageUntil === null) counters.faults.outages++
    outageMode = mode ?? outageMode
    outageUntil = Date.now() + seconds * 1000
    if (outageMode === 'refuse') closeListener()
    else if (server === null) void reopen()
    // Open keep-alive connections die too, as when a server process goes away.
    for (const socket of sockets) {
      if (socket === spare) continue
      counters.faults.outageReset++
      resetSocket(socket)
    }
    outageTimer = setTimeout(() => api.endOutage(), seconds * 1000)
  }

  const initial = await listenOnce(o.port ?? 0)
  server = initial
  const address = initial.address()
  if (address === null || typeof address === 'string') throw new Error('test API: unexpected listen address')
  const port = address.port
  const origin = `${o.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`

  const api: TestApi = {
    dataImport,
    url: `${origin}${basePath}`,
    port,
    origin,
    seed,
    accepted: () => (events.length > maxInMemory ? events.slice(-maxInMemory) : events.slice()),
    stats: () => ({
      seed,
      requests: counters.requests,
      byEndpoint: structuredClone(counters.byEndpoint),
      accepted: counters.accepted,
      bot: counters.bot,
      rejected: { ...counters.rejected },
      faults: { ...counters.faults },
      aborted: counters.aborted,
      unknownRoute: counters.unknownRoute,
      pg: { total: counters.pgTotal, distinct: counters.pgSeen.size, duplicates: counters.pgDuplicates.slice() },
      outage: {
        active: outageUntil !== null,
        mode: outageMode,
        endsAt: outageUntil === null ? null : new Date(outageUntil).toISOString(),
      },
      faultSettings: { ...faults },
    }),
    faults: () => ({ ...faults }),
    setFaults: (f) => applyFaults(f, undefined),
    startOutage: (seconds, mode) => beginOutage(seconds, mode, undefined),
    endOutage() {
      if (outageTimer !== null) clearTimeout(outageTimer)
      outageTimer = null
      outageUntil = null
      if (closed) return
      if (server === null) void reopen()
      else if (isUp()) settleWaiters()
    },
    whenUp() {
      if (closed) return Promise.reject(new Error('test API is closed'))
      if (isUp()) return Promise.resolve()
      return new Promise<void>((resolve, rejectUp) => waiters.push({ resolve, reject: rejectUp }))
    },
    reset() {
      counters = emptyCounters()
      events = []
      random = createRandom(seed)
      if (recordFd !== null) ftruncateSync(recordFd, 0)
    },
    async close() {
      if (closed) return
      closed = true
      if (outageTimer !== null) clearTimeout(outageTimer)
      for (const t of latencyTimers) clearTimeout(t)
      latencyTimers.clear()
      const s = server
      server = null
      const done = s === null ? Promise.resolve() : new Promise<void>((r) => s.close(() => r()))
      for (const socket of sockets) socket.destroy()
      if (recordFd !== null) closeSync(recordFd)
      recordFd = null
      settleWaiters(new Error('test API is closed'))
      await done
    },
  }

  if (o.faults?.outageSeconds !== undefined && o.faults.outageSeconds > 0) api.startOutage(o.faults.outageSeconds)
  return api
}

/** Reads a `recordFile` (from this or another process). A torn last line (writer killed mid-write)
 *  is ignored; a missing file reads as no events. */
export function readRecordFile(file: string): AcceptedEvent[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
  const out: AcceptedEvent[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      out.push(JSON.parse(line) as AcceptedEvent)
    } catch {
      // Only the last line can be torn; anything else is a bug worth seeing.
      if (!text.endsWith(line)) throw new Error(`corrupt record line in ${file}`)
    }
  }
  return out
}
