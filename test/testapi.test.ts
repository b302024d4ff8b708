import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Agent, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readRecordFile, startTestApi, type TestApi, type TestApiOptions } from '../src/testapi/server.js'
import { BOT_MESSAGE, DISABLED_MESSAGE, PID_MESSAGE } from '../src/testapi/validate.js'

const PID = 'AbCdEf123456'
const OTHER_PID = 'ZyXwVu987654'
const DISABLED_PID = 'Disabled0001'
const UNKNOWN_PID = 'Unknown00001'
const VISITOR_IP = '198.51.100.7'
const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const BROWSER: Record<string, string> = {
  'content-type': 'application/json',
  'user-agent': BROWSER_UA,
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-language': 'en-US,en;q=0.9',
  'accept-encoding': 'identity',
  'x-forwarded-for': VISITOR_IP,
  'x-client-ip-address': VISITOR_IP,
}

const without = (headers: Record<string, string>, ...names: string[]): Record<string, string> =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k)))

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: unknown
}

let agent: Agent
const servers: TestApi[] = []
let dir: string

beforeEach(async () => {
  agent = new Agent({ connections: 8 })
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await agent.close()
  await rm(dir, { recursive: true, force: true })
})

async function start(o: TestApiOptions = {}): Promise<TestApi> {
  const api = await startTestApi({ projects: [PID, OTHER_PID], disabledProjects: [DISABLED_PID], ...o })
  servers.push(api)
  return api
}

async function send(url: string, body: unknown, headers: Record<string, string> = BROWSER, method: 'POST' | 'GET' | 'OPTIONS' = 'POST'): Promise<Reply> {
  const res = await request(url, {
    method,
    headers,
    body: method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
    dispatcher: agent,
  })
  const text = await res.body.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.statusCode, headers: res.headers, text, json }
}

const messageOf = (r: Reply): string[] => {
  const m = (r.json as { message: string | string[] }).message
  return Array.isArray(m) ? m : [m]
}

