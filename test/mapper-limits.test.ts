import fc from 'fast-check'
import { validateHeaderName, validateHeaderValue } from 'node:http'
import { describe, expect, it } from 'vitest'
import { createMapper, type CustomEventRule } from '../src/mapper/index.js'
import type { OutgoingEvent, RequestRecord } from '../src/types.js'

const PID = 'AbCdEf123456'

// Text that exercises escapes, query syntax, control bytes and non-Latin-1 characters.
const piece = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('\\x22', '\\"', '\\\\', '\\x0D\\x0A', '\\n', '\\xC3\\xA9', '\\xFF', '\r\n', '\0', 'é', '🚀', '\uD800', '%E0%A4', '+'),
  fc.constantFrom('utm_source=', 'ref=', 'utm_medium=', 'utm_campaign=', 'gad_campaignid=', 'utm_term=', 'utm_content=', 'gclid=', 'plan=', '&', '?', '='),
  fc.constantFrom('https://', 'example.com', 'www.', '/', '.js', '.html'),
)
const text = (max: number) => fc.array(piece, { maxLength: max }).map((parts) => parts.join(''))
const long = fc.oneof(
  text(12),
  fc.tuple(fc.constantFrom('a', '🚀', '\\x22', 'utm_source=x&'), fc.integer({ min: 1000, max: 3000 })).map(([s, n]) => s.repeat(n)),
)

const record: fc.Arbitrary<RequestRecord> = fc.record({
  ip: fc.oneof(
    { arbitrary: fc.constantFrom('203.0.113.7', '2001:db8::1', '::ffff:192.0.2.1', '198.51.100.4:8080'), weight: 5 },
    fc.constantFrom('unix:', 'unknown', null),
  ),
  time: fc.oneof(fc.constant(null), fc.double({ min: 0, max: 4e12, noNaN: true })),
  method: fc.oneof({ arbitrary: fc.constant('GET'), weight: 4 }, fc.constantFrom('POST', 'HEAD', 'PUT', null)),
  path: fc.oneof({ arbitrary: long.map((s) => '/' + s), weight: 9 }, fc.constant(null)),
  query: fc.oneof(fc.constant(null), long),
  protocol: fc.constantFrom('HTTP/1.1', null),
  status: fc.oneof({ arbitrary: fc.constantFrom(200, 304, 404, 500, 503), weight: 4 }, fc.integer({ min: 100, max: 999 }), fc.constant(null)),
  bytes: fc.constant(null),
  referrer: fc.oneof(
    fc.constant(null),
    long,
    long.map((s) => 'https://' + s),
  ),
  userAgent: fc.oneof(fc.constant(null), long, fc.constant('Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0')),
  user: fc.constant(null),
  host: fc.constantFrom('example.com', 'www.example.com', null),
  port: fc.constant(null),
  requestLine: fc.constant(null),
  acceptLanguage: fc.oneof(fc.constant(null), text(4), fc.constantFrom('en-gb,en;q=0.8', 'x-'.repeat(40))),
  xForwardedFor: fc.constantFrom(null, '192.0.2.1, 198.51.100.2'),
})

const bigMeta: Record<string, string> = {}
for (let i = 0; i < 100; i++) bigMeta[`k${i}`] = ['query:plan', 'path', 'referrer', 'host', 'status', 'method', 'x'.repeat(300)][i % 7]!
const rules: CustomEventRule[] = [
  { event: 'E'.repeat(256), path: '^/.*[aé]', status: 'any', meta: bigMeta },
  { event: 'SMALL', path: '^/', method: 'POST', status: ['2xx', '3xx', 404], meta: { plan: 'query:plan', p: 'path' } },
]
const mappers = [
  createMapper({ projectId: PID, keepQuery: true, includeBots: true, includeStatic: true, errors: '4xx,5xx', rules }),
  createMapper({ projectId: PID, includeBots: true, includeStatic: true }),
  createMapper({ projectId: PID, keepQuery: true, hosts: ['example.com'], realIp: 'xff', trustedProxies: ['198.51.100.0/24', '203.0.113.0/24'] }),
]

const MAX: Record<string, number> = { pg: 2048, ref: 2048, so: 256, me: 256, ca: 256, te: 256, co: 256, qs: 2048, ev: 256, name: 200, message: 2000, lc: 35 }

function checkEvent(e: OutgoingEvent): void {
  const body = e.body
  expect(body.pid).toBe(PID)
  for (const [key, value] of Object.entries(body)) {
    if (key === 'meta') continue
    expect(typeof value, key).toBe('string')
    expect((value as string).length, key).toBeGreaterThan(0)
    if (MAX[key] !== undefined) expect((value as string).length, key).toBeLessThanOrEqual(MAX[key])
  }
  if (e.kind === 'error') expect(typeof body.name).toBe('string')
  if (e.kind === 'custom') expect(body.ev).toBe(e.name)
  if (body.lc !== undefined) expect(Intl.getCanonicalLocales(body.lc as string)[0]).toBe(body.lc)
  if (body.meta !== undefined) {
    const meta = body.meta as Record<string, unknown>
    const entries = Object.entries(meta)
    expect(entries.length).toBeGreaterThan(0)
    expect(entries.length).toBeLessThanOrEqual(100)
    let chars = 0
    for (const [k, v] of entries) {
      expect(typeof v).toBe('string')
      expect((v as string).length).toBeGreaterThan(0)
      chars += k.length + (v as string).length
    }
    expect(chars).toBeLessThanOrEqual(2000)
  }
  expect(JSON.parse(JSON.stringify(body))).toEqual(body)
  for (const [name, value] of Object.entries(e.headers)) {
    validateHeaderName(name)
    validateHeaderValue(name, value)
    // Latin-1 only (a ByteString), no control characters.
    expect(/^[^\x00-\x1f\x7f\u0100-\uffff]+$/.test(value), name).toBe(true)
  }
  expect(() => new Headers(e.headers)).not.toThrow()
  expect(e.headers['X-Forwarded-For']).toBe(e.headers['X-Client-IP-Address'])
}

describe('every request the mapper builds is one the API accepts', () => {
  it('respects field limits, sends only non-empty strings and valid Latin-1 headers, for any record', () => {
    let events = 0
    fc.assert(
      fc.property(record, (r) => {
        for (const map of mappers) {
          const result = map(r)
          if ('event' in result) {
            events++
            checkEvent(result.event)
          } else expect(typeof result.skip).toBe('string')
        }
      }),
      { numRuns: 400 },
    )
    // The generators must actually reach the event builders, or the property proves nothing.
    expect(events).toBeGreaterThan(300)
  })

  it('cuts long text without splitting a surrogate pair', () => {
    const map = mappers[1]!
    const r = map({
      ip: '203.0.113.7',
      time: 0,
      method: 'GET',
      path: '/' + '🚀'.repeat(1500),
      query: null,
      protocol: null,
      status: 200,
      bytes: null,
      referrer: null,
      userAgent: 'Mozilla/5.0 Firefox/120.0',
      user: null,
      host: null,
      port: null,
      requestLine: null,
    })
    const pg = ('event' in r ? r.event.body.pg : '') as string
    expect(pg.length).toBe(2047)
    expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/.test(pg)).toBe(false) // no lone high surrogate
  })
})
