// Outages of the test API and the listener they close and reopen: `refuse` closes the port (and
// resets open connections), `reset` keeps it open and resets every event request, `hang` keeps it
// open and leaves every event request unanswered. The port is reopened on the same number after a
// refuse-outage; whenUp() waiters learn when the API is reachable again.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { OutageMode, TestApiStats } from './contract.js'
import type { Counters } from './counters.js'
import type { HungRequests } from './hung-requests.js'
import { resetSocket } from './replies.js'

const REOPEN_ATTEMPTS = 200
const REOPEN_RETRY_MS = 25

export interface OutageOptions {
  /** Opens a listener on `port` (0: a free one); called again to reopen after a refuse-outage. */
  listen: (port: number) => Promise<Server>
  /** Every open connection, admin ones included. */
  sockets: ReadonlySet<Socket>
  counters: Counters
  hung: HungRequests
  mode: OutageMode
}

export interface Outage {
  /** Opens the first listener and resolves with its port, which every reopening keeps. */
  open(port: number): Promise<number>
  /** True while an outage runs (read on every event request). */
  active(): boolean
  /** The running outage's mode, or the mode the next one takes by default. */
  mode(): OutageMode
  /** An event request that arrived during an outage: reset (refuse/reset) or held unanswered (hang). */
  interceptArrival(req: IncomingMessage, res: ServerResponse): void
  /** True when an answer due now must not be sent (a hang outage runs); then the request is held. */
  holdAnswer(res: ServerResponse): boolean
  /** `spare`: the admin connection that asked for the outage, so it still gets its answer. */
  begin(seconds: number, mode: OutageMode | undefined, spare: Socket | undefined): void
  end(): void
  whenUp(): Promise<void>
  snapshot(): TestApiStats['outage']
  /** Ends any outage for good and closes the listener; resolves when it is closed. Waiters are rejected. */
  close(): Promise<void>
}

interface Waiter {
  resolve: () => void
  reject: (e: Error) => void
}

export function createOutage(o: OutageOptions): Outage {
  const { listen, sockets, counters, hung } = o
  let port = 0
  let server: Server | null = null
  let closed = false
  let until: number | null = null
  let mode: OutageMode = o.mode
  let timer: NodeJS.Timeout | null = null
  let reopening = false
  let waiters: Waiter[] = []

  const isUp = (): boolean => !closed && until === null && server !== null && !reopening

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
      if (closed || (until !== null && mode === 'refuse')) {
        reopening = false
        return
      }
      try {
        const s = await listen(port)
        if (closed || (until !== null && mode === 'refuse')) {
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

  function hold(res: ServerResponse): void {
    counters.faults.outageHang++
    hung.hold(res)
  }

  const outage: Outage = {
    async open(requested) {
      const s = await listen(requested)
      const address = s.address()
      if (address === null || typeof address === 'string') throw new Error('test API: unexpected listen address')
      server = s
      port = address.port
      return port
    },
    active: () => until !== null,
    mode: () => mode,
    interceptArrival(req, res) {
      if (mode === 'hang') {
        req.resume()
        hold(res)
      } else {
        counters.faults.outageReset++
        resetSocket(req.socket)
      }
    },
    holdAnswer(res) {
      if (until === null || mode !== 'hang') return false
      hold(res)
      return true
    },
    begin(seconds, nextMode, spare) {
      if (closed) return
      if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError('outage seconds must be > 0')
      if (timer !== null) clearTimeout(timer)
      if (until === null) counters.faults.outages++
      mode = nextMode ?? mode
      until = Date.now() + seconds * 1000
      if (mode === 'refuse') closeListener()
      else if (server === null) void reopen()
      // Open keep-alive connections die too, as when a server process goes away; a hung server keeps them.
      if (mode !== 'hang') {
        for (const socket of sockets) {
          if (socket === spare) continue
          counters.faults.outageReset++
          resetSocket(socket)
        }
      }
      timer = setTimeout(() => outage.end(), seconds * 1000)
    },
    end() {
      if (timer !== null) clearTimeout(timer)
      timer = null
      until = null
      if (closed) return
      if (server === null) void reopen()
      else if (isUp()) settleWaiters()
    },
    whenUp() {
      if (closed) return Promise.reject(new Error('test API is closed'))
      if (isUp()) return Promise.resolve()
      return new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }))
    },
    snapshot: () => ({ active: until !== null, mode, endsAt: until === null ? null : new Date(until).toISOString() }),
    close() {
      closed = true
      if (timer !== null) clearTimeout(timer)
      const s = server
      server = null
      const done = s === null ? Promise.resolve() : new Promise<void>((r) => s.close(() => r()))
      settleWaiters(new Error('test API is closed'))
      return done
    },
  }
  return outage
}
