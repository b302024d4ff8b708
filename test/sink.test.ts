import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpSink, DeliveryError, endpointUrls, FatalApiError, parseRetryAfter, SendStoppedError } from '../src/sink/http.js'
import type { EventSink, HttpSinkOptions, RetryInfo } from '../src/sink/http.js'
import { createRateLimiter } from '../src/sink/rate.js'
import { Pool } from '../src/sink/undici.js'
import { openNdjsonAppender } from '../src/sink/ndjson.js'
import { createStdoutSink } from '../src/sink/stdout.js'
import type { OutgoingEvent } from '../src/types.js'

// ---- a tiny controllable Events API ----

interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: string
}
type Handler = (req: Received, res: ServerResponse, n: number) => void

interface TestServer {
  url: string
  port: number
  received: Received[]
  handle: Handler
  close(): Promise<void>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(text)
}

async function startServer(handle: Handler, port = 0): Promise<TestServer> {
  const received: Received[] = []
  const state: TestServer = {
    url: '',
    port: 0,
    received,
    handle,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('latin1') }
      received.push(r)
      state.handle(r, res, received.length)
    })
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()))
  state.port = (server.address() as AddressInfo).port
  state.url = `http://127.0.0.1:${state.port}/log`
  cleanups.push(() => state.close())
  return state
}

function sinkFor(url: string, extra: Partial<HttpSinkOptions> = {}): EventSink {
  const sink = createHttpSink({ apiUrl: url, minRetryDelayMs: 1, maxRetryDelayMs: 5, ...extra })
  cleanups.push(() => sink.close())
  return sink
}

const PID = 'AbCdEf123456'
function pageview(extra: Partial<OutgoingEvent> = {}): OutgoingEvent {
  return {
    kind: 'pageview',
    endpoint: '/log',
    headers: {
      'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
      'X-Forwarded-For': '203.0.113.7',
      'X-Client-IP-Address': '203.0.113.7',
      Accept: 'text/html',
      'Accept-Language': 'en-US,en;q=0.9',
    },
    body: { pid: PID, pg: '/products/1' },
    ...extra,
  }
}

/** Records requested sleeps and returns at once (backoff and Retry-After without real waiting). */
function fakeSleep() {
  const slept: number[] = []
  return {
    slept,
    sleep: (ms: number, signal?: AbortSignal) => {
      if (signal?.aborted) return Promise.reject(signal.reason as Error)
      slept.push(ms)
      return Promise.resolve()
    },
  }
}

// ---- tests ----

describe('undici dispatchers', () => {
  it("Pool, loaded without fetch, is the package entry's own class (an undici upgrade that moves it fails here)", async () => {
    expect(Pool).toBe((await import('undici')).Pool)
  })
})

