import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { headerValue } from '../src/mapper/headers.js'
import { describe, expect, it } from 'vitest'
import { combined, common, createClfParser, traefikClf, vhostCombined, vhostCommon } from '../parsers/clf.js'
import { isRejection, type LogParser, type ParseResult, type RequestRecord } from '../parsers/types.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const fixtures = join(repoRoot, 'fixtures', 'clf')
const corpus = resolve(repoRoot, '../shared/corpus')
const ALL: readonly LogParser[] = [combined, common, vhostCombined, vhostCommon, traefikClf]

/** The lines of a file as the reader hands them over: no `\n`, no trailing `\r`. */
function fileLines(path: string): Buffer[] {
  let raw = readFileSync(path)
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw)
  const lines: Buffer[] = []
  let from = 0
  while (from < raw.length) {
    let nl = raw.indexOf(0x0a, from)
    if (nl === -1) nl = raw.length
    const end = nl > from && raw[nl - 1] === 0x0d ? nl - 1 : nl
    lines.push(raw.subarray(from, end))
    from = nl + 1
  }
  return lines
}

function record(parser: LogParser, line: string | Buffer): RequestRecord {
  const r = parser.parse(typeof line === 'string' ? Buffer.from(line) : line)
  if (isRejection(r)) throw new Error(`${parser.name} rejected (${r.rejected}): ${String(line)}`)
  return r
}

/** Epoch ms of a wall-clock time written with a zone offset of `offsetMinutes`. */
function at(y: number, mo: number, d: number, h: number, mi: number, s: number, offsetMinutes: number): number {
  return Date.UTC(y, mo - 1, d, h, mi, s) - offsetMinutes * 60_000
}

const fixture = (name: string): Buffer[] => fileLines(join(fixtures, name)).filter((l) => l.length > 0)

describe('combined', () => {
  const lines = fixture('combined.log')

  it('reads every field of a standard line, applying the logged zone offset', () => {
    expect(record(combined, lines[0]!)).toMatchObject({
      ip: '192.0.2.10',
      time: at(2000, 10, 10, 13, 55, 36, -7 * 60),
      method: 'GET',
      path: '/index.html',
      query: 'utm_source=news',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 2326,
      referrer: 'https://example.com/start',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      user: null,
      host: null,
      port: null,
      requestLine: null,
    })
  })

  it('maps `-` to null and keeps an authenticated user', () => {
    expect(record(combined, lines[1]!)).toMatchObject({ user: 'alice', referrer: null, userAgent: 'curl/8.0', status: 302, bytes: 0 })
    expect(record(combined, lines[2]!)).toMatchObject({ ip: '2001:db8::1', bytes: null, referrer: null, userAgent: null })
  })

  it('gives an empty query for a bare `?`', () => {
    expect(record(combined, lines[2]!)).toMatchObject({ path: '/search', query: '' })
  })

  it('ignores trailing fields, keeping a quoted X-Forwarded-For list right after the user agent', () => {
    const r = record(combined, lines[3]!)
    expect(r).toMatchObject({ userAgent: 'Mozilla/5.0', time: at(2024, 2, 29, 23, 59, 59, 5 * 60 + 30) })
    expect(r.xForwardedFor).toBe('203.0.113.9, 198.51.100.1')
    expect(record(combined, lines[2]!).xForwardedFor).toBeNull() // a trailing "-" is not an address
  })

  it('also reads common-format lines (no referrer or user agent)', () => {
    expect(record(combined, fixture('common.log')[0]!)).toMatchObject({ user: 'frank', referrer: null, userAgent: null, bytes: 2326 })
  })

  it('reads a `host[:port]` prefix in front of the client', () => {
    const edge = fixture('edge-cases.log')
    expect(record(combined, edge[10]!)).toMatchObject({ host: 'www.example.com', port: 80, ip: '192.0.2.5', status: 301 })
  })
})

describe('common', () => {
  it('reads the seven CLF fields', () => {
    const [a, b] = fixture('common.log')
    expect(record(common, a!)).toMatchObject({
      ip: '192.0.2.10',
      user: 'frank',
      time: at(2000, 10, 10, 13, 55, 36, -420),
      method: 'GET',
      path: '/apache_pb.gif',
      protocol: 'HTTP/1.0',
      status: 200,
      bytes: 2326,
      referrer: null,
      userAgent: null,
    })
    expect(record(common, b!)).toMatchObject({ ip: '2001:db8::2', method: null, requestLine: '-', status: 408, bytes: null })
  })

  it('parses a combined line, ignoring referrer and user agent (as Matomo does)', () => {
    expect(record(common, fixture('combined.log')[0]!)).toMatchObject({ path: '/index.html', referrer: null, userAgent: null })
  })
})

