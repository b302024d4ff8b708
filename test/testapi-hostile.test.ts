// The faults for hostile-conditions tests (issue 22): hung requests (before and after storing), slow
// bodies, a captive portal and a JSON proxy in the way, hang outages. Real HTTP over loopback;
// a "client that gives up" is a request with a short abort signal, every wait is bounded.
import { request as httpRequest } from 'node:http'
import fc from 'fast-check'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { optionsFromArgs, USAGE } from '../src/testapi/args.js'
import { createRandom, normalizeFaults, NO_FAULTS, pickFault, type FaultKind } from '../src/testapi/faults.js'
import { startTestApi, type TestApi, type TestApiOptions } from '../src/testapi/server.js'

const PID = 'AbCdEf123456'
const BROWSER: Record<string, string> = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'x-client-ip-address': '203.0.113.20',
}
/** How long a test's client waits for an answer that is never coming. */
const GIVE_UP_MS = 250

let agent: Agent
const servers: TestApi[] = []

beforeEach(() => {
  agent = new Agent({ connections: 64 })
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await agent.close()
})

async function start(o: TestApiOptions = {}): Promise<TestApi> {
  const api = await startTestApi({ projects: [PID], ...o })
  servers.push(api)
  return api
}

interface Reply {
  status: number
  contentType: string | undefined
  text: string
}

async function post(url: string, body: unknown, opts: { giveUpMs?: number; dispatcher?: Agent } = {}): Promise<Reply> {
  const res = await request(url, {
    method: 'POST',
    headers: BROWSER,
    body: JSON.stringify(body),
    dispatcher: opts.dispatcher ?? agent,
    ...(opts.giveUpMs !== undefined && { signal: AbortSignal.timeout(opts.giveUpMs) }),
  })
  const text = await res.body.text()
  const ct = res.headers['content-type']
  return { status: res.statusCode, contentType: Array.isArray(ct) ? ct[0] : ct, text }
}

const pgs = (api: TestApi): unknown[] => api.accepted().map((e) => e.body.pg)

describe('hung requests', () => {
  it('hangRate: reads the request, never answers, records nothing, and holds the connection until the client gives up', async () => {
    const api = await start({ faults: { hangRate: 1 } })
    const hung = post(api.url, { pid: PID, pg: '/hung' }, { giveUpMs: GIVE_UP_MS })
    await expect.poll(() => api.stats().hanging, { timeout: 5_000 }).toBe(1)
    expect(api.stats()).toMatchObject({ requests: 1, accepted: 0, faults: { hang: 1, hangAfterStore: 0 } })
    await expect(hung).rejects.toThrow()
    // The client's abort closes the connection: the test API lets go of it.
    await expect.poll(() => api.stats().hanging, { timeout: 5_000 }).toBe(0)
    expect(api.accepted()).toEqual([])
    expect(api.stats().accepted).toBe(0)
  })

  it('hangAfterStoreRate: records the event, then never answers ("stored but the answer never came")', async () => {
    const api = await start({ faults: { hangAfterStoreRate: 1 } })
    const hung = post(api.url, { pid: PID, pg: '/stored-unanswered' }, { giveUpMs: GIVE_UP_MS })
    await expect(hung).rejects.toThrow()
    expect(pgs(api)).toEqual(['/stored-unanswered'])
    expect(api.stats()).toMatchObject({ accepted: 1, faults: { hangAfterStore: 1, hang: 0 } })
  })

  it('a retry after an answer that never came is a duplicate the stats name', async () => {
    const api = await start({ faults: { hangAfterStoreRate: 1 } })
    await expect(post(api.url, { pid: PID, pg: '/twice' }, { giveUpMs: GIVE_UP_MS })).rejects.toThrow()
    api.setFaults({})
    expect((await post(api.url, { pid: PID, pg: '/twice' })).status).toBe(201)
    expect(pgs(api)).toEqual(['/twice', '/twice'])
    expect(api.stats().pg).toEqual({ total: 2, distinct: 1, duplicates: ['/twice'] })
  })

  it('accepted() is exactly what was recorded under a mixed seeded schedule', async () => {
    const api = await start({ seed: 7, faults: { hangRate: 0.25, hangAfterStoreRate: 0.25, resetRate: 0.1, resetAfterStoreRate: 0.1 } })
    const n = 40
    const giveUp = new AbortController()
    let settled = 0
    const sends = Array.from({ length: n }, (_, i) =>
      request(api.url, { method: 'POST', headers: BROWSER, body: JSON.stringify({ pid: PID, pg: `/${i}` }), signal: giveUp.signal, dispatcher: agent })
        .then(async (res) => ({ status: res.statusCode, text: await res.body.text() }))
        .then(
          (reply) => ({ settled: settled++, reply }),
          () => ({ settled: settled++, reply: null }),
        ),
    )
    // The client gives up once every request the server did not hold has settled.
    await expect
      .poll(
        () => {
          const f = api.stats().faults
          return api.stats().requests === n && settled === n - f.hang - f.hangAfterStore
        },
        { timeout: 10_000 },
      )
      .toBe(true)
    giveUp.abort()
    const results = await Promise.all(sends)
    const answered = results.flatMap((r, i) => (r.reply?.status === 201 ? [`/${i}`] : []))
    const s = api.stats()
    // Every request got exactly one of: an answer (stored), a hang, a hang after storing, a reset, a reset after storing.
    expect(answered.length + s.faults.hang + s.faults.hangAfterStore + s.faults.reset + s.faults.resetAfterStore).toBe(n)
    expect(s.faults.hang).toBeGreaterThan(0)
    expect(s.faults.hangAfterStore).toBeGreaterThan(0)
    const recorded = pgs(api) as string[]
    expect(recorded.length).toBe(answered.length + s.faults.hangAfterStore + s.faults.resetAfterStore)
    expect(s.accepted).toBe(recorded.length)
    expect(new Set(recorded).size).toBe(recorded.length)
    for (const pg of answered) expect(recorded).toContain(pg)
  })
})