describe('http sink: request shape', () => {
  it('posts the JSON body with the visitor headers to the endpoint URL', async () => {
    const api = await startServer((_r, res) => reply(res, 201, {}))
    const sink = sinkFor(`${api.url}/`) // a trailing slash must not double up
    await sink.send(pageview())
    await sink.send(pageview({ kind: 'custom', endpoint: '/log/custom', body: { pid: PID, ev: 'signup' } }))
    await sink.send(pageview({ kind: 'error', endpoint: '/log/error', body: { pid: PID, name: 'HTTP 500' } }))
    expect(api.received.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /log', 'POST /log/custom', 'POST /log/error'])
    const first = api.received[0]!
    expect(JSON.parse(first.body)).toEqual({ pid: PID, pg: '/products/1' })
    expect(first.headers['content-type']).toBe('application/json')
    expect(first.headers['user-agent']).toBe('Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0')
    expect(first.headers['x-forwarded-for']).toBe('203.0.113.7')
    expect(first.headers['x-client-ip-address']).toBe('203.0.113.7')
    expect(first.headers['accept-encoding']).toBe('identity')
    expect(first.headers['accept-language']).toBe('en-US,en;q=0.9')
  })

  it('sends a Latin-1 User-Agent as its raw bytes', async () => {
    const api = await startServer((_r, res) => reply(res, 201, {}))
    const ua = 'Agent/1.0 (caf\u00e9)' // byte 0xE9 in the log
    await sinkFor(api.url).send(pageview({ headers: { 'User-Agent': ua } }))
    expect(Buffer.from(api.received[0]!.headers['user-agent']!, 'latin1')).toEqual(
      Buffer.from([...'Agent/1.0 (caf'].map((c) => c.charCodeAt(0)).concat([0xe9, 0x29])),
    )
  })

  it('dead-letters an event whose header the HTTP client refuses, without sending it', async () => {
    const api = await startServer((_r, res) => reply(res, 201, {}))
    const outcome = await sinkFor(api.url).send(pageview({ headers: { 'User-Agent': 'bad\r\nInjected: 1' } }))
    expect(outcome).toMatchObject({ kind: 'dead', status: 0, attempts: 1 })
    expect(api.received.length).toBe(0)
  })

  it('maps endpoints without double slashes', () => {
    expect(endpointUrls('https://api.swetrix.com/log/')).toEqual({
      '/log': 'https://api.swetrix.com/log',
      '/log/custom': 'https://api.swetrix.com/log/custom',
      '/log/error': 'https://api.swetrix.com/log/error',
    })
  })
})

describe('http sink: classification', () => {
  it('accepted on 201 {}, bot on the bot message (also gzipped), dead on other 4xx', async () => {
    const api = await startServer((r, res) => {
      const pg = JSON.parse(r.body).pg as string
      if (pg === '/ok') return reply(res, 201, {})
      if (pg === '/bot') return reply(res, 201, { message: 'Bot traffic detected, request is ignored' })
      if (pg === '/bot-gz') {
        res.writeHead(201, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
        return res.end(gzipSync(JSON.stringify({ message: 'Bot traffic detected, request is ignored' })))
      }
      if (pg === '/long') return reply(res, 400, { statusCode: 400, message: ['qs must be shorter than or equal to 2048 characters'], error: 'Bad Request' })
      if (pg === '/big') return reply(res, 413, 'request entity too large')
      if (pg === '/ip') return reply(res, 400, { statusCode: 400, message: 'Incoming analytics is disabled for this IP address' })
      return reply(res, 403, { statusCode: 403, message: 'Forbidden' })
    })
    const sink = sinkFor(api.url)
    const send = (pg: string) => sink.send(pageview({ body: { pid: PID, pg } }))
    expect(await send('/ok')).toEqual({ kind: 'accepted', status: 201, attempts: 1 })
    expect(await send('/bot')).toEqual({ kind: 'bot', status: 201, attempts: 1 })
    expect(await send('/bot-gz')).toEqual({ kind: 'bot', status: 201, attempts: 1 })
    expect(await send('/long')).toMatchObject({ kind: 'dead', status: 400, attempts: 1 })
    expect(((await send('/long')) as { body: string }).body).toContain('qs must be shorter')
    expect(await send('/big')).toMatchObject({ kind: 'dead', status: 413 })
    expect(await send('/ip')).toMatchObject({ kind: 'dead', status: 400 })
    expect(await send('/other')).toMatchObject({ kind: 'dead', status: 403 })
  })

  it.each([
    [404, { statusCode: 404, message: `Project ${PID} was not found in the database`, error: 'Not Found' }],
    [400, { statusCode: 400, message: 'The provided Project ID (pid) is incorrect', error: 'Bad Request' }],
    [400, { statusCode: 400, message: 'Incoming analytics is disabled for this project' }],
    [400, { statusCode: 400, message: "This origin is prohibited by the project's origins policy" }],
    [404, { statusCode: 404, message: 'Cannot POST /wrong/log', error: 'Not Found' }],
    [401, { statusCode: 401, message: 'Unauthorized' }],
    [402, { statusCode: 402, message: 'Payment Required' }],
  ])('stops the run on HTTP %i %j with a one-line message naming the project and URL', async (status, body) => {
    const api = await startServer((_r, res) => reply(res, status, body))
    const err = await sinkFor(api.url)
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FatalApiError)
    const fatal = err as FatalApiError
    expect(fatal.message).toContain(PID)
    expect(fatal.message).toContain(api.url)
    expect(fatal.message).not.toContain('\n')
    expect(fatal.status).toBe(status)
    expect(fatal.maybeDelivered).toBe(false)
    expect(api.received.length).toBe(1)
  })

  it('stops the run when the API URL redirects instead of dead-lettering every event', async () => {
    const api = await startServer((_r, res) => reply(res, 301, '', { location: 'https://api.example.com/log' }))
    await expect(sinkFor(api.url).send(pageview())).rejects.toThrow(/redirect to https:\/\/api\.example\.com\/log/)
  })

  it('decodes a gzipped fatal answer (self-hosted nginx compresses 404s)', async () => {
    const api = await startServer((_r, res) => {
      res.writeHead(404, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      res.end(gzipSync(JSON.stringify({ statusCode: 404, message: `Project ${PID} was not found in the database` })))
    })
    await expect(sinkFor(api.url).send(pageview())).rejects.toThrow(/was not found/)
  })
})

describe('http sink: retries', () => {
  it.each([500, 502, 503, 504, 408, 429])('retries HTTP %i with a growing backoff and then succeeds', async (status) => {
    const at: number[] = []
    const api = await startServer((_r, res, n) => {
      at.push(performance.now())
      return n < 4 ? reply(res, status, { message: 'Error occured while saving the log data' }) : reply(res, 201, {})
    })
    const retries: RetryInfo[] = []
    const outcome = await sinkFor(api.url, { onRetry: (i) => retries.push(i), minRetryDelayMs: 10, maxRetryDelayMs: 40 }).send(pageview())
    expect(outcome).toEqual({ kind: 'accepted', status: 201, attempts: 4 })
    expect(retries.map((r) => [r.attempt, r.status])).toEqual([
      [1, status],
      [2, status],
      [3, status],
    ])
    // p-retry's backoff: min x 2^k jittered upwards, capped at max, so the gaps are at least 10, 20, 40 ms.
    const gaps = at.slice(1).map((t, i) => t - at[i]!)
    expect(gaps[0]).toBeGreaterThanOrEqual(9)
    expect(gaps[1]).toBeGreaterThanOrEqual(19)
    expect(gaps[2]).toBeGreaterThanOrEqual(39)
    expect(new Set(api.received.map((r) => r.body)).size).toBe(1) // the same request each time
  })

  it('waits at least Retry-After seconds before the next attempt', async () => {
    const api = await startServer((_r, res, n) => (n === 1 ? reply(res, 503, {}, { 'retry-after': '7' }) : reply(res, 201, {})))
    const { sleep, slept } = fakeSleep()
    const outcome = await sinkFor(api.url, { sleep }).send(pageview())
    expect(outcome.attempts).toBe(2)
    expect(slept).toEqual([7000])
  })

  it('honours a Retry-After HTTP date on 429', async () => {
    const at = new Date(Date.now() + 20_000).toUTCString()
    const api = await startServer((_r, res, n) => (n === 1 ? reply(res, 429, { message: 'Too many requests' }, { 'retry-after': at }) : reply(res, 201, {})))
    const { sleep, slept } = fakeSleep()
    await sinkFor(api.url, { sleep }).send(pageview())
    expect(slept[0]).toBeGreaterThan(15_000)
    expect(slept[0]).toBeLessThanOrEqual(20_000)
    expect(parseRetryAfter('garbage')).toBeUndefined()
    expect(parseRetryAfter(' 3 ')).toBe(3000)
  })

  it('retries a connection reset by the server', async () => {
    const api = await startServer((r, res, n) => {
      if (n === 1) res.socket!.destroy()
      else reply(res, 201, {})
    })
    const retries: RetryInfo[] = []
    const outcome = await sinkFor(api.url, { onRetry: (i) => retries.push(i) }).send(pageview())
    // The request was written and got no answer: the retry may duplicate, and is counted as such.
    expect(outcome).toMatchObject({ kind: 'accepted', attempts: 2, unansweredRetries: 1 })
    expect(retries[0]!.status).toBeUndefined()
    expect(retries[0]!.error).toMatch(/^(ECONNRESET|UND_ERR_SOCKET)/)
    expect(retries[0]!.unanswered).toBe(true)
  })

  it('retries a refused connection until the API comes up', async () => {
    const probe = await startServer(() => {})
    const port = probe.port
    await probe.close()
    let api: TestServer | undefined
    const retries: RetryInfo[] = []
    let starting: Promise<TestServer> | undefined
    const sink = sinkFor(`http://127.0.0.1:${port}/log`, {
      onRetry: (i) => {
        retries.push(i)
        // the API comes up during the backoff (further refused attempts are retried as well)
        starting ??= startServer((_r, res) => reply(res, 201, {}), port).then((s) => (api = s))
      },
    })
    const outcome = await sink.send(pageview())
    expect(retries[0]!.error).toContain('ECONNREFUSED')
    expect(retries[0]!.unanswered).toBeUndefined()
    expect(outcome).toMatchObject({ kind: 'accepted' })
    expect(outcome.unansweredRetries).toBeUndefined()
    expect(api!.received.length).toBe(1)
  })

  it('gives up with DeliveryError after maxRetryTime, carrying the last status', async () => {
    const api = await startServer((_r, res) => reply(res, 503, 'Service Unavailable'))
    const err = await sinkFor(api.url, { maxRetryTimeMs: 150, minRetryDelayMs: 5, maxRetryDelayMs: 20 })
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeliveryError)
    expect((err as DeliveryError).lastStatus).toBe(503)
    expect((err as DeliveryError).attempts).toBe(api.received.length)
    expect((err as DeliveryError).message).toContain(api.url)
    expect(api.received.length).toBeGreaterThan(2)
  })

  it('gives up with DeliveryError carrying the network error when the API stays unreachable', async () => {
    const probe = await startServer(() => {})
    const port = probe.port
    await probe.close()
    const err = await sinkFor(`http://127.0.0.1:${port}/log`, { maxRetryTimeMs: 60, minRetryDelayMs: 5, maxRetryDelayMs: 10 })
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeliveryError)
    expect((err as DeliveryError).lastStatus).toBeUndefined()
    expect((err as DeliveryError).lastError).toContain('ECONNREFUSED')
  })

  it('reports a written request left unanswered past the request timeout as unanswered, and never sends it again', async () => {
    const api = await startServer((r, res) => {
      if (r.method === 'OPTIONS') res.writeHead(204).end()
      // every POST: read, never answered
    })
    const retries: RetryInfo[] = []
    const sink = sinkFor(api.url, { requestTimeoutMs: 100, onRetry: (i) => retries.push(i) })
    const outcome = await sink.send(pageview())
    // The API may have stored it: a retry could store it twice.
    expect(outcome).toEqual({ kind: 'unanswered', status: 0, attempts: 1 })
    expect(retries).toEqual([])
    expect(api.received.filter((r) => r.method === 'POST')).toHaveLength(1)
  })

  it('retries a request whose deadline passed before it was written (queued behind a hung one): it never reached the API', async () => {
    const api = await startServer((r, res, n) => {
      // The sink's probe (a POST without a pid) is refused at once, as Swetrix's validation does.
      if (r.body === '{}') reply(res, 400, { message: ['The provided Project ID (pid) is incorrect'] })
      else if (n > 1) reply(res, 201, {})
      // the first POST: never answered
    })
    // One connection: the second request waits in the pool until the first one's deadline.
    const sink = sinkFor(api.url, { requestTimeoutMs: 150, connections: 1 })
    const hung = pageview({ body: { pid: PID, pg: '/hung' } })
    const queued = pageview({ body: { pid: PID, pg: '/queued' } })
    const [first, second] = await Promise.all([sink.send(hung), sink.send(queued)])
    expect(first).toMatchObject({ kind: 'unanswered', attempts: 1 })
    expect(second).toMatchObject({ kind: 'accepted', attempts: 2 })
    expect(second.unansweredRetries).toBeUndefined() // its first attempt was never written: no duplicate possible
    const posts = api.received.filter((r) => r.body !== '{}').map((r) => (JSON.parse(r.body) as { pg: string }).pg)
    expect(posts).toEqual(['/hung', '/queued'])
  })

  it('marks a fatal answer after an unanswered attempt as maybe delivered', async () => {
    const api = await startServer((_r, res, n) => {
      if (n === 1) res.socket!.destroy()
      else reply(res, 404, { message: `Project ${PID} was not found in the database` })
    })
    const err = await sinkFor(api.url)
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FatalApiError)
    expect((err as FatalApiError).maybeDelivered).toBe(true)
  })

  it('marks a fatal answer after an answered 502 as not delivered', async () => {
    const api = await startServer((_r, res, n) =>
      n === 1 ? reply(res, 502, 'Bad Gateway') : reply(res, 404, { message: `Project ${PID} was not found in the database` }),
    )
    const err = await sinkFor(api.url)
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FatalApiError)
    expect((err as FatalApiError).maybeDelivered).toBe(false)
  })

  it('gives up on refused connections with DeliveryError saying nothing reached the server', async () => {
    const probe = await startServer(() => {})
    const port = probe.port
    await probe.close()
    const err = await sinkFor(`http://127.0.0.1:${port}/log`, { maxRetryTimeMs: 30, minRetryDelayMs: 5, maxRetryDelayMs: 10 })
      .send(pageview())
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DeliveryError)
    expect((err as DeliveryError).maybeDelivered).toBe(false)
  })
})