describe('vhost_combined and vhost_common', () => {
  it('read the virtual host and port before the client', () => {
    const [a, b, c] = fixture('vhost_combined.log')
    expect(record(vhostCombined, a!)).toMatchObject({
      host: 'www.example.com',
      port: 443,
      ip: '192.0.2.10',
      path: '/shop',
      query: 'item=1',
      userAgent: 'Mozilla/5.0 (Windows NT 10.0)',
    })
    expect(record(vhostCombined, b!)).toMatchObject({ host: '2001:db8::80', port: 8080, ip: '2001:db8::3', referrer: 'https://example.com/' })
    expect(record(vhostCombined, c!)).toMatchObject({ host: 'shop.test', port: null, user: 'bob' })
  })

  it('vhost_common takes the host with or without a port', () => {
    const [a, b] = fixture('vhost_common.log')
    expect(record(vhostCommon, a!)).toMatchObject({ host: 'www.example.com', port: null, ip: '192.0.2.10', user: 'theuser', status: 301 })
    expect(record(vhostCommon, b!)).toMatchObject({ host: 'www.example.com', port: 80, ip: '192.0.2.11' })
  })

  it('rejects a plain combined line (no host in front)', () => {
    expect(vhostCombined.parse(fixture('combined.log')[0]!)).toEqual({ rejected: 'no-match' })
  })
})

describe('traefik_clf', () => {
  it('reads Traefik lines: bare `-` referrer, `- -` status/size, duration in seconds', () => {
    const [a, b, c] = fixture('traefik_clf.log')
    expect(record(traefikClf, a!)).toMatchObject({ ip: '192.0.2.20', status: 304, bytes: 0, referrer: 'http://example.com/login', requestTime: 0.002 })
    expect(record(traefikClf, b!)).toMatchObject({ referrer: null, userAgent: 'Mozilla/5.0 (iPhone)', protocol: 'HTTP/2.0', requestTime: 0.247 })
    expect(record(traefikClf, c!)).toMatchObject({ status: null, bytes: null, protocol: 'HTTP/2', userAgent: 'curl/8.0' })
  })

  it('still reads a plain common line', () => {
    expect(record(traefikClf, fixture('common.log')[0]!)).toMatchObject({ user: 'frank', status: 200 })
  })
})