describe('accepted events', () => {
  it('answers 201 {} for a pageview, a custom event and an error, and records them with IP and UA', async () => {
    const api = await start()
    const pv = await send(api.url, { pid: PID, pg: '/a', ref: 'https://example.com/' })
    const ev = await send(`${api.url}/custom`, { pid: PID, ev: 'signup', pg: '/b', meta: { plan: 'pro', n: 2 } })
    const er = await send(`${api.url}/error`, { pid: PID, name: 'HTTP 500', message: 'Server Error', pg: '/c' })
    for (const r of [pv, ev, er]) {
      expect(r.status).toBe(201)
      expect(r.json).toEqual({})
      expect(r.headers['access-control-allow-origin']).toBe('*')
    }
    const got = api.accepted()
    expect(got.map((e) => e.endpoint)).toEqual(['/log', '/log/custom', '/log/error'])
    expect(got.map((e) => e.body.pg)).toEqual(['/a', '/b', '/c'])
    expect(got[1]!.body).toEqual({ pid: PID, ev: 'signup', pg: '/b', meta: { plan: 'pro', n: 2 } })
    for (const e of got) {
      expect(e.ip).toBe(VISITOR_IP)
      expect(e.ua).toBe(BROWSER_UA)
      expect(typeof e.t).toBe('number')
    }
    const stats = api.stats()
    expect(stats.accepted).toBe(3)
    expect(stats.byEndpoint['/log/custom']).toEqual({ requests: 1, accepted: 1, bot: 0 })
  })

  it('serves the same routes under /v1/log and with a trailing slash, like the tracker uses', async () => {
    const api = await start()
    const origin = api.origin
    expect(api.url).toBe(`${origin}/log`)
    expect((await send(`${origin}/v1/log`, { pid: PID, pg: '/v1' })).status).toBe(201)
    expect((await send(`${origin}/log/`, { pid: PID, pg: '/slash' })).status).toBe(201)
    expect((await send(`${origin}/v1/log/custom?x=1`, { pid: PID, ev: 'e' })).status).toBe(201)
    expect(api.accepted().map((e) => e.endpoint)).toEqual(['/log', '/log', '/log/custom'])
  })

  it('honours a self-hosted base path and 404s everything else', async () => {
    const api = await start({ basePath: '/backend/v1/log/' })
    expect(api.url).toBe(`${api.origin}/backend/v1/log`)
    expect((await send(`${api.url}/error`, { pid: PID, name: 'E' })).status).toBe(201)
    expect((await send(`${api.origin}/backend/log`, { pid: PID })).status).toBe(201)
    const other = await send(`${api.origin}/log`, { pid: PID })
    expect(other.status).toBe(404)
    expect(other.json).toEqual({ statusCode: 404, message: 'Cannot POST /log', error: 'Not Found' })
    expect((await send(api.url, undefined, BROWSER, 'GET')).status).toBe(404)
    expect(api.stats().unknownRoute).toBe(2)
  })

  it('answers a CORS preflight with 204', async () => {
    const api = await start()
    const r = await send(api.url, undefined, { 'access-control-request-headers': 'content-type' }, 'OPTIONS')
    expect(r.status).toBe(204)
    expect(r.headers['access-control-allow-origin']).toBe('*')
    expect(r.headers['access-control-allow-headers']).toBe('content-type')
  })

  it('takes the visitor IP from X-Client-IP-Address first, then the first X-Forwarded-For entry', async () => {
    const api = await start()
    const headers = { ...BROWSER, 'x-client-ip-address': '2001:db8::1', 'x-forwarded-for': '203.0.113.9' }
    await send(api.url, { pid: PID, pg: '/1' }, headers)
    const xffOnly = without({ ...BROWSER, 'x-forwarded-for': '203.0.113.9, 192.0.2.1' }, 'x-client-ip-address')
    await send(api.url, { pid: PID, pg: '/2' }, xffOnly)
    await send(api.url, { pid: PID, pg: '/3' }, without(BROWSER, 'x-forwarded-for', 'x-client-ip-address'))
    expect(api.accepted().map((e) => e.ip)).toEqual(['2001:db8::1', '203.0.113.9', '127.0.0.1'])
  })

  it('accepts any well-formed pid when no project list is configured', async () => {
    const api = await startTestApi({})
    servers.push(api)
    expect((await send(api.url, { pid: UNKNOWN_PID })).status).toBe(201)
  })

  it('counts total and distinct pg values so tests can check that no path arrived twice', async () => {
    const api = await start()
    for (const pg of ['/x', '/y', '/x', '/z', '/x']) await send(api.url, { pid: PID, pg })
    await send(api.url, { pid: PID }) // no pg: not counted
    expect(api.stats().pg).toEqual({ total: 5, distinct: 3, duplicates: ['/x', '/x'] })
  })

  it('keeps only the newest events in memory when bounded, but counts all', async () => {
    const api = await start({ maxInMemory: 3 })
    for (let i = 0; i < 10; i++) await send(api.url, { pid: PID, pg: `/${i}` })
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/7', '/8', '/9'])
    expect(api.stats().accepted).toBe(10)
  })

  it('refuses to bind a non-loopback host unless allowed', async () => {
    await expect(startTestApi({ host: '0.0.0.0' })).rejects.toThrow(/non-loopback/)
  })
})