describe('http sink: abort', () => {
  it('aborts the in-flight attempt', async () => {
    let arrived!: () => void
    const requestArrived = new Promise<void>((r) => {
      arrived = r
    })
    const api = await startServer(() => arrived()) // never answers
    const ac = new AbortController()
    const pending = sinkFor(api.url).send(pageview(), ac.signal)
    await requestArrived
    ac.abort(new Error('shutdown'))
    const err = await pending.catch((e: unknown) => e)
    // Written and unanswered: the server may have it.
    expect(err).toBeInstanceOf(SendStoppedError)
    expect((err as SendStoppedError).maybeDelivered).toBe(true)
    expect(api.received.length).toBe(1)
  })

  it('aborts the backoff sleep', async () => {
    const api = await startServer((_r, res) => reply(res, 503, {}))
    const ac = new AbortController()
    const pending = sinkFor(api.url, {
      minRetryDelayMs: 60_000,
      maxRetryDelayMs: 60_000,
      onRetry: () => queueMicrotask(() => ac.abort(new Error('shutdown'))),
    }).send(pageview(), ac.signal)
    const err = await pending.catch((e: unknown) => e)
    // The only attempt was answered 503: certainly not stored.
    expect(err).toBeInstanceOf(SendStoppedError)
    expect((err as SendStoppedError).maybeDelivered).toBe(false)
    expect(api.received.length).toBe(1)
  })

  it('stopRetrying ends the backoff wait at once; the event is known not delivered', async () => {
    const probe = await startServer(() => {})
    const port = probe.port
    await probe.close()
    const stop = new AbortController()
    const pending = sinkFor(`http://127.0.0.1:${port}/log`, {
      minRetryDelayMs: 60_000,
      maxRetryDelayMs: 60_000,
      onRetry: () => queueMicrotask(() => stop.abort()),
    }).send(pageview(), undefined, { stopRetrying: stop.signal })
    const err = await pending.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SendStoppedError)
    expect((err as SendStoppedError).maybeDelivered).toBe(false)
  })
})

