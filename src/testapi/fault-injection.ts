// Applies the seeded fault schedule to one event request: the draws (which fault, which 5xx, how
// much latency), the latency timers, and the faulty answers themselves (errors, 429, resets, hangs,
// slow bodies, a captive portal, a proxy that is not Swetrix).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Counters } from './counters.js'
import { createRandom, normalizeFaults, pickFault, type FaultKind, type Faults, type FaultSettings } from './faults.js'
import type { HungRequests } from './hung-requests.js'
import { errorBody, JSON_HEADERS, OK_BODY, resetSocket, sendJson, STATUS_TEXT } from './replies.js'

/** The latency compensation never exceeds this: after a long stall, answers are not sent early. */
const MAX_LATENESS_MS = 2
const SERVER_ERROR_STATUSES = [500, 502, 503] as const
const PORTAL_PAGE =
  '<!DOCTYPE html><html><head><title>Network login</title></head><body><h1>Welcome to the guest network</h1>' +
  '<form method="post" action="/login"><p>Please log in to continue.</p><input name="user"><input name="password" type="password">' +
  '<button>Log in</button></form></body></html>\n'
const PROXY_OK_BODY = '{"ok":true}'

export interface FaultInjector {
  settings(): FaultSettings
  /** Validates and replaces every setting (omitted = off); `outageSeconds` is the caller's. */
  configure(f: Faults | undefined): void
  /** Starts the schedule again from `seed`. */
  restart(seed: number): void
  // All draws for one request happen synchronously when its body is complete (pick, then
  // serverErrorStatus when it is a server error, then latency), so the schedule depends only on the
  // arrival order.
  pick(): FaultKind
  serverErrorStatus(): number
  latency(): number
  /** Runs `answer` `delayMs` after `arrivedAt` (performance.now()), late timers compensated. */
  after(delayMs: number, arrivedAt: number, answer: () => void): void
  /** Answers a fault that comes before the event is stored; false when `fault` is not one. */
  answerBeforeStore(fault: FaultKind, errorStatus: number, req: IncomingMessage, res: ServerResponse): boolean
  /** Answers a fault that comes after the event was stored; false when `fault` is not one. */
  answerAfterStore(fault: FaultKind, req: IncomingMessage, res: ServerResponse): boolean
  /** Clears every pending latency and slow-body timer. */
  close(): void
}

export function createFaultInjector(seed: number, initial: Faults | undefined, counters: Counters, hung: HungRequests): FaultInjector {
  let faults = normalizeFaults(initial)
  let random = createRandom(seed)
  const timers = new Set<NodeJS.Timeout>()
  // Timers fire late (millisecond timers, a busy loop): by 0.45-0.75 ms on average on the 2-core VM
  // under 1,400 requests/s. The average lateness seen so far is taken off each delay, which is
  // counted from the request's arrival, so answers leave on average the set latency after their
  // request arrived, as from an API that far away (the bench divides by that latency).
  let timerLatenessMs = 0

  /** Headers at once, then one byte of `{}` every `slowBodyByteMs` (Content-Length set, so the client waits for both). */
  function slowBody(res: ServerResponse): void {
    res.writeHead(201, { ...JSON_HEADERS, 'content-length': String(OK_BODY.length) })
    res.flushHeaders()
    let sent = 0
    const step = (): void => {
      timers.delete(timer)
      const byte = OK_BODY.charAt(sent++)
      if (sent === OK_BODY.length) return void res.end(byte)
      res.write(byte)
      timer = setTimeout(step, faults.slowBodyByteMs)
      timers.add(timer)
    }
    let timer = setTimeout(step, faults.slowBodyByteMs)
    timers.add(timer)
    res.once('close', () => {
      clearTimeout(timer)
      timers.delete(timer)
    })
  }

  return {
    settings: () => faults,
    configure(f) {
      faults = normalizeFaults(f)
    },
    restart(s) {
      random = createRandom(s)
    },
    pick: () => pickFault(random(), faults),
    serverErrorStatus: () => SERVER_ERROR_STATUSES[Math.floor(random() * 3)]!,
    latency: () => faults.latencyMs + (faults.latencyJitterMs > 0 ? random() * faults.latencyJitterMs : 0),
    after(delayMs, arrivedAt, answer) {
      const armed = performance.now()
      const wait = Math.max(0, delayMs - (armed - arrivedAt) - timerLatenessMs)
      const timer = setTimeout(() => {
        const late = performance.now() - armed - wait
        timerLatenessMs = Math.min(MAX_LATENESS_MS, Math.max(0, timerLatenessMs + (late - timerLatenessMs) / 32))
        timers.delete(timer)
        answer()
      }, wait)
      timers.add(timer)
    },
    answerBeforeStore(fault, errorStatus, req, res) {
      switch (fault) {
        case 'serverError':
          counters.faults.serverError++
          if (errorStatus === 500) sendJson(res, 500, errorBody(500, 'Error occured while saving the log data'))
          else {
            res.writeHead(errorStatus, { 'content-type': 'text/html', 'access-control-allow-origin': '*' })
            res.end(`<html><head><title>${errorStatus} ${STATUS_TEXT[errorStatus]}</title></head></html>\n`)
          }
          return true
        case 'rateLimit':
          counters.faults.rateLimit++
          sendJson(res, 429, errorBody(429, 'Too many requests, please try again later'), { 'retry-after': String(faults.retryAfterSeconds) })
          return true
        case 'reset':
          counters.faults.reset++
          resetSocket(req.socket)
          return true
        case 'hang':
          counters.faults.hang++
          hung.hold(res)
          return true
        case 'portal':
          counters.faults.portal++
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
          res.end(PORTAL_PAGE)
          return true
        case 'proxyOk':
          counters.faults.proxyOk++
          sendJson(res, 200, PROXY_OK_BODY)
          return true
        default:
          return false
      }
    },
    answerAfterStore(fault, req, res) {
      switch (fault) {
        case 'resetAfterStore':
          counters.faults.resetAfterStore++
          resetSocket(req.socket)
          return true
        case 'hangAfterStore':
          counters.faults.hangAfterStore++
          hung.hold(res)
          return true
        case 'slowBody':
          counters.faults.slowBody++
          slowBody(res)
          return true
        default:
          return false
      }
    },
    close() {
      for (const t of timers) clearTimeout(t)
      timers.clear()
    },
  }
}