describe('real-world edge cases', () => {
  const edge = fixture('edge-cases.log')

  it('keeps non-HTTP request texts as records with requestLine and no method', () => {
    for (const [i, text] of [
      [0, String.raw`\x16\x03\x01\x00\xF7\x01\x00\x00\xF3\x03\x03`],
      [1, ''],
      [2, '-'],
      [3, 'HELP'],
      [4, 'hello world'],
    ] as const) {
      const r = record(combined, edge[i]!)
      expect(r).toMatchObject({ method: null, path: null, query: null, protocol: null, requestLine: text })
    }
    expect(record(combined, edge[4]!).ip).toBe('unix:')
  })

  it('keeps server escapes byte for byte (Apache \\" and nginx \\x22, \\x5C)', () => {
    expect(record(combined, edge[5]!).userAgent).toBe(String.raw`\"Mozilla/4.0 (compatible; MSIE 10.0)\"`)
    const r = record(combined, edge[6]!)
    expect(r.referrer).toBe(String.raw`http://evil.test/\x22><script>`)
    expect(r.userAgent).toBe(String.raw`Mozilla/5.0 \x22quoted\x22 agent\x5Cwith\x5Cbackslash`)
    expect(r.xForwardedFor).toBe('unknown, 192.0.2.44')
  })

  it('reads Apache `\\"` inside the request line', () => {
    const r = record(combined, '192.0.2.9 - - [10/Oct/2000:13:55:36 -0700] "GET /a\\"b HTTP/1.1" 200 1 "-" "x"')
    expect(r).toMatchObject({ method: 'GET', path: '/a\\"b', protocol: 'HTTP/1.1', status: 200 })
  })

  it('drops the extra space before the protocol, as nginx does', () => {
    expect(record(combined, edge[7]!)).toMatchObject({ path: '/apps/mail/flags', query: null, protocol: 'HTTP/2.0' })
  })

  it('accepts a request without a protocol', () => {
    expect(record(combined, edge[8]!)).toMatchObject({ method: 'GET', path: '/', protocol: null })
  })

  it('accepts a line missing the ident field (the remaining field is the user)', () => {
    expect(record(combined, edge[9]!)).toMatchObject({ ip: '192.0.2.4', user: null, path: '/api/test', status: 200 })
  })

  it('accepts a cut-off line whose user agent quote never closes', () => {
    expect(record(combined, edge[11]!).userAgent).toBe('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html')
  })

  it('reports the first public address of an X-Forwarded-For list logged as the client', () => {
    const list = record(combined, '10.0.0.2, 10.0.0.1, 198.51.100.143 - - [07/Dec/2016:11:05:07 +0100] "GET /o HTTP/1.1" 200 5 "-" "M"')
    expect(list).toMatchObject({ ip: '198.51.100.143', xForwardedFor: '10.0.0.2, 10.0.0.1, 198.51.100.143', path: '/o' })
    const quoted = record(combined, '"10.5.102.222, 203.0.113.1, 198.51.100.1" 10.2.1.185 - - [22/Jan/2016:13:18:29 +0000] "GET /x HTTP/1.1" 200 1 "-" "M"')
    expect(quoted.ip).toBe('203.0.113.1')
    const internal = record(combined, '10.0.0.2, 127.0.0.1 - - [22/Jan/2016:13:18:29 +0000] "GET /x HTTP/1.1" 200 1 "-" "M"')
    expect(internal.ip).toBe('10.0.0.2')
  })

  it('keeps bytes that are not UTF-8 as \\xHH (as nginx and Apache escape them) and percent-encoding as logged', () => {
    const line = Buffer.concat([
      Buffer.from('192.0.2.8 - - [10/Oct/2000:13:55:36 -0700] "GET /caf'),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('/%D8%A8?q=%20 HTTP/1.1" 200 1 "-" "M"'),
    ])
    expect(record(combined, line)).toMatchObject({ path: '/caf\\xE9\\xFF/%D8%A8', query: 'q=%20' })
  })

  it('a Latin-1 User-Agent or Referer reaches the request headers as its original bytes', () => {
    const line = Buffer.concat([
      Buffer.from('192.0.2.8 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "https://www.example.com/r'),
      Buffer.from([0xe9]),
      Buffer.from('f" "Mozilla/5.0 (Windows; U; fr-FR) Fran'),
      Buffer.from([0xe7]),
      Buffer.from('ais"'),
    ])
    const r = record(combined, line)
    expect(r.userAgent).toBe('Mozilla/5.0 (Windows; U; fr-FR) Fran\\xE7ais')
    expect(r.referrer).toBe('https://www.example.com/r\\xE9f')
    // The header value is a Latin-1 byte string: byte 0xE7, not U+FFFD.
    expect(Buffer.from(headerValue(r.userAgent)!, 'latin1')).toEqual(Buffer.from('Mozilla/5.0 (Windows; U; fr-FR) Fran\xe7ais', 'latin1'))
  })

  it('valid UTF-8, and a U+FFFD the client really sent, are read unchanged', () => {
    const ua = 'Mozilla/5.0 \u00e9\u20ac\ud83d\ude00 \ufffd'
    const r = record(combined, Buffer.from(`192.0.2.8 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "${ua}"`))
    expect(r.userAgent).toBe(ua)
  })

  it('parses lines of many kilobytes', () => {
    const long = 'a'.repeat(20_000)
    const r = record(combined, `192.0.2.8 - - [10/Oct/2000:13:55:36 -0700] "GET /x?${long} HTTP/1.1" 414 0 "-" "M${long}"`)
    expect(r.query).toHaveLength(20_000)
    expect(r.userAgent).toHaveLength(20_001)
  })

  it('reads times across days, months and zones correctly (the per-day cache never leaks)', () => {
    const line = (t: string): string => `192.0.2.1 - - [${t}] "GET / HTTP/1.1" 200 1 "-" "M"`
    const cases: Array<[string, number]> = [
      ['31/Dec/1999:23:59:59 +0000', at(1999, 12, 31, 23, 59, 59, 0)],
      ['31/Dec/1999:23:59:59 -0100', at(1999, 12, 31, 23, 59, 59, -60)],
      ['01/Jan/2000:00:00:00 +0100', at(2000, 1, 1, 0, 0, 0, 60)],
      ['01/Jan/2000:00:00:01 +0100', at(2000, 1, 1, 0, 0, 1, 60)],
      ['29/Feb/2000:12:00:00 +0000', at(2000, 2, 29, 12, 0, 0, 0)],
      ['01/Mar/2000:12:00:00 +0000', at(2000, 3, 1, 12, 0, 0, 0)],
      ['26/Jan/2019:19:45:25 +0330', at(2019, 1, 26, 19, 45, 25, 210)],
    ]
    for (const [t, ms] of cases) expect(record(combined, line(t)).time, t).toBe(ms)
  })
})

