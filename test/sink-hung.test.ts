// The HTTP sink against APIs that do not answer, or answer too slowly, or answer 2xx without being
// Swetrix: real local servers (node:net, node:http). What a user relies on: every attempt ends within
// --request-timeout; a request written and left unanswered that long is reported unanswered (the
// event is uncertain) and never sent again, since the API may have stored it; while the API does not
// answer nothing new is written into it, and once a trial after an answered probe timed out too, at
// most `connections` + 1 events are in doubt and the rest give up unsent at --max-retry-time; after
// it recovers the other events arrive, none twice; a 2xx that is not Swetrix's is never counted as
// delivered.
import { once } from 'node:events'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpSink, DeliveryError, type HttpSinkOptions } from '../src/sink/http.js'
import type { EventSink, SendOutcome } from '../src/sink/contract.js'
import type { OutgoingEvent } from '../src/types.js'

/** The sink's probe: a POST without a pid, which Swetrix refuses (400) before storing anything. */
const isProbe = (body: string) => body === '{}'
const PROBE_ANSWER = JSON.stringify({ statusCode: 400, message: ['The provided Project ID (pid) is incorrect'], error: 'Bad Request' })

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

const PID = 'AbCdEf123456'
const event = (n: number): OutgoingEvent => ({
  kind: 'pageview',
  endpoint: '/log',
  headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0', 'X-Forwarded-For': '203.0.113.7' },
  body: { pid: PID, pg: `/p${n}` },
})

function sinkFor(url: string, extra: Partial<HttpSinkOptions>): EventSink {
  const sink = createHttpSink({ apiUrl: url, minRetryDelayMs: 1, maxRetryDelayMs: 5, connections: 16, ...extra })
  cleanups.push(() => sink.close())
  return sink
}

/** Accepts connections, reads every request, never answers. Counts request lines by method and the
 *  pages the POSTs carried. */
async function startSilentServer() {
  const sockets = new Set<Socket>()
  const posts: string[] = []
  let options = 0
  const server = createNetServer((s) => {
    sockets.add(s)
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      // one request per connection at a time: count what has arrived so far
      for (;;) {
        const m = /^POST [^\r\n]*\r\n[\s\S]*?\r\n\r\n/.exec(text)
        if (!m) break
        const len = Number(/content-length: *(\d+)/i.exec(m[0])?.[1] ?? 0)
        if (text.length < m[0].length + len) break
        const body = text.slice(m[0].length, m[0].length + len)
        if (isProbe(body)) options++
        else posts.push(String((JSON.parse(body) as { pg: string }).pg))
        text = text.slice(m[0].length + len)
      }
    })
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  )
  return { url: `http://127.0.0.1:${port}/log`, posts, options: () => options }
}