describe('rate limiter', () => {
  it('spaces requests to the configured rate with a fake clock and never busy-waits', async () => {
    let now = 1_000
    const sleeps: number[] = []
    const limiter = createRateLimiter({
      rate: 10,
      burst: 1,
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms)
        return Promise.resolve()
      },
    })
    for (let i = 0; i < 5; i++) await limiter.take()
    expect(sleeps).toEqual([100, 200, 300, 400]) // first one immediately, then one slot per 100 ms
    now += 10_000 // idle: no debt carried over
    sleeps.length = 0
    await limiter.take()
    await limiter.take()
    expect(sleeps).toEqual([100])
  })

  it('allows a burst after idling and then the steady rate', async () => {
    const now = 0
    const sleeps: number[] = []
    const limiter = createRateLimiter({ rate: 100, now: () => now, sleep: (ms) => Promise.resolve(void sleeps.push(ms)) })
    for (let i = 0; i < 12; i++) await limiter.take()
    // burst of rate/10 = 10 immediately, then 10 ms apart
    expect(sleeps).toEqual([10, 20])
  })

  it('limits the http sink request rate', async () => {
    const api = await startServer((_r, res) => reply(res, 201, {}))
    const sleeps: number[] = []
    const sink = sinkFor(api.url, { rate: 2, now: () => 0, sleep: (ms) => Promise.resolve(void sleeps.push(ms)) })
    await Promise.all([sink.send(pageview()), sink.send(pageview()), sink.send(pageview())])
    expect(sleeps).toEqual([500, 1000])
    expect(api.received.length).toBe(3)
  })
})