describe('slow bodies', () => {
  it('records the event, sends the headers at once, then the body {} one byte at a time', async () => {
    const api = await start({ faults: { slowBodyRate: 1, slowBodyByteMs: 100 } })
    const url = new URL(api.url)
    const { status, recordedAtHeaders, chunks } = await new Promise<{ status: number; recordedAtHeaders: unknown[]; chunks: string[] }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: BROWSER }, (res) => {
        const recordedAtHeaders = pgs(api)
        const chunks: string[] = []
        res.setEncoding('utf8')
        res.on('data', (c: string) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode!, recordedAtHeaders, chunks }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')))
      req.end(JSON.stringify({ pid: PID, pg: '/slow' }))
    })
    expect(status).toBe(201)
    // Stored before the first byte of the body left, as Swetrix answers after its insert.
    expect(recordedAtHeaders).toEqual(['/slow'])
    expect(chunks).toEqual(['{', '}'])
    expect(api.stats().faults.slowBody).toBe(1)
  })

  it('a client whose body timeout is shorter than the trickle fails while the event is stored', async () => {
    const api = await start({ faults: { slowBodyRate: 1, slowBodyByteMs: 2_000 } })
    const impatient = new Agent({ bodyTimeout: GIVE_UP_MS })
    try {
      const res = await request(api.url, { method: 'POST', headers: BROWSER, body: JSON.stringify({ pid: PID, pg: '/trickle' }), dispatcher: impatient })
      expect(res.statusCode).toBe(201)
      await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
    } finally {
      await impatient.close()
    }
    expect(pgs(api)).toEqual(['/trickle'])
  })
})