describe('validation like the Swetrix DTOs', () => {
  const long = (n: number): string => 'a'.repeat(n)
  const cases: Array<[string, string, unknown, number, string]> = [
    ['pid too short', '', { pid: 'abc' }, 400, PID_MESSAGE],
    ['pid with --', '', { pid: 'abcde--fghij' }, 400, PID_MESSAGE],
    ['pid with a bad character', '', { pid: 'abcdef_ghijk' }, 400, PID_MESSAGE],
    ['pid missing', '', { pg: '/' }, 400, PID_MESSAGE],
    ['pid not a string', '', { pid: 123456789012 }, 400, PID_MESSAGE],
    ['qs over 2048', '', { pid: PID, qs: long(2049) }, 400, 'qs must be shorter than or equal to 2048 characters'],
    ['ev missing', '/custom', { pid: PID }, 400, 'ev should not be empty'],
    ['ev empty', '/custom', { pid: PID, ev: '' }, 400, 'ev should not be empty'],
    ['ev over 256', '/custom', { pid: PID, ev: long(257) }, 400, 'ev must be shorter than or equal to 256 characters'],
    ['name missing', '/error', { pid: PID }, 400, 'name should not be empty'],
    ['name over 200', '/error', { pid: PID, name: long(201) }, 400, 'name must be shorter than or equal to 200 characters'],
    ['message over 2000', '/error', { pid: PID, name: 'E', message: long(2001) }, 400, 'message must be shorter than or equal to 2000 characters'],
    ['filename over 1000', '/error', { pid: PID, name: 'E', filename: long(1001) }, 400, 'filename must be shorter than or equal to 1000 characters'],
    ['stackTrace over 7500', '/error', { pid: PID, name: 'E', stackTrace: long(7501) }, 400, 'stackTrace must be shorter than or equal to 7500 characters'],
    ['lineno not a number', '/error', { pid: PID, name: 'E', lineno: '3' }, 400, 'lineno must be a number conforming to the specified constraints'],
    ['profileId over 256', '', { pid: PID, profileId: long(257) }, 400, 'profileId must be shorter than or equal to 256 characters'],
    [
      'meta over 100 keys',
      '',
      { pid: PID, meta: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 1])) },
      400,
      'meta must not contain more than 100 keys',
    ],
    ['meta with an object value', '/custom', { pid: PID, ev: 'e', meta: { a: { b: 1 } } }, 400, 'meta values must be strings, numbers, booleans or null'],
    ['meta over 2000 chars', '/error', { pid: PID, name: 'E', meta: { k: long(2000) } }, 400, 'meta keys and values must not exceed 2000 characters in total'],
    ['meta an array', '', { pid: PID, meta: ['a'] }, 400, 'meta must be an object'],
    ['an array body (no batch endpoint)', '', [{ pid: PID }], 400, 'an unknown value was passed to the validate function'],
    ['unknown project', '', { pid: UNKNOWN_PID }, 404, `Project ${UNKNOWN_PID} was not found in the database`],
    ['disabled project', '/custom', { pid: DISABLED_PID, ev: 'e' }, 400, DISABLED_MESSAGE],
  ]

  it.each(cases)('%s -> its status and message, nothing recorded', async (_name, path, body, status, message) => {
    const api = await start()
    const r = await send(`${api.url}${path}`, body)
    expect(r.status).toBe(status)
    expect(r.json).toMatchObject({ statusCode: status, error: status === 404 ? 'Not Found' : 'Bad Request' })
    expect(messageOf(r)).toContain(message)
    expect(api.accepted()).toEqual([])
    expect(api.stats().rejected[String(status)]).toBe(1)
  })

  it('uses a message array for DTO errors and a plain string for project errors, as NestJS does', async () => {
    const api = await start()
    expect((await send(api.url, { pid: 'bad' })).json).toEqual({ statusCode: 400, message: [PID_MESSAGE], error: 'Bad Request' })
    expect((await send(api.url, { pid: DISABLED_PID })).json).toEqual({ statusCode: 400, message: DISABLED_MESSAGE, error: 'Bad Request' })
  })

  it('accepts values exactly at the limits and ignores unknown fields', async () => {
    const api = await start()
    const meta = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i % 2 === 0 ? null : true]))
    const replies = await Promise.all([
      send(api.url, { pid: PID, qs: long(2048), profileId: long(256), meta, created: '2020-01-01', unknown: [1] }),
      send(`${api.url}/custom`, { pid: PID, ev: long(256), meta: { k: long(1999) } }),
      send(`${api.url}/error`, { pid: PID, name: long(200), message: long(2000), filename: long(1000), stackTrace: long(7500), lineno: 1, colno: 2 }),
    ])
    expect(replies.map((r) => r.status)).toEqual([201, 201, 201])
    expect(api.accepted()).toHaveLength(3)
  })

  it('rejects a body that is not JSON: other content types leave it empty, bad JSON is a parse error', async () => {
    const api = await start()
    const form = await send(api.url, `pid=${PID}`, { ...BROWSER, 'content-type': 'application/x-www-form-urlencoded' })
    expect(form.status).toBe(400)
    expect(messageOf(form)).toContain(PID_MESSAGE)
    const broken = await send(api.url, '{"pid":', BROWSER)
    expect(broken.status).toBe(400)
    const scalar = await send(api.url, '"text"', BROWSER)
    expect(scalar.status).toBe(400)
    expect(api.accepted()).toEqual([])
  })

  it('answers 413 for a body over 100 kB and accepts one just under', async () => {
    const api = await start()
    const padded = (size: number): string => {
      const base = JSON.stringify({ pid: PID, pg: '/p', pad: '' })
      return base.replace('"pad":""', `"pad":"${'x'.repeat(size - base.length)}"`)
    }
    expect(padded(102_400)).toHaveLength(102_400)
    expect((await send(api.url, padded(102_400))).status).toBe(201)
    const big = await send(api.url, padded(102_401))
    expect(big.status).toBe(413)
    expect(big.json).toMatchObject({ statusCode: 413, error: 'Payload Too Large' })
    expect(api.accepted()).toHaveLength(1)
  })
})

