// The `/__admin/*` routes: stats, received events (NDJSON), fault settings, outages and reset, as
// HTTP for a test API running in another process (main.ts).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { OutageMode, TestApi } from './contract.js'
import type { Counters } from './counters.js'
import type { Faults } from './faults.js'
import { errorBody, OK_BODY, sendJson } from './replies.js'

const ADMIN_BODY_LIMIT = 1024 * 1024
const OUTAGE_MODES: readonly unknown[] = ['refuse', 'reset', 'hang'] satisfies OutageMode[]

/** What the admin routes act on; `spare` is the admin request's own connection (an outage spares it). */
export interface AdminControls {
  api: Pick<TestApi, 'stats' | 'accepted' | 'faults' | 'reset' | 'endOutage'>
  setFaults(f: Faults, spare: Socket): void
  startOutage(seconds: number, mode: OutageMode | undefined, spare: Socket): void
  counters: Counters
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

/** Returns the handler of a request whose path starts with `/__admin/`. */
export function createAdminRoutes(c: AdminControls): (req: IncomingMessage, res: ServerResponse, path: string) => void {
  const { api, counters } = c
  return function onAdminRequest(req, res, path) {
    const method = req.method
    if (method === 'GET' && path === '/__admin/stats') return sendJson(res, 200, JSON.stringify(api.stats()))
    if (method === 'GET' && path === '/__admin/faults') return sendJson(res, 200, JSON.stringify(api.faults()))
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
          c.setFaults(body as Faults, req.socket)
          return sendJson(res, 200, JSON.stringify(api.faults()))
        }
        if (path === '/__admin/outage') {
          const { seconds, mode } = (body ?? {}) as { seconds?: unknown; mode?: unknown }
          if (typeof seconds !== 'number' || !(seconds >= 0)) throw new RangeError('seconds must be a number >= 0')
          if (mode !== undefined && !OUTAGE_MODES.includes(mode)) throw new RangeError('mode must be refuse, reset or hang')
          if (seconds === 0) api.endOutage()
          else c.startOutage(seconds, mode as OutageMode | undefined, req.socket)
          return sendJson(res, 200, JSON.stringify(api.stats().outage))
        }
        api.reset()
        return sendJson(res, 200, OK_BODY)
      } catch (e) {
        return sendJson(res, 400, errorBody(400, (e as Error).message))
      }
    })
  }
}
