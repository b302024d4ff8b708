// `check` counts through mapper.classify (no request built); it must decide exactly as the mapper.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMapper, type MapperOptions } from '../src/mapper/index.js'
import { combined } from '../parsers/clf.js'
import { isRejection, type RequestRecord } from '../parsers/types.js'
import { repoRoot } from './helpers/cli.js'

const PID = 'XXXXXXXXXXXX'
const decisionOfMap = (m: ReturnType<typeof createMapper>, r: RequestRecord) => {
  const res = m(r)
  return 'skip' in res ? res.skip : res.event.kind
}
const decisionOfClassify = (m: ReturnType<typeof createMapper>, r: RequestRecord) => {
  const res = m.classify!(r)
  return typeof res === 'string' ? res : 'skip' in res ? res.skip : res.event.kind
}

const settings: MapperOptions[] = [
  { projectId: PID },
  { projectId: PID, errors: '4xx,5xx', includeStatic: true, includeBots: true },
  { projectId: PID, excludePaths: ['/blog/**'], hosts: ['example.com'], since: Date.UTC(2026, 10, 1, 0, 0, 30) },
  { projectId: PID, rules: [{ event: 'SUBSCRIBE', method: 'POST', path: '^/api/subscribe$', status: '2xx', meta: { plan: 'query:plan' } }] },
]

describe('mapper.classify', () => {
  it('decides every line of the bundled sample as the mapper does, under several settings', () => {
    const lines = readFileSync(join(repoRoot, 'fixtures/sample.access.log'), 'utf8').trim().split('\n')
    for (const options of settings) {
      const m = createMapper(options)
      for (const line of lines) {
        const r = combined.parse(Buffer.from(line))
        if (isRejection(r)) continue
        expect(decisionOfClassify(m, r), line).toBe(decisionOfMap(m, r))
      }
    }
  })

  it('agrees with the mapper on random records', () => {
    const m = createMapper(settings[3]!)
    const record = fc.record({
      ip: fc.constantFrom('192.0.2.1', '2001:db8::1', 'unix:', null, 'unknown'),
      time: fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: null }),
      method: fc.constantFrom('GET', 'POST', 'HEAD', null),
      path: fc.constantFrom('/', '/a.css', '/api/subscribe', '/blog/x', null),
      query: fc.option(fc.constantFrom('plan=pro', 'utm_source=x', ''), { nil: null }),
      protocol: fc.constant('HTTP/1.1'),
      status: fc.option(fc.constantFrom(200, 201, 204, 301, 304, 404, 500, 503), { nil: null }),
      bytes: fc.constant(1),
      referrer: fc.option(fc.constantFrom('https://example.com/', '-'), { nil: null }),
      userAgent: fc.option(fc.constantFrom('Mozilla/5.0 (X11; Linux x86_64)', 'curl/8.5.0', ''), { nil: null }),
      user: fc.constant(null),
      host: fc.option(fc.constantFrom('example.com', 'other.test'), { nil: null }),
      port: fc.constant(null),
      requestLine: fc.constant(null),
    })
    fc.assert(
      fc.property(record, (r) => decisionOfClassify(m, r) === decisionOfMap(m, r)),
      { numRuns: 2000 },
    )
  })
})