describe('createClfParser', () => {
  it('makes independent instances that read like the shared ones', () => {
    for (const shared of ALL) {
      const fresh = createClfParser(shared.name as Parameters<typeof createClfParser>[0])
      expect(fresh).not.toBe(shared)
      expect(fresh.name).toBe(shared.name)
      for (const line of fixture('edge-cases.log')) expect(fresh.parse(line)).toEqual(shared.parse(line))
    }
  })
})

describe('rejections', () => {
  const reason = (p: LogParser, line: string): string | undefined => {
    const r: ParseResult = p.parse(Buffer.from(line))
    return isRejection(r) ? r.rejected : undefined
  }

  it('names why a line does not match', () => {
    expect(reason(combined, '')).toBe('empty')
    expect(reason(combined, '2021/09/30 09:23:53 [error] 1925#1925: *17 user "foo" was not found')).toBe('no-match')
    expect(reason(combined, '[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10] AH01618')).toBe('no-match')
    expect(reason(combined, '192.0.2.1 - - [2019-01-26T19:45:25+03:30] "GET / HTTP/1.1" 200 1')).toBe('bad-time')
    expect(reason(combined, '192.0.2.1 - - [31/Feb/2019:19:45:25 +0330] "GET / HTTP/1.1" 200 1')).toBe('bad-time')
    expect(reason(combined, '192.0.2.1 - - [26/Jan/2019:25:45:25 +0330] "GET / HTTP/1.1" 200 1')).toBe('bad-time')
    expect(reason(combined, '192.0.2.1 - - [26/Jan/2019:19:45:25 +0330] "GET / HTTP/1.1" OK 1')).toBe('bad-status')
    expect(reason(combined, '192.0.2.1 - - [26/Jan/2019:19:45:25 +0330] "GET / HTTP/1.1" 200 big')).toBe('bad-bytes')
    expect(reason(combined, '192.0.2.1 [26/Jan/2019:19:45:25 +0330] "GET / HTTP/1.1" 200 1')).toBe('no-match')
  })
})

describe('detect', () => {
  const score = (p: LogParser, file: string): number => p.detect(fixture(file))

  it('prefers the most specific format that fits', () => {
    // combined lines: combined > common, and Traefik does not win
    expect(score(combined, 'combined.log')).toBeGreaterThan(score(common, 'combined.log'))
    expect(score(combined, 'combined.log')).toBeGreaterThan(score(traefikClf, 'combined.log'))
    expect(score(vhostCombined, 'combined.log')).toBe(0)
    // common lines: common > combined
    expect(score(common, 'common.log')).toBeGreaterThan(score(combined, 'common.log'))
    // vhost lines: vhost_combined > combined, and > vhost_common
    expect(score(vhostCombined, 'vhost_combined.log')).toBeGreaterThan(score(combined, 'vhost_combined.log'))
    expect(score(vhostCombined, 'vhost_combined.log')).toBeGreaterThan(score(vhostCommon, 'vhost_combined.log'))
    expect(score(vhostCommon, 'vhost_common.log')).toBeGreaterThan(score(vhostCombined, 'vhost_common.log'))
    expect(score(vhostCommon, 'vhost_common.log')).toBeGreaterThan(score(common, 'vhost_common.log'))
    // Traefik lines: traefik_clf > combined
    expect(score(traefikClf, 'traefik_clf.log')).toBeGreaterThan(score(combined, 'traefik_clf.log'))
  })

  it('scores 1 for a file of exact lines and 0 for foreign lines, ignoring empty lines', () => {
    expect(combined.detect([...fixture('combined.log').slice(0, 2), Buffer.alloc(0)])).toBe(1)
    expect(combined.detect([Buffer.from('{"remote_addr":"192.0.2.1"}')])).toBe(0)
    expect(combined.detect([])).toBe(0)
  })
})