describe('something that is not Swetrix in the way', () => {
  it('portalRate: 200 text/html with a login page, nothing recorded', async () => {
    const api = await start({ faults: { portalRate: 1 } })
    const r = await post(api.url, { pid: PID, pg: '/p' })
    expect(r.status).toBe(200)
    expect(r.contentType).toMatch(/^text\/html/)
    expect(r.text).toMatch(/<html>.*log in/is)
    expect(api.accepted()).toEqual([])
    expect(api.stats()).toMatchObject({ accepted: 0, faults: { portal: 1 } })
  })

  it('proxyOkRate: 200 application/json {"ok":true}, nothing recorded', async () => {
    const api = await start({ faults: { proxyOkRate: 1 } })
    const r = await post(`${api.url}/custom`, { pid: PID, ev: 'signup' })
    expect(r.status).toBe(200)
    expect(r.contentType).toMatch(/^application\/json/)
    expect(JSON.parse(r.text)).toEqual({ ok: true })
    expect(api.accepted()).toEqual([])
    expect(api.stats()).toMatchObject({ accepted: 0, faults: { proxyOk: 1 } })
  })

  it('the Swetrix rules still apply to requests that get no fault', async () => {
    const api = await start({ seed: 3, faults: { portalRate: 0.5 } })
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => post(api.url, { pid: PID, pg: `/${i}` })))
    const swetrix = replies.filter((r) => r.status === 201)
    expect(swetrix.length + api.stats().faults.portal).toBe(20)
    expect(swetrix.every((r) => r.text === '{}')).toBe(true)
    expect(api.stats().accepted).toBe(swetrix.length)
  })
})