describe('ndjson appender', () => {
  let dir: string
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('appends one JSON line per write to a new 0600 file, in call order', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
    const file = join(dir, 'dead-letter.ndjson')
    const out = openNdjsonAppender(file)
    await Promise.all([out.write({ n: 1, body: 'line\nbreak' }), out.write({ n: 2 }), out.write({ n: 3 })])
    await out.close()
    const text = await readFile(file, 'utf8')
    expect(text.split('\n')).toEqual(['{"n":1,"body":"line\\nbreak"}', '{"n":2}', '{"n":3}', ''])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const again = openNdjsonAppender(file)
    await again.write({ n: 4 })
    await again.close()
    expect((await readFile(file, 'utf8')).trim().split('\n').length).toBe(4)
  })

  it('creates no file when nothing is written and leaves an existing file mode alone', async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
    const unused = openNdjsonAppender(join(dir, 'uncertain.ndjson'))
    await unused.close()
    await expect(stat(join(dir, 'uncertain.ndjson'))).rejects.toMatchObject({ code: 'ENOENT' })
    const existing = join(dir, 'existing.ndjson')
    await writeFile(existing, '')
    await chmod(existing, 0o640)
    const out = openNdjsonAppender(existing)
    await out.write({ a: 1 })
    await out.close()
    expect((await stat(existing)).mode & 0o777).toBe(0o640)
  })
})

