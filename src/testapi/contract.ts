// What callers of the test API see: its options, the recorded events, the counters and the handle
// `startTestApi` returns. The modules beside this one implement it; server.ts wires them.
import type { Endpoint } from '../types.js'
import type { DataImportApi, DataImportOptions } from './data-import.js'
import type { Faults, FaultSettings } from './faults.js'

/** `refuse`: the listening socket is closed (clients get ECONNREFUSED) and every open connection is reset.
 *  `reset`: the port stays open but every event request's connection is reset (admin routes still work).
 *  `hang`: the port stays open and every event request is read and never answered, not recorded
 *  (admin routes still work); the held requests stay unanswered after the outage, until their client gives up. */
export type OutageMode = 'refuse' | 'reset' | 'hang'

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
  /** Requests read and never answered, not recorded. */
  hang: number
  /** Events recorded, then never answered (also counted in `accepted`). */
  hangAfterStore: number
  /** Events recorded, then answered with a slow body (also counted in `accepted`). */
  slowBody: number
  /** Answered with a captive portal's login page, not recorded. */
  portal: number
  /** Answered `200 {"ok":true}` by a "proxy", not recorded. */
  proxyOk: number
  /** Connections/requests reset because of an outage. */
  outageReset: number
  /** Requests held unanswered because of a hang outage, not recorded. */
  outageHang: number
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
  /** Held (hung) requests whose connection is still open: a client that gave up brings it down. */
  hanging: number
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