describe('hang outages', () => {
  it('hold every event request unanswered without recording, keep connections and admin routes, and end on request', async () => {
    const api = await start()
    const one = new Agent({ connections: 1 })
    try {
      expect((await post(api.url, { pid: PID, pg: '/before' }, { dispatcher: one })).status).toBe(201) // a keep-alive connection
      api.setFaults({ latencyMs: 3_000 })
      const giveUp = new AbortController()
      const inFlight = request(api.url, {
        method: 'POST',
        headers: BROWSER,
        body: JSON.stringify({ pid: PID, pg: '/in-flight' }),
        signal: giveUp.signal,
        dispatcher: agent,
      })
      const inFlightOutcome = inFlight.then(
        () => 'answered',
        () => 'gave up',
      )
      await expect.poll(() => api.stats().requests, { timeout: 5_000 }).toBe(2)

      const started = await post(`${api.origin}/__admin/outage`, { seconds: 60, mode: 'hang' })
      expect(JSON.parse(started.text)).toMatchObject({ active: true, mode: 'hang' })
      // On the connection that was open before the outage: read, never answered.
      await expect(post(api.url, { pid: PID, pg: '/during' }, { dispatcher: one, giveUpMs: GIVE_UP_MS })).rejects.toThrow()
      const stats = JSON.parse(await adminStats(api)) as ReturnType<TestApi['stats']>
      expect(stats).toMatchObject({ accepted: 1, outage: { active: true, mode: 'hang' }, faults: { outageHang: 1, outageReset: 0, outages: 1 } })

      const up = api.whenUp()
      expect((await post(`${api.origin}/__admin/outage`, { seconds: 0 })).status).toBe(200)
      await up
      api.setFaults({})
      expect((await post(api.url, { pid: PID, pg: '/after' })).status).toBe(201)
      expect(pgs(api)).toEqual(['/before', '/after'])
      // The request that waited for its latency when the outage began is held too, and stays held
      // after the outage, until its client gives up.
      giveUp.abort()
      expect(await inFlightOutcome).toBe('gave up')
      expect(pgs(api)).toEqual(['/before', '/after'])
    } finally {
      await one.close()
    }
  })

  it('hold a request whose latency ends during the outage', async () => {
    const api = await start({ faults: { latencyMs: 200 } })
    const giveUp = new AbortController()
    const outcome = request(api.url, {
      method: 'POST',
      headers: BROWSER,
      body: JSON.stringify({ pid: PID, pg: '/late' }),
      signal: giveUp.signal,
      dispatcher: agent,
    }).then(
      () => 'answered',
      () => 'gave up',
    )
    await expect.poll(() => api.stats().requests, { timeout: 5_000 }).toBe(1)
    api.startOutage(30, 'hang')
    await expect.poll(() => api.stats().faults.outageHang, { timeout: 5_000 }).toBe(1)
    expect(api.stats().hanging).toBe(1)
    api.endOutage()
    giveUp.abort()
    expect(await outcome).toBe('gave up')
    expect(api.accepted()).toEqual([])
  })

  it('can be started from the library and counts each held request', async () => {
    const api = await start()
    api.startOutage(30, 'hang')
    const held = await Promise.allSettled([1, 2, 3].map((i) => post(api.url, { pid: PID, pg: `/${i}` }, { giveUpMs: GIVE_UP_MS })))
    expect(held.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(api.stats()).toMatchObject({ requests: 3, accepted: 0, faults: { outageHang: 3, outageReset: 0 } })
    api.endOutage()
    await api.whenUp()
    expect((await post(api.url, { pid: PID, pg: '/ok' })).status).toBe(201)
    expect((await post(`${api.origin}/__admin/outage`, { seconds: 1, mode: 'stall' })).status).toBe(400)
  })
})

async function adminStats(api: TestApi): Promise<string> {
  const res = await request(`${api.origin}/__admin/stats`, { dispatcher: agent })
  return res.body.text()
}

describe('settings', () => {
  it('validate the new rates with the others: each in [0, 1], all together <= 1', () => {
    expect(normalizeFaults({ hangRate: 0.2, slowBodyRate: 0.1, slowBodyByteMs: 50 })).toMatchObject({ hangRate: 0.2, slowBodyRate: 0.1, slowBodyByteMs: 50 })
    expect(normalizeFaults({}).slowBodyByteMs).toBe(1000)
    expect(() => normalizeFaults({ hangRate: 1.5 })).toThrow(/between 0 and 1/)
    expect(() => normalizeFaults({ portalRate: 0.6, proxyOkRate: 0.5 })).toThrow(/<= 1/)
    expect(() => normalizeFaults({ slowBodyByteMs: -1 })).toThrow(/>= 0/)
  })

  it('keep the schedule an old seed gave: the new kinds slice [0, 1) after the old ones', () => {
    const old = (u: number, f: { errorRate: number; rateLimitRate: number; resetRate: number; resetAfterStoreRate: number }): FaultKind => {
      if (u < f.errorRate) return 'serverError'
      if (u < f.errorRate + f.rateLimitRate) return 'rateLimit'
      if (u < f.errorRate + f.rateLimitRate + f.resetRate) return 'reset'
      if (u < f.errorRate + f.rateLimitRate + f.resetRate + f.resetAfterStoreRate) return 'resetAfterStore'
      return 'none'
    }
    const rate = fc.double({ min: 0, max: 0.25, noNaN: true })
    fc.assert(
      fc.property(rate, rate, rate, rate, fc.integer({ min: 0, max: 2 ** 32 - 1 }), (errorRate, rateLimitRate, resetRate, resetAfterStoreRate, seed) => {
        const f = normalizeFaults({ errorRate, rateLimitRate, resetRate, resetAfterStoreRate })
        const random = createRandom(seed)
        for (let i = 0; i < 20; i++) {
          const u = random()
          expect(pickFault(u, f)).toBe(old(u, f))
        }
      }),
    )
  })

  it('are all settable by a flag documented in --help', () => {
    const flags = [...USAGE.matchAll(/^ {2}(--[a-z-]+) ([FN])\b/gm)].map((m) => m[1]!)
    const keys = new Set<string>()
    for (const flag of flags) {
      const options = optionsFromArgs([flag, '0'])
      if (options === 'help') throw new Error('unexpected help')
      for (const key of Object.keys(options.faults ?? {})) keys.add(key)
    }
    expect([...keys].sort()).toEqual([...Object.keys(NO_FAULTS), 'outageSeconds'].sort())
  })

  it('map the new flags, the captive-portal shorthand and the hang outage mode', () => {
    expect(
      optionsFromArgs([
        '--hang-rate',
        '0.1',
        '--hang-after-store-rate',
        '0.05',
        '--slow-body-rate',
        '0.2',
        '--slow-body-byte-ms',
        '40',
        '--outage-mode',
        'hang',
      ]),
    ).toMatchObject({ faults: { hangRate: 0.1, hangAfterStoreRate: 0.05, slowBodyRate: 0.2, slowBodyByteMs: 40 }, outageMode: 'hang' })
    expect(optionsFromArgs(['--captive-portal', 'html'])).toMatchObject({ faults: { portalRate: 1 } })
    expect(optionsFromArgs(['--captive-portal', 'json'])).toMatchObject({ faults: { proxyOkRate: 1 } })
    expect(() => optionsFromArgs(['--captive-portal', 'wifi'])).toThrow(/html or json/)
    expect(() => optionsFromArgs(['--captive-portal', 'html', '--error-rate', '0.5'])).toThrow(/<= 1/)
  })
})
