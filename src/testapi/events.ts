// The Swetrix event routes (`POST /log`, `/log/custom`, `/log/error`): body limit, JSON parsing,
// DTO validation, the bot answer, the project checks, recording, and the counters of each outcome.
// Faults and outages are asked at the points where the real API could fail.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Endpoint } from '../types.js'
import type { AcceptedEvent } from './contract.js'
import { countRejected, type Counters } from './counters.js'
import type { FaultInjector } from './fault-injection.js'
import type { FaultKind } from './faults.js'
import type { Outage } from './outage.js'
import type { Recorder } from './recorder.js'
import { errorBody, OK_BODY, sendJson } from './replies.js'
import { BOT_MESSAGE, DISABLED_MESSAGE, isBotRequest, isBotUserAgent, notFoundMessage, validateEventBody } from './validate.js'

const UA_CACHE_SIZE = 4096
const BOT_BODY = JSON.stringify({ message: BOT_MESSAGE })

export interface EventRoutesOptions {
  /** Known project ids; null = every well-formed pid. */
  projects: ReadonlySet<string> | null
  disabledProjects: ReadonlySet<string>
  strictBots: boolean
  bodyLimitBytes: number
  counters: Counters
  recorder: Recorder
  injector: FaultInjector
  outage: Outage
  /** True once the test API is closing: nothing more is answered or stored. */
  isClosed: () => boolean
}

type Outcome = { kind: 'accepted'; event: AcceptedEvent } | { kind: 'bot' } | { kind: 'rejected'; status: number; body: string }

function firstListEntry(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v.join(', ') : v
  if (s === undefined || s === '') return undefined
  const comma = s.indexOf(',')
  return (comma === -1 ? s : s.slice(0, comma)).trim()
}

function isJsonContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false
  const semi = ct.indexOf(';')
  return (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase() === 'application/json'
}

function rejection(status: number, message: string | string[]): Outcome {
  return { kind: 'rejected', status, body: errorBody(status, message) }
}

/** Returns the handler of one event request on `endpoint`. */
export function createEventRoutes(o: EventRoutesOptions): (req: IncomingMessage, res: ServerResponse, endpoint: Endpoint) => void {
  const { projects, disabledProjects, strictBots, bodyLimitBytes, counters, recorder, injector, outage, isClosed } = o
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

  /** The real API's order: body parsing, DTO validation, bot check, project checks. */
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
    if (isClosed() || req.socket.destroyed) {
      counters.aborted++
      return
    }
    if (outage.holdAnswer(res)) return
    if (fault !== 'none' && injector.answerBeforeStore(fault, errorStatus, req, res)) return
    const outcome = evaluate(req, endpoint, raw)
    if (outcome.kind === 'accepted') {
      recorder.record(outcome.event)
      counters.byEndpoint[endpoint].accepted++
      if (fault === 'none' || !injector.answerAfterStore(fault, req, res)) sendJson(res, 201, OK_BODY)
    } else if (outcome.kind === 'bot') {
      counters.bot++
      counters.byEndpoint[endpoint].bot++
      sendJson(res, 201, BOT_BODY)
    } else {
      countRejected(counters, outcome.status)
      sendJson(res, outcome.status, outcome.body)
    }
  }

  function onBody(req: IncomingMessage, res: ServerResponse, endpoint: Endpoint, raw: Buffer, arrived: number): void {
    const fault = injector.pick()
    const errorStatus = fault === 'serverError' ? injector.serverErrorStatus() : 0
    const delay = injector.latency()
    if (delay <= 0) respond(req, res, endpoint, raw, fault, errorStatus)
    else injector.after(delay, arrived, () => respond(req, res, endpoint, raw, fault, errorStatus))
  }

  function tooLarge(res: ServerResponse): void {
    countRejected(counters, 413)
    sendJson(res, 413, errorBody(413, 'request entity too large'), { connection: 'close' })
  }

  return function onEventRequest(req, res, endpoint) {
    const arrived = performance.now()
    counters.requests++
    counters.byEndpoint[endpoint].requests++
    if (outage.active()) {
      outage.interceptArrival(req, res)
      return
    }
    const declared = Number(req.headers['content-length'])
    if (declared > bodyLimitBytes) {
      tooLarge(res)
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let overLimit = false
    req.on('data', (chunk: Buffer) => {
      if (overLimit) return
      size += chunk.length
      if (size > bodyLimitBytes) {
        overLimit = true
        chunks.length = 0
        tooLarge(res)
      } else chunks.push(chunk)
    })
    req.on('end', () => {
      if (overLimit) return
      onBody(req, res, endpoint, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), arrived)
    })
    req.on('error', () => {
      // Client went away mid-body; nothing to answer.
    })
  }
}
