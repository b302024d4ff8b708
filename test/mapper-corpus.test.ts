// The mapper over real access logs (read from the shared corpus, never copied into the repo).
import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { validateHeaderValue } from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isbot } from 'isbot'
import { describe, expect, it } from 'vitest'
import { combined } from '../parsers/clf.js'
import { isRejection, type RequestRecord } from '../parsers/types.js'
import { createMapper, isStaticPath } from '../src/mapper/index.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const corpus = resolve(repoRoot, '../shared/corpus')
const FILES = ['grafana-loki-zanbil-nginx/access.log', 'elastic-examples-apache_logs/apache_logs', 'advertools-logs_testing/combined_latin1_enc.log']
const PID = 'AbCdEf123456'

function records(file: string, max = 5_000): RequestRecord[] {
  const out: RequestRecord[] = []
  const fd = openSync(join(corpus, file), 'r')
  const head = Buffer.alloc(4 << 20)
  const buf = head.subarray(0, readSync(fd, head, 0, head.length, 0))
  closeSync(fd)
  let start = 0
  while (start < buf.length && out.length < max) {
    const end = buf.indexOf(0x0a, start)
    if (end < 0) break // a cut-off last line
    const r = combined.parse(buf.subarray(start, end > start && buf[end - 1] === 0x0d ? end - 1 : end))
    if (!isRejection(r)) out.push(r)
    start = end + 1
  }
  return out
}

describe.skipIf(!existsSync(corpus))('mapper on real logs', () => {
  if (!existsSync(corpus)) console.warn(`skipping corpus tests: ${corpus} not found`)

  for (const file of FILES) {
    it(`${file}: every line maps, and each request is one a browser visit would produce`, () => {
      const rs = records(file)
      expect(rs.length).toBeGreaterThan(100)
      const map = createMapper({ projectId: PID, errors: '4xx,5xx' })
      let events = 0
      for (const r of rs) {
        const result = map(r)
        if ('skip' in result) continue
        events++
        const e = result.event
        // Visitor identity is the logged address, in both headers.
        expect(e.headers['X-Forwarded-For']).toBe(r.ip)
        expect(e.headers['X-Client-IP-Address']).toBe(r.ip)
        for (const [name, value] of Object.entries(e.headers)) validateHeaderValue(name, value)
        // Nothing the API would drop as a bot, no asset counted as a page.
        expect(isbot(e.headers['User-Agent'] ?? '-')).toBe(false)
        if (e.kind === 'pageview') {
          expect(r.method).toBe('GET')
          expect(isStaticPath(e.body.pg as string)).toBe(false)
          expect((e.body.pg as string).includes('?')).toBe(false)
        }
        if (e.kind === 'error') expect(r.status).toBeGreaterThanOrEqual(400)
      }
      expect(events).toBeGreaterThan(0)
    })
  }
})