async function startHttp(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('latin1')))
    req.on('end', () => handle(req, body, res))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`
}

type Result = { ok: SendOutcome } | { err: unknown }

/** Sends `events` the way the delivery engine does: `slots` sends at a time, the next one starting as
 *  soon as one ends, and none started after the first failure (the run stops on it). The result of
 *  each event by index; undefined: never sent. */
async function sendLikeEngine(sink: EventSink, events: OutgoingEvent[], slots: number): Promise<(Result | undefined)[]> {
  const results: (Result | undefined)[] = events.map(() => undefined)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < events.length) {
      const i = next++
      results[i] = await sink.send(events[i]!).then(
        (ok) => ({ ok }),
        (err: unknown) => {
          failed = true
          return { err }
        },
      )
    }
  }
  await Promise.all(Array.from({ length: slots }, worker))
  return results
}

const outcomeOf = (r: Result | undefined) => (r !== undefined && 'ok' in r ? r.ok.kind : undefined)
const errorOf = (r: Result | undefined) => (r !== undefined && 'err' in r ? r.err : undefined)

describe('http sink: an API that accepts the connection and never answers', () => {
  it('each written request ends at the deadline as unanswered, written once; nothing more is written while it hangs; later sends give up unsent', async () => {
    const api = await startSilentServer()
    const sink = sinkFor(api.url, { requestTimeoutMs: 150, maxRetryTimeMs: 500, connections: 4 })
    const results = await sendLikeEngine(
      sink,
      Array.from({ length: 12 }, (_, n) => event(n)),
      4,
    )
    // The four written before it hung are in doubt (the API may have them) and are not retried.
    expect(results.slice(0, 4).map(outcomeOf)).toEqual(['unanswered', 'unanswered', 'unanswered', 'unanswered'])
    // The four started after it went silent waited, unsent, and gave up: certainly not stored, so the
    // next run sends them.
    for (const r of results.slice(4, 8)) {
      expect(errorOf(r)).toBeInstanceOf(DeliveryError)
      expect((errorOf(r) as DeliveryError).maybeDelivered).toBe(false)
    }
    expect((errorOf(results[4]) as Error).message).toMatch(/answered no request for \d+ s/)
    expect(results.slice(8)).toEqual([undefined, undefined, undefined, undefined])
    // Each written event was written once: only probes went into the hung API after it.
    expect(api.posts.sort()).toEqual(['/p0', '/p1', '/p2', '/p3'])
    expect(api.options()).toBeGreaterThan(0)
  })
})

describe('http sink: slow answers', () => {
  it('an answer that trickles in a byte every 50 ms is cut at the deadline: unanswered, not delivered, not sent again', async () => {
    let posts = 0
    let closed!: () => void
    const connectionClosed = new Promise<void>((r) => (closed = r))
    const url = await startHttp((_req, body, res) => {
      if (isProbe(body)) return res.writeHead(400, { 'content-type': 'application/json' }).end(PROBE_ANSWER)
      posts++
      res.writeHead(201, { 'content-type': 'application/json' })
      res.write('{')
      const t = setInterval(() => res.write(' '), 50)
      res.on('close', () => {
        clearInterval(t)
        closed()
      })
    })
    const sink = sinkFor(url, { requestTimeoutMs: 300, maxRetryTimeMs: 200 })
    const outcome = await sink.send(event(1))
    expect(outcome).toEqual({ kind: 'unanswered', status: 0, attempts: 1 })
    // The client gave the connection up (the trickle would otherwise go on for ever).
    await connectionClosed
    expect(posts).toBe(1)
  })

  it('an API that stores every event but answers after the deadline (its probes at once): at most connections + 1 in doubt, the rest unsent', async () => {
    const stored = new Map<string, number>()
    let probesAnswered = 0
    const url = await startHttp((req, body, res) => {
      if (isProbe(body)) {
        probesAnswered++
        return res.writeHead(400, { 'content-type': 'application/json' }).end(PROBE_ANSWER)
      }
      const pg = String((JSON.parse(body) as { pg: string }).pg)
      stored.set(pg, (stored.get(pg) ?? 0) + 1)
      // Answered too late: the client has given up by then.
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
      }, 300)
    })
    const connections = 3
    const sink = sinkFor(url, { requestTimeoutMs: 100, maxRetryTimeMs: 500, connections })
    const results = await sendLikeEngine(
      sink,
      Array.from({ length: 10 }, (_, n) => event(n)),
      connections,
    )
    const unanswered = results.flatMap((r, i) => (outcomeOf(r) === 'unanswered' ? [`/p${i}`] : []))
    // The first wave (one per connection) and the one trial after an answered probe.
    expect(unanswered).toEqual(['/p0', '/p1', '/p2', '/p3'])
    expect(probesAnswered).toBe(1) // after the trial timed out, nothing more is probed or tried during the cooldown (30 s)
    expect([...stored.keys()].sort()).toEqual(unanswered) // exactly the events in doubt reached the API
    expect([...stored.values()].every((n) => n === 1)).toBe(true) // none twice
    // Every other event that was started gave up unsent, or was never started.
    for (const r of results.slice(4)) {
      if (r === undefined) continue
      expect(errorOf(r)).toBeInstanceOf(DeliveryError)
      expect((errorOf(r) as DeliveryError).maybeDelivered).toBe(false)
    }
  })
})

describe('http sink: an API that hangs for a while, then recovers', () => {
  it('events resume, none twice; the events written while it hung are unanswered and never sent again', async () => {
    let hanging = true
    let options = 0
    const hung: string[] = []
    const stored = new Map<string, number>()
    const url = await startHttp((req, body, res) => {
      if (isProbe(body)) {
        if (++options >= 2) hanging = false // the second probe finds it back
        if (hanging) return // held, never answered
        return res.writeHead(400, { 'content-type': 'application/json' }).end(PROBE_ANSWER)
      }
      const pg = String((JSON.parse(body) as { pg: string }).pg)
      if (hanging) {
        hung.push(pg) // never processed, never answered
        return
      }
      stored.set(pg, (stored.get(pg) ?? 0) + 1)
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
    })
    const sink = sinkFor(url, { requestTimeoutMs: 150, connections: 4 })
    const results = await sendLikeEngine(
      sink,
      Array.from({ length: 12 }, (_, n) => event(n)),
      4,
    )
    expect(results.map(outcomeOf)).toEqual([...Array<string>(4).fill('unanswered'), ...Array<string>(8).fill('accepted')])
    expect(hung.sort()).toEqual(['/p0', '/p1', '/p2', '/p3'])
    expect(results.map((r) => (r !== undefined && 'ok' in r ? (r.ok.unansweredRetries ?? 0) : -1))).toEqual(Array<number>(12).fill(0))
    expect([...stored].filter(([, c]) => c !== 1)).toEqual([])
    expect([...stored.keys()].sort()).toEqual(Array.from({ length: 8 }, (_, i) => `/p${i + 4}`).sort())
  })
})

describe('http sink: a 2xx that is not Swetrix', () => {
  it.each([
    ['text/html', '<html><head><title>Welcome to Hotel Wi-Fi</title></head><body>Please sign in</body></html>'],
    ['application/json', '{"ok":true}'],
  ])('200 %s %s is retried, never accepted, and ends in one clear message saying nothing was recorded', async (type, body) => {
    let posts = 0
    const url = await startHttp((req, _b, res) => {
      if (req.method === 'POST') posts++
      res.writeHead(200, { 'content-type': type }).end(body)
    })
    const retries: number[] = []
    const sink = sinkFor(url, { maxRetryTimeMs: 100, onRetry: (i) => retries.push(i.status ?? 0) })
    const err = await sink.send(event(1)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeliveryError)
    const e = err as DeliveryError
    expect(e.maybeDelivered).toBe(false) // the next run sends it
    expect(e.lastStatus).toBe(200)
    expect(e.message).toContain('not an answer of the Swetrix API')
    expect(e.message).toContain('nothing was recorded')
    expect(e.message).not.toContain('\n')
    expect(posts).toBeGreaterThan(1)
    expect(retries.every((s) => s === 200)).toBe(true)
  })
})