describe('bot responses', () => {
  const botReply = { message: BOT_MESSAGE }

  it.each([
    ['a crawler UA', { ...BROWSER, 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' }],
    ['curl', { ...BROWSER, 'user-agent': 'curl/8.5.0' }],
    [
      'a headless browser',
      { ...BROWSER, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36' },
    ],
    ['the log placeholder "-"', { ...BROWSER, 'user-agent': '-' }],
    ['a missing UA', without(BROWSER, 'user-agent')],
  ])('%s -> 201 with the bot body, not recorded', async (_name, headers) => {
    const api = await start()
    const r = await send(api.url, { pid: PID, pg: '/' }, headers)
    expect(r.status).toBe(201)
    expect(r.json).toEqual(botReply)
    expect(api.accepted()).toEqual([])
    expect(api.stats().bot).toBe(1)
    expect(api.stats().byEndpoint['/log'].bot).toBe(1)
  })

  it('checks bots before the project (an unknown pid from a bot still gets the bot body)', async () => {
    const api = await start()
    const r = await send(api.url, { pid: UNKNOWN_PID }, { ...BROWSER, 'user-agent': 'curl/8.5.0' })
    expect(r.json).toEqual(botReply)
  })

  it('in strict mode drops requests missing two or more Accept* headers and probe paths', async () => {
    const api = await start({ strictBots: true })
    expect((await send(api.url, { pid: PID, pg: '/1' }, without(BROWSER, 'accept-language'))).json).toEqual({})
    expect((await send(api.url, { pid: PID, pg: '/2' }, without(BROWSER, 'accept', 'accept-encoding'))).json).toEqual(botReply)
    const bare = without(BROWSER, 'accept', 'accept-language', 'accept-encoding')
    expect((await send(api.url, { pid: PID, pg: '/3' }, bare)).json).toEqual(botReply)
    expect((await send(api.url, { pid: PID, pg: '/.env?x=1' })).json).toEqual(botReply)
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/1'])
  })

  it('without strict mode lets requests without Accept* headers in', async () => {
    const api = await start()
    const bare = without(BROWSER, 'accept', 'accept-language', 'accept-encoding')
    expect((await send(api.url, { pid: PID, pg: '/.env' }, bare)).json).toEqual({})
  })
})

describe('fault injection', () => {
  it('with errorRate 1 answers every event request 500/502/503 and records nothing', async () => {
    const api = await start({ faults: { errorRate: 1 }, seed: 1 })
    const statuses = new Set<number>()
    for (let i = 0; i < 30; i++) statuses.add((await send(api.url, { pid: PID, pg: `/${i}` })).status)
    expect([...statuses].sort()).toEqual([500, 502, 503])
    expect(api.accepted()).toEqual([])
    expect(api.stats().faults.serverError).toBe(30)
  })

  it('with rateLimitRate 1 answers 429 with the configured Retry-After', async () => {
    const api = await start({ faults: { rateLimitRate: 1, retryAfterSeconds: 7 } })
    const r = await send(api.url, { pid: PID })
    expect(r.status).toBe(429)
    expect(r.headers['retry-after']).toBe('7')
    expect(api.accepted()).toEqual([])
  })

  it('with resetRate 1 resets the connection without storing', async () => {
    const api = await start({ faults: { resetRate: 1 } })
    await expect(send(api.url, { pid: PID, pg: '/r' })).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/) })
    expect(api.accepted()).toEqual([])
    expect(api.stats().faults.reset).toBe(1)
  })

  it('with resetAfterStoreRate 1 stores the event and then resets the connection', async () => {
    const api = await start({ faults: { resetAfterStoreRate: 1 } })
    await expect(send(api.url, { pid: PID, pg: '/lost-answer' })).rejects.toThrow()
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/lost-answer'])
    expect(api.stats().faults.resetAfterStore).toBe(1)
  })

  it('delays responses by latencyMs', async () => {
    const api = await start({ faults: { latencyMs: 150 } })
    const t0 = performance.now()
    expect((await send(api.url, { pid: PID })).status).toBe(201)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140)
  })

  it('rejects impossible fault settings', async () => {
    const api = await start()
    expect(() => api.setFaults({ errorRate: 0.6, resetRate: 0.5 })).toThrow(RangeError)
    expect(() => api.setFaults({ latencyMs: -1 })).toThrow(RangeError)
    expect(api.faults().errorRate).toBe(0)
  })

  it('replays the same schedule for the same seed, and again after reset()', async () => {
    const faults = { errorRate: 0.3, rateLimitRate: 0.2 }
    const run = async (api: TestApi): Promise<number[]> => {
      const out: number[] = []
      for (let i = 0; i < 40; i++) out.push((await send(api.url, { pid: PID, pg: `/${i}` })).status)
      return out
    }
    const a = await start({ faults, seed: 42 })
    const b = await start({ faults, seed: 42 })
    const c = await start({ faults, seed: 43 })
    const first = await run(a)
    expect(new Set(first)).toEqual(new Set([201, 429, ...first.filter((s) => s >= 500)]))
    expect(first).toContain(201)
    expect(first).toContain(429)
    expect(await run(b)).toEqual(first)
    expect(await run(c)).not.toEqual(first)
    a.reset()
    expect(a.stats().requests).toBe(0)
    expect(await run(a)).toEqual(first)
  })

  it('changes faults at runtime', async () => {
    const api = await start()
    expect((await send(api.url, { pid: PID, pg: '/1' })).status).toBe(201)
    api.setFaults({ errorRate: 1 })
    expect((await send(api.url, { pid: PID, pg: '/2' })).status).toBeGreaterThanOrEqual(500)
    api.setFaults({})
    expect((await send(api.url, { pid: PID, pg: '/3' })).status).toBe(201)
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/1', '/3'])
  })
})

