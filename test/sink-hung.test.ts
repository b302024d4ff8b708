// The HTTP sink against APIs that do not answer, or answer too slowly, or answer 2xx without being
// Swetrix: real local servers (node:net, node:http). What a user relies on: every attempt ends within
// --request-timeout; while the API does not answer, nothing new is written into it (the events in
// doubt are exactly the ones written before it stopped answering) and nothing is retried into it
// before a probe is answered; after it recovers every event arrives, none twice; a 2xx that is not
// Swetrix's is never counted as delivered.
import { once } from 'node:events'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpSink, DeliveryError, type HttpSinkOptions } from '../src/sink/http.js'
import type { EventSink, SendOutcome } from '../src/sink/contract.js'
import type { OutgoingEvent } from '../src/types.js'

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
  let probed!: () => void
  const firstProbe = new Promise<void>((r) => (probed = r))
  const server = createNetServer((s) => {
    sockets.add(s)
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      // one request per connection at a time: count what has arrived so far
      for (;;) {
        const m = /^(POST|OPTIONS) [^\r\n]*\r\n[\s\S]*?\r\n\r\n/.exec(text)
        if (!m) break
        if (m[1] === 'OPTIONS') {
          options++
          probed()
          text = text.slice(m[0].length)
          continue
        }
        const len = Number(/content-length: *(\d+)/i.exec(m[0])?.[1] ?? 0)
        if (text.length < m[0].length + len) break
        const body = text.slice(m[0].length, m[0].length + len)
        posts.push(String((JSON.parse(body) as { pg: string }).pg))
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
  return { url: `http://127.0.0.1:${port}/log`, posts, options: () => options, firstProbe }
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

const settleAll = (ps: Promise<SendOutcome>[]) =>
  Promise.all(
    ps.map((p) =>
      p.then(
        (o) => ({ ok: o }),
        (err: unknown) => ({ err }),
      ),
    ),
  )

describe('http sink: an API that accepts the connection and never answers', () => {
  it('each written request ends at the deadline; nothing more is written while it hangs; sends started then give up unsent', async () => {
    const api = await startSilentServer()
    const sink = sinkFor(api.url, { requestTimeoutMs: 150, maxRetryTimeMs: 500 })
    const first = [0, 1, 2, 3].map((n) => sink.send(event(n)))
    // Once the circuit is open (the first probe arrived), start four more: they must wait unsent.
    await api.firstProbe
    const later = [4, 5, 6, 7].map((n) => sink.send(event(n)))
    const results = await settleAll([...first, ...later])
    for (const r of results) expect((r as { err: unknown }).err).toBeInstanceOf(DeliveryError)
    // The four written before it hung are in doubt; the four started after are certainly not stored.
    expect(results.map((r) => ((r as { err: DeliveryError }).err as DeliveryError).maybeDelivered)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
    ])
    // Each event was written once: no retry went into the hung API, only probes.
    expect(api.posts.sort()).toEqual(['/p0', '/p1', '/p2', '/p3'])
    expect((results[4] as { err: Error }).err.message).toMatch(/answered no request for \d+ s/)
  })
})

describe('http sink: slow answers', () => {
  it('an answer that trickles in a byte every 200 ms is cut at the deadline, not counted as delivered', async () => {
    let closed = 0
    let onClose: (() => void) | undefined
    const url = await startHttp((req, _body, res) => {
      if (req.method === 'OPTIONS') return res.writeHead(204).end()
      res.writeHead(201, { 'content-type': 'application/json' })
      res.write('{')
      const t = setInterval(() => res.write(' '), 200)
      res.on('close', () => {
        clearInterval(t)
        closed++
        onClose?.()
      })
    })
    const sink = sinkFor(url, { requestTimeoutMs: 500, maxRetryTimeMs: 200 })
    const err = await sink.send(event(1)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeliveryError)
    expect((err as DeliveryError).maybeDelivered).toBe(true)
    expect((err as DeliveryError).message).toContain('SWX_REQUEST_TIMEOUT')
    // every attempt's connection was given up by the client
    const attempts = (err as DeliveryError).attempts
    await new Promise<void>((r) => {
      onClose = () => closed >= attempts && r()
      onClose()
    })
    expect(closed).toBe(attempts)
  })

  it('an API answering after the deadline gets one retry at a time after each answered probe, each counted as unanswered', async () => {
    const stored = new Map<string, number>()
    let active = 0
    let firstWaveClosed = 0
    let maxAfterFirstWave = 0
    let probesAnswered = 0
    let posts = 0
    const url = await startHttp((req, body, res) => {
      if (req.method === 'OPTIONS') {
        probesAnswered++
        return res.writeHead(204).end()
      }
      const n = ++posts
      active++
      if (firstWaveClosed === 3) maxAfterFirstWave = Math.max(maxAfterFirstWave, active)
      res.on('close', () => {
        active--
        if (n <= 3) firstWaveClosed++
      })
      setTimeout(() => {
        // stored, then answered too late: the client has given up by now
        const pg = String((JSON.parse(body) as { pg: string }).pg)
        stored.set(pg, (stored.get(pg) ?? 0) + 1)
        if (!res.destroyed) res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
      }, 300)
    })
    const sink = sinkFor(url, { requestTimeoutMs: 100, maxRetryTimeMs: 700 })
    const results = await settleAll([1, 2, 3].map((n) => sink.send(event(n))))
    for (const r of results) {
      expect((r as { err: unknown }).err).toBeInstanceOf(DeliveryError)
      expect(((r as { err: DeliveryError }).err as DeliveryError).maybeDelivered).toBe(true)
    }
    expect(posts).toBeGreaterThan(3) // retries happened
    expect(posts - 3).toBeLessThanOrEqual(probesAnswered) // each retry followed an answered probe
    expect(maxAfterFirstWave).toBeLessThanOrEqual(1) // never two retries into a slow API at once
  })
})

describe('http sink: an API that hangs for a while, then recovers', () => {
  it('events resume, none twice; only the events written while it hung were retried, and they are counted', async () => {
    let hanging = true
    let options = 0
    const hung: string[] = []
    const stored = new Map<string, number>()
    let onOptions: (() => void) | undefined
    const url = await startHttp((req, body, res) => {
      if (req.method === 'OPTIONS') {
        options++
        onOptions?.()
        if (options >= 2) hanging = false // the second probe finds it back
        if (hanging) return // held, never answered
        return res.writeHead(204).end()
      }
      const pg = String((JSON.parse(body) as { pg: string }).pg)
      if (hanging) {
        hung.push(pg) // never processed, never answered
        return
      }
      stored.set(pg, (stored.get(pg) ?? 0) + 1)
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
    })
    const sink = sinkFor(url, { requestTimeoutMs: 150 })
    const firstProbe = new Promise<void>((r) => (onOptions = r))
    const first = [0, 1, 2, 3].map((n) => sink.send(event(n)))
    await firstProbe
    const later = [4, 5, 6, 7].map((n) => sink.send(event(n)))
    const outcomes = await Promise.all([...first, ...later])
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true)
    expect(hung.sort()).toEqual(['/p0', '/p1', '/p2', '/p3'])
    expect(outcomes.map((o) => o.unansweredRetries ?? 0)).toEqual([1, 1, 1, 1, 0, 0, 0, 0])
    expect([...stored].filter(([, c]) => c !== 1)).toEqual([])
    expect(stored.size).toBe(8)
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