describe('stdout (dry-run) sink', () => {
  it('prints the exact request per event and waits for drain under backpressure', async () => {
    const lines: string[] = []
    let writes = 0
    const out = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        writes++
        lines.push(chunk.toString())
        setImmediate(cb) // a slow consumer
      },
    })
    const sink = createStdoutSink(out)
    const outcomes = await Promise.all([1, 2, 3].map((n) => sink.send(pageview({ body: { pid: PID, pg: `/p${n}` } }))))
    await sink.close()
    expect(outcomes.every((o) => o.kind === 'accepted')).toBe(true)
    expect(writes).toBe(3)
    const parsed = lines.map((l) => JSON.parse(l) as { endpoint: string; headers: Record<string, string>; body: { pg: string } })
    expect(parsed.map((p) => p.body.pg)).toEqual(['/p1', '/p2', '/p3'])
    expect(parsed[0]!.endpoint).toBe('/log')
    // The same shape as `check --events`: the event's own headers.
    expect(parsed[0]!.headers['X-Forwarded-For']).toBe('203.0.113.7')
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true)
  })

  it('never writes raw control characters from a log line', async () => {
    let text = ''
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString()
        cb()
      },
    })
    const sink = createStdoutSink(out)
    await sink.send(pageview({ body: { pid: PID, pg: '/\u001b[2J\u009b31m' } }))
    await sink.close()
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)
    expect(JSON.parse(text).body.pg).toBe('/\u001b[2J\u009b31m')
  })
})