describe('never throws', () => {
  const valid = [...fixture('combined.log'), ...fixture('vhost_combined.log'), ...fixture('traefik_clf.log'), ...fixture('edge-cases.log')]

  it('on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        for (const p of ALL) p.parse(Buffer.from(bytes))
      }),
      { numRuns: 2000 },
    )
  })

  it('on random text built from log punctuation', () => {
    const piece = fc.constantFrom(
      ' ',
      '"',
      '\\',
      '[',
      ']',
      '-',
      ',',
      ':',
      '/',
      '?',
      '0',
      '9',
      'GET',
      'HTTP/1.1',
      '10/Oct/2000:13:55:36 -0700',
      '192.0.2.1',
      'ms',
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        for (const p of ALL) p.parse(Buffer.from(parts.join('')))
      }),
      { numRuns: 3000 },
    )
  })

  it('on mutations of valid lines, and records stay consistent', () => {
    const mutation = fc.record({
      line: fc.constantFrom(...valid),
      at: fc.nat(),
      cut: fc.nat({ max: 40 }),
      insert: fc.uint8Array({ maxLength: 8 }),
    })
    fc.assert(
      fc.property(mutation, ({ line, at: pos, cut, insert }) => {
        const i = pos % (line.length + 1)
        const mutated = Buffer.concat([line.subarray(0, i), Buffer.from(insert), line.subarray(Math.min(line.length, i + cut))])
        for (const p of ALL) {
          const r = p.parse(mutated)
          if (isRejection(r)) {
            expect(typeof r.rejected).toBe('string')
            continue
          }
          // Either a method was read (and the request is split), or the text is kept whole.
          expect(r.method === null).toBe(r.requestLine !== null)
          if (r.method === null) expect(r.path).toBeNull()
          expect(r.time === null || Number.isFinite(r.time)).toBe(true)
        }
      }),
      { numRuns: 3000 },
    )
  })
})

describe('corpus (real logs)', () => {
  const clean: Array<[string, LogParser]> = [
    ['grafana-loki-zanbil-nginx/access.log', combined],
    ['elastic-examples-apache_logs/apache_logs', combined],
    ['local-nginx/access.log', combined],
    ['local-nginx/access.log.1', combined],
    ['local-nginx/access.log.2.gz', combined],
    ['local-nginx/access.timed.log', combined],
    ['local-nginx/access.timed.log.1', combined],
    ['local-nginx/access.timed.log.2.gz', combined],
    ['local-nginx/access.vhost.log', vhostCombined],
    ['local-nginx/access.vhost.log.1', vhostCombined],
    ['local-nginx/access.vhost.log.2.gz', vhostCombined],
    ['dmjacas-logs-apache2/access.log', combined],
    ['dmjacas-logs-apache2/access.log.1', combined],
    ['dmjacas-logs-apache2/other_vhosts_access.log', vhostCombined],
    ['dmjacas-logs-apache2/other_vhosts_access.log.1', vhostCombined],
    ['lovecoding1987-sample_logs-apache2/access.log.1', combined],
    ['lovecoding1987-sample_logs-apache2/access.log.12', combined],
    ['lovecoding1987-sample_logs-apache2/other_vhosts_access.log.5', vhostCombined],
    ['lovecoding1987-sample_logs-apache2/other_vhosts_access.log.6', vhostCombined],
  ]

  it.skipIf(!existsSync(corpus))('parses 100% of the clean CLF-family files', () => {
    for (const [file, parser] of clean) {
      const path = join(corpus, file)
      if (!existsSync(path)) continue
      const rejected: string[] = []
      let lines = 0
      for (const line of fileLines(path)) {
        if (line.length === 0) continue
        lines++
        const r = parser.parse(line)
        if (isRejection(r)) rejected.push(`line ${lines}: ${r.rejected}`)
      }
      expect(lines, file).toBeGreaterThan(0)
      expect(rejected.slice(0, 5), file).toEqual([])
    }
  })

  it.skipIf(!existsSync(corpus))('detects the format of each clean file', () => {
    for (const [file, parser] of clean) {
      const path = join(corpus, file)
      if (!existsSync(path)) continue
      const sample = fileLines(path).slice(0, 200)
      const best = [...ALL].sort((a, b) => b.detect(sample) - a.detect(sample))[0]!
      expect(best.name, file).toBe(parser.name)
    }
  })

  if (!existsSync(corpus)) it.skip(`corpus not found at ${corpus}; real-log checks skipped`, () => {})
})