describe('outages', () => {
  it('refuses connections during an outage and accepts again on the same port afterwards', async () => {
    const api = await start()
    expect((await send(api.url, { pid: PID, pg: '/before' })).status).toBe(201) // leaves a keep-alive connection
    api.startOutage(0.4)
    expect(api.stats().outage.active).toBe(true)
    await expect(send(api.url, { pid: PID, pg: '/during' })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await api.whenUp()
    expect(api.stats().outage.active).toBe(false)
    expect((await send(api.url, { pid: PID, pg: '/after' })).status).toBe(201)
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/before', '/after'])
    expect(api.stats().faults.outages).toBe(1)
  })

  it('does not record a request whose connection an outage cut while it was being answered', async () => {
    const api = await start({ faults: { latencyMs: 5_000 } })
    const inFlight = send(api.url, { pid: PID, pg: '/cut' })
    await expect.poll(() => api.stats().requests).toBe(1)
    api.startOutage(0.2)
    await expect(inFlight).rejects.toThrow()
    await api.whenUp()
    api.setFaults({})
    expect((await send(api.url, { pid: PID, pg: '/next' })).status).toBe(201)
    expect(api.accepted().map((e) => e.body.pg)).toEqual(['/next'])
  })

  it('can start in an outage (outageSeconds at start) and end it early', async () => {
    const api = await start({ faults: { outageSeconds: 60 } })
    await expect(send(api.url, { pid: PID })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    const up = api.whenUp()
    api.setFaults({ outageSeconds: 0 })
    await up
    expect((await send(api.url, { pid: PID })).status).toBe(201)
  })

  it('in reset mode resets event requests but keeps the admin routes reachable', async () => {
    const api = await start()
    api.startOutage(30, 'reset')
    await expect(send(api.url, { pid: PID })).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/) })
    const stats = await send(`${api.origin}/__admin/stats`, undefined, {}, 'GET')
    expect(stats.json).toMatchObject({ outage: { active: true, mode: 'reset' }, accepted: 0 })
    api.endOutage()
    await api.whenUp()
    expect((await send(api.url, { pid: PID })).status).toBe(201)
  })

  it('rejects whenUp() waiters when closed during an outage', async () => {
    const api = await startTestApi({ faults: { outageSeconds: 60 } })
    const up = api.whenUp()
    await api.close()
    await expect(up).rejects.toThrow(/closed/)
  })
})

