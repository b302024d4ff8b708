// The same lines, sent live and imported, are stored alike. For each event the mapper makes, this
// compares what Swetrix stores for it live (a model of the controller: click-id enrichment from
// `qs` or the query in `pg`, host from `Origin`, the body's fields as they are) with what its Simple
// Analytics importer stores for the import row of the same line (the test API's copy of that
// mapper, which also drops a referrer on the row's own hostname). Real logs are read in place.
import { closeSync, existsSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { detectFormat } from '../parsers/detect.js'
import { builtinParsers } from '../parsers/registry.js'
import { isRejection, type RequestRecord } from '../parsers/types.js'
import { CLICK_ID_SOURCES, createMapper, type MapperOptions } from '../src/mapper/index.js'
import { IMPORT_HEADER } from '../src/import/csv.js'
import { createRowFormatter } from '../src/import/row.js'
import { importSimpleAnalytics } from '../src/testapi/data-import.js'
import type { OutgoingEvent } from '../src/types.js'
import { corpusDir } from './helpers/cli.js'

const PID = 'AbCdEf123456'
const FIELDS = ['pg', 'host', 'ref', 'so', 'me', 'ca', 'te', 'co', 'lc'] as const
type Stored = Record<(typeof FIELDS)[number], string | null>

/** Swetrix's live storing of the fields both paths carry (analytics.controller + clickIdSources). */
function storedLive(e: OutgoingEvent): Stored {
  const b = e.body as Record<string, string | undefined>
  const qs = (b.qs ?? '').replace(/^\?/, '').replace(/#.*$/s, '')
  const pg = b.pg ?? ''
  const search = qs || (pg.includes('?') ? pg.slice(pg.indexOf('?') + 1).replace(/#.*$/s, '') : '')
  const lower = `&${search.toLowerCase()}`
  const click = search === '' ? undefined : CLICK_ID_SOURCES.find((s) => lower.includes(`&${s.param}=`))
  const origin = e.headers.Origin
  return {
    pg: b.pg || null,
    host: origin === undefined ? null : new URL(origin).hostname || null,
    ref: b.ref || click?.ref || null,
    so: b.so || click?.so || null,
    me: b.me || click?.me || null,
    ca: b.ca || null,
    te: b.te || null,
    co: b.co || null,
    lc: b.lc || null,
  }
}

/** Swetrix's Data Import storing of the rows of these events (in one file). */
function storedImported(pairs: [OutgoingEvent, RequestRecord][]): Stored[] {
  const format = createRowFormatter()
  const text = IMPORT_HEADER + pairs.map(([e, r], i) => `${format(e, r)},s${i}\n`).join('')
  const { rows, skipped } = importSimpleAnalytics(text)
  expect(skipped).toBe(0)
  return rows.map((r) => Object.fromEntries(FIELDS.map((f) => [f, r[f]])) as Stored)
}

function compare(records: RequestRecord[], options: Partial<MapperOptions>): { events: number; differing: number; firstDiff?: unknown } {
  const map = createMapper({ projectId: PID, errors: 'none', ...options })
  const pairs: [OutgoingEvent, RequestRecord][] = []
  for (const r of records) {
    const m = map(r)
    if ('event' in m && m.event.kind !== 'error') pairs.push([m.event, r])
  }
  const imported = storedImported(pairs)
  let differing = 0
  let firstDiff: unknown
  pairs.forEach(([e], i) => {
    const live = storedLive(e)
    if (JSON.stringify(live) !== JSON.stringify(imported[i])) {
      differing++
      firstDiff ??= { live, imported: imported[i] }
    }
  })
  return { events: pairs.length, differing, firstDiff }
}

function corpusRecords(file: string, max = 4000): RequestRecord[] {
  const fd = openSync(join(corpusDir, file), 'r')
  const head = Buffer.alloc(2 << 20)
  const buf = head.subarray(0, readSync(fd, head, 0, head.length, 0))
  closeSync(fd)
  const lines: Buffer[] = []
  for (let start = 0; lines.length < max;) {
    const end = buf.indexOf(0x0a, start)
    if (end < 0) break
    lines.push(buf.subarray(start, end))
    start = end + 1
  }
  const detected = detectFormat(lines.slice(0, 200), builtinParsers())
  if (!detected.ok) throw new Error(`${file}: no format`)
  return lines.map((l) => detected.parser.parse(l)).filter((r): r is RequestRecord => !isRejection(r))
}

describe.skipIf(!existsSync(corpusDir))('real logs: live and imported store the same', () => {
  it('a vhost log (hosts logged with ports, click ids and UTM values in queries)', () => {
    const records = corpusRecords('local-nginx/access.vhost.log')
    const r = compare(records, { includeBots: true })
    expect(r.events).toBeGreaterThan(100)
    expect(r.firstDiff).toBeUndefined()
  })

  it('a log without hosts, given --hostname: self-referrers go on both paths', () => {
    const records = corpusRecords('grafana-loki-zanbil-nginx/access.log')
    const r = compare(records, { hostname: 'www.zanbil.ir' })
    expect(r.events).toBeGreaterThan(500)
    expect(r.firstDiff).toBeUndefined()
    // And they did go: no stored referrer is the site.
    const map = createMapper({ projectId: PID, hostname: 'www.zanbil.ir' })
    for (const rec of records) {
      const m = map(rec)
      if ('event' in m && typeof m.event.body.ref === 'string') expect(new URL(m.event.body.ref).hostname.replace(/^www\./, '')).not.toBe('zanbil.ir')
    }
  })

  it('the Apache sample log, no host known', () => {
    const r = compare(corpusRecords('elastic-examples-apache_logs/apache_logs'), {})
    expect(r.events).toBeGreaterThan(500)
    expect(r.firstDiff).toBeUndefined()
  })
})

describe('any line: live and imported store the same', () => {
  const host = fc.constantFrom(null, 'example.com', 'WWW.Example.com:8443', 'shop.example.org', '[2001:db8::1]:443', 'bad host', '-')
  const refHost = fc.constantFrom('example.com', 'www.example.com', 'EXAMPLE.com:80', 'shop.example.org', 'search.example.net', 'l.facebook.com')
  const query = fc
    .array(
      fc.constantFrom(
        'gclid=1',
        'fbclid=',
        'FBCLID=x',
        'msclkid=2',
        'mc_cid=3',
        'utm_source=news',
        'utm_medium=mail',
        'utm_campaign=x',
        'ref=hn',
        'a=1',
        'gad_source=1',
      ),
      { maxLength: 4 },
    )
    .map((parts) => (parts.length === 0 ? null : parts.join('&')))
  const record = fc.record({
    host,
    referrer: fc.option(
      fc.tuple(refHost, fc.constantFrom('/', '/a?b=1', '')).map(([h, p]) => `https://${h}${p}`),
      { nil: null },
    ),
    query,
    acceptLanguage: fc.constantFrom(undefined, 'de-de,de;q=0.9', 'en', 'pt-BR'),
  })

  it('for every combination of host, referrer, query and the ways the site host is given', () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.constantFrom<Partial<MapperOptions>>(
          {},
          { hostname: 'example.com' },
          { hosts: ['example.com'] },
          { keepQuery: true },
          { hosts: ['*.example.org', 'example.com'] },
        ),
        (over, options) => {
          const records = over.map((o): RequestRecord => ({
            ip: '203.0.113.9',
            time: Date.UTC(2026, 0, 2, 3, 4, 5),
            method: 'GET',
            path: '/p',
            query: o.query,
            protocol: 'HTTP/1.1',
            status: 200,
            bytes: 1,
            referrer: o.referrer,
            userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
            user: null,
            host: o.host,
            port: null,
            requestLine: null,
            ...(o.acceptLanguage === undefined ? {} : { acceptLanguage: o.acceptLanguage }),
          }))
          const r = compare(records, options)
          expect(r.firstDiff).toBeUndefined()
          // Neither path loses a click id's source, though the query itself is not sent.
          const map = createMapper({ projectId: PID, ...options })
          for (const rec of records) {
            const m = map(rec)
            if (!('event' in m)) continue
            expect(m.event.body).not.toHaveProperty('qs')
            if (/(?:^|&)(?:gclid|fbclid|msclkid|mc_cid)=/i.test(rec.query ?? '')) expect(m.event.body.so).toBeTruthy()
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
