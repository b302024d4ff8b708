import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createRandom, normalizeFaults, pickFault, type FaultKind } from '../src/testapi/faults.js'
import { buildRoutes } from '../src/testapi/server.js'
import { isBotRequest, isProbePath, validateEventBody } from '../src/testapi/validate.js'

describe('fault schedule', () => {
  it('is the same sequence for the same seed and stays in [0, 1)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const a = createRandom(seed)
        const b = createRandom(seed)
        for (let i = 0; i < 50; i++) {
          const x = a()
          expect(x).toBe(b())
          expect(x).toBeGreaterThanOrEqual(0)
          expect(x).toBeLessThan(1)
        }
      }),
    )
  })

  it('injects each fault at about its configured rate', () => {
    const settings = normalizeFaults({ errorRate: 0.2, rateLimitRate: 0.1, resetRate: 0.05, resetAfterStoreRate: 0.05 })
    const random = createRandom(1234)
    const n = 50_000
    const counts: Record<FaultKind, number> = {
      none: 0,
      serverError: 0,
      rateLimit: 0,
      reset: 0,
      resetAfterStore: 0,
      hang: 0,
      hangAfterStore: 0,
      slowBody: 0,
      portal: 0,
      proxyOk: 0,
    }
    for (let i = 0; i < n; i++) counts[pickFault(random(), settings)]++
    const expected: Record<FaultKind, number> = {
      none: 0.6,
      serverError: 0.2,
      rateLimit: 0.1,
      reset: 0.05,
      resetAfterStore: 0.05,
      hang: 0,
      hangAfterStore: 0,
      slowBody: 0,
      portal: 0,
      proxyOk: 0,
    }
    for (const kind of Object.keys(expected) as FaultKind[]) expect(Math.abs(counts[kind] / n - expected[kind])).toBeLessThan(0.01)
  })

  it('never faults with rates 0 and always faults with a rate of 1', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (u) => {
        expect(pickFault(u, normalizeFaults({}))).toBe('none')
        expect(pickFault(u, normalizeFaults({ resetRate: 1 }))).toBe('reset')
      }),
    )
  })

  it('validates settings from untrusted JSON', () => {
    expect(normalizeFaults(undefined)).toMatchObject({ errorRate: 0, retryAfterSeconds: 1 })
    expect(() => normalizeFaults({ errorRate: '0.5' })).toThrow(/between 0 and 1/)
    expect(() => normalizeFaults({ errorRate: 0.7, rateLimitRate: 0.4 })).toThrow(/<= 1/)
    expect(() => normalizeFaults({ latencyMs: Number.NaN })).toThrow(/>= 0/)
    expect(() => normalizeFaults({ typo: 1 })).toThrow(/unknown fault setting "typo"/)
    expect(() => normalizeFaults([1])).toThrow(TypeError)
    expect(normalizeFaults({ outageSeconds: 5 })).not.toHaveProperty('outageSeconds')
  })
})

describe('routes', () => {
  it('pair /log with /v1/log under any prefix and tolerate a trailing slash', () => {
    const r = buildRoutes('/backend/log')
    expect(r.get('/backend/log')).toBe('/log')
    expect(r.get('/backend/v1/log/custom/')).toBe('/log/custom')
    expect(r.get('/backend/log/error')).toBe('/log/error')
    expect(r.get('/log')).toBeUndefined()
    expect(buildRoutes('/').get('/custom')).toBe('/log/custom')
  })
})

describe('DTO and bot rules', () => {
  it('treat null optional fields as absent, as class-validator does', () => {
    expect(validateEventBody('/log', { pid: 'AbCdEf123456', qs: null, meta: null, profileId: null })).toBeNull()
    expect(validateEventBody('/log/error', { pid: 'AbCdEf123456', name: 'E', lineno: null })).toBeNull()
  })

  it('report every broken rule at once', () => {
    expect(validateEventBody('/log/custom', { pid: 'x', qs: 5 })).toEqual([
      'The provided Project ID (pid) is incorrect',
      'ev should not be empty',
      'ev must be a string',
      'qs must be a string',
    ])
  })

  it('match probe paths by prefix, case-insensitively, without the query', () => {
    expect(isProbePath('/.ENV')).toBe(true)
    expect(isProbePath('/.git/config?x=1')).toBe(true)
    expect(isProbePath('/blog/.env')).toBe(false)
    expect(isProbePath('/index.html?p=/.env')).toBe(false)
  })

  it('let a normal browser request through in strict mode', () => {
    const r = {
      ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
      accept: '*/*',
      acceptLanguage: 'en',
      acceptEncoding: undefined,
      pg: '/pricing',
    }
    expect(isBotRequest(r, true)).toBe(false)
    expect(isBotRequest({ ...r, accept: undefined }, true)).toBe(true)
    expect(isBotRequest({ ...r, accept: undefined }, false)).toBe(false)
  })
})