describe('admin endpoints', () => {
  it('set faults, show stats and received events, start outages and reset', async () => {
    const api = await start()
    const admin = (p: string): string => `${api.origin}/__admin/${p}`
    await send(api.url, { pid: PID, pg: '/1' })
    await send(`${api.url}/custom`, { pid: PID, ev: 'e', pg: '/2' })

    const received = await send(admin('received'), undefined, {}, 'GET')
    expect(received.headers['content-type']).toMatch(/ndjson/)
    const lines = received.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { body: { pg: string } })
    expect(lines.map((l) => l.body.pg)).toEqual(['/1', '/2'])

    const set = await send(admin('faults'), { rateLimitRate: 1, retryAfterSeconds: 3 })
    expect(set.status).toBe(200)
    expect(set.json).toMatchObject({ rateLimitRate: 1, retryAfterSeconds: 3, errorRate: 0 })
    expect((await send(api.url, { pid: PID })).status).toBe(429)
    expect((await send(admin('faults'), undefined, {}, 'GET')).json).toMatchObject({ rateLimitRate: 1 })
    expect((await send(admin('faults'), { errorRate: 2 })).status).toBe(400)
    expect((await send(admin('faults'), { bogus: 1 })).status).toBe(400)

    const stats = (await send(admin('stats'), undefined, {}, 'GET')).json as ReturnType<TestApi['stats']>
    expect(stats).toMatchObject({ requests: 3, accepted: 2, faults: { rateLimit: 1 }, pg: { total: 2, distinct: 2 } })

    expect((await send(admin('reset'), {})).status).toBe(200)
    expect(api.accepted()).toEqual([])
    expect(api.stats().accepted).toBe(0)

    expect((await send(admin('outage'), { seconds: 30 })).json).toMatchObject({ active: true, mode: 'refuse' })
    await expect(send(api.url, { pid: PID })).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    api.endOutage()
    await api.whenUp()
    expect((await send(admin('nope'), undefined, {}, 'GET')).status).toBe(404)
  })
})

describe('record file', () => {
  it('appends one NDJSON line per accepted event before answering, with mode 0600', async () => {
    const file = join(dir, 'received.ndjson')
    const api = await start({ recordFile: file, keepInMemory: false })
    await send(api.url, { pid: PID, pg: '/1' })
    await send(api.url, { pid: PID, pg: '/bot' }, { ...BROWSER, 'user-agent': 'curl/8.5.0' })
    await send(api.url, { pid: 'bad' })
    await send(`${api.url}/error`, { pid: PID, name: 'E', pg: '/2' })
    // Read while the server still runs: the lines are already on disk.
    const events = readRecordFile(file)
    expect(events.map((e) => [e.endpoint, e.body.pg, e.ip, e.ua])).toEqual([
      ['/log', '/1', VISITOR_IP, BROWSER_UA],
      ['/log/error', '/2', VISITOR_IP, BROWSER_UA],
    ])
    expect(api.accepted()).toEqual([])
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    api.reset()
    expect(readRecordFile(file)).toEqual([])
  })

  it('reads a missing file as empty and ignores a torn last line', async () => {
    expect(readRecordFile(join(dir, 'absent.ndjson'))).toEqual([])
    const file = join(dir, 'torn.ndjson')
    await writeFile(file, `${JSON.stringify({ t: 1, endpoint: '/log', ip: '', ua: '', body: { pg: '/a' } })}\n{"t":2,"endp`)
    expect(readRecordFile(file).map((e) => e.body.pg)).toEqual(['/a'])
  })
})
