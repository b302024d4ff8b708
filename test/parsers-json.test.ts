import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { caddyJson } from '../parsers/caddy-json.js'
import { createNginxJson } from '../parsers/nginx-json.js'
import { traefikJson } from '../parsers/traefik-json.js'
import { splitRequestLine } from '../parsers/util/json-request.js'
import { timeValue } from '../parsers/util/json-time.js'
import { splitHostPort } from '../parsers/util/json-values.js'
import { FormatError, isRejection, type LogParser, type ParseResult, type RequestRecord } from '../parsers/types.js'
import { formatIsoTime, recordJson } from '../src/record-json.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const corpus = resolve(repoRoot, '../shared/corpus')
const haveCorpus = existsSync(corpus)

function fileLines(path: string): Buffer[] {
  let buf = readFileSync(path)
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf)
  const lines: Buffer[] = []
  let start = 0
  for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
    lines.push(buf.subarray(start, nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl))
    start = nl + 1
  }
  if (start < buf.length) lines.push(buf.subarray(start))
  return lines
}

const fixture = (name: string): Buffer[] => fileLines(join(repoRoot, 'fixtures/json', name))

function record(result: ParseResult): RequestRecord {
  if (isRejection(result)) throw new Error(`expected a record, got rejection ${result.rejected}`)
  return result
}

function reason(result: ParseResult): string {
  if (!isRejection(result)) throw new Error(`expected a rejection, got a record for ${String(result.path)}`)
  return result.rejected
}

const utc = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => Date.UTC(y, mo - 1, d, h, mi, s)

describe('nginx_json, escape=json (nginx variable names)', () => {
  const lines = fixture('nginx-escape-json.log')
  const parser = createNginxJson()

  it('reads every field of an ordinary request, time from $msec to the millisecond', () => {
    expect(record(parser.parse(lines[0]!))).toEqual({
      ip: '203.0.113.10',
      time: utc(2026, 11, 20, 9, 0, 0) + 125,
      method: 'GET',
      path: '/pricing',
      query: 'utm_source=news&x=1',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 5120,
      referrer: 'https://www.example.com/blog',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
      user: null,
      host: 'shop.example.com',
      port: null,
      requestLine: null,
      acceptLanguage: null,
      xForwardedFor: null,
      requestTime: 0.012,
    })
  })

  it('decodes JSON escapes; a backslash reads \\x5C like in the text formats', () => {
    const r = record(parser.parse(lines[1]!))
    expect(r.ip).toBe('2001:db8::1')
    expect(r.user).toBe('alice')
    expect(r.protocol).toBe('HTTP/2.0')
    expect(r.userAgent).toBe('agent "quoted" back\\x5Cslash')
    expect(r.xForwardedFor).toBe('198.51.100.23, 192.0.2.44')
    expect(r.referrer).toBeNull()
  })

  it('keeps raw UTF-8 and writes bytes that are not UTF-8 as \\xHH instead of failing the line', () => {
    expect(record(parser.parse(lines[2]!)).path).toBe('/café')
    expect(record(parser.parse(lines[3]!)).path).toBe('/bad\\xFF\\xFEbytes')
  })

  it('a request nginx could not parse is a record without method or path, with the request text', () => {
    const r = record(parser.parse(lines[4]!))
    expect(r).toMatchObject({ method: null, path: null, query: null, protocol: null, status: 400, ip: '192.0.2.99' })
    expect(r.requestLine).toBe('\u0016\u0003\u0001\u0000\\xA5\u0001')
  })

  it('prefers $msec to $time_iso8601 but falls back to it', () => {
    const line = Buffer.from('{"time_iso8601":"2026-11-20T10:00:00+01:00","remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":200}')
    expect(record(parser.parse(line)).time).toBe(utc(2026, 11, 20, 9, 0, 0))
  })
})

describe('nginx_json, other layouts', () => {
  it('escape=default: \\xHH escapes are read back to the characters they stand for', () => {
    const [first, second] = fixture('nginx-escape-default.log')
    const r = record(createNginxJson().parse(first!))
    expect(r).toMatchObject({
      ip: '198.51.100.7',
      time: utc(2026, 11, 20, 9, 0, 0),
      method: 'GET',
      path: '/café',
      query: 'q="x"',
      status: 200,
      bytes: 512,
      referrer: null,
    })
    expect(r.userAgent).toBe('agent "quoted" back\\x5Cslash\ttab')
    expect(record(createNginxJson().parse(second!)).path).toBe('/bad\\xFF')
  })

  it("Matomo's documented format: own key names, path with query, no method (read as GET)", () => {
    const r = record(createNginxJson().parse(fixture('matomo-nginx.log')[0]!))
    expect(r).toMatchObject({
      ip: '203.0.113.20',
      host: 'www.example.com',
      method: 'GET',
      path: '/index.php',
      query: 'id=1',
      status: 200,
      bytes: 192,
      referrer: 'https://search.example.org/',
      userAgent: 'Mozilla/5.0 Test',
      time: utc(2026, 11, 20, 14, 52, 0),
      requestTime: 0.008,
      requestLine: null,
    })
  })

  it('--field maps hand-made key names; well-known aliases still fill the rest', () => {
    const [line] = fixture('custom-keys.log')
    const plain = record(createNginxJson().parse(line!))
    expect(plain).toMatchObject({ ip: '203.0.113.30', method: 'POST', time: null, path: null, status: null })

    const mapped = record(createNginxJson({ fieldMap: { time: 'when', path: 'target', status: 'code', bytes: 'sent' } }).parse(line!))
    expect(mapped).toMatchObject({
      ip: '203.0.113.30',
      time: utc(2026, 11, 20, 9, 0, 0) + 250,
      method: 'POST',
      path: '/api/items',
      query: 'page=2',
      status: 201,
      bytes: 77,
      userAgent: 'app/1.0',
      host: 'api.example.com',
      port: 8443,
    })
  })

  it('--field takes priority over a well-known key and can name a nested key with dots', () => {
    const line = Buffer.from('{"remote_addr":"192.0.2.1","meta":{"real":"203.0.113.9"},"request":"GET / HTTP/1.1","status":200}')
    expect(record(createNginxJson({ fieldMap: { ip: 'meta.real' } }).parse(line)).ip).toBe('203.0.113.9')
    const ua = Buffer.from('{"remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","http_user_agent":"a","my_ua":"b"}')
    expect(record(createNginxJson({ fieldMap: { user_agent: 'my_ua' } }).parse(ua)).userAgent).toBe('b')
  })

  it('an unknown record field in --field is a FormatError naming the valid ones', () => {
    expect(() => createNginxJson({ fieldMap: { agent: 'ua' } })).toThrow(FormatError)
    expect(() => createNginxJson({ fieldMap: { agent: 'ua' } })).toThrow(/userAgent/)
  })

  it('numbers may be strings; "-" and "" are null; key names are case-insensitive', () => {
    const line = Buffer.from(
      '{"Remote_Addr":"192.0.2.5","Request":"GET /a?b HTTP/1.0","Status":"404","Body_Bytes_Sent":"-","HTTP_REFERER":"","Host":"example.com:8080"}',
    )
    expect(record(createNginxJson().parse(line))).toMatchObject({
      ip: '192.0.2.5',
      method: 'GET',
      path: '/a',
      query: 'b',
      protocol: 'HTTP/1.0',
      status: 404,
      bytes: null,
      referrer: null,
      host: 'example.com',
      port: 8080,
    })
  })

  it('$uri plus $args give path and query', () => {
    const line = Buffer.from('{"remote_addr":"192.0.2.5","request_method":"GET","uri":"/search","args":"q=1","status":200}')
    expect(record(createNginxJson().parse(line))).toMatchObject({ path: '/search', query: 'q=1' })
  })

  it('rejects what is not a JSON access record with a reason', () => {
    const p = createNginxJson()
    expect(reason(p.parse(Buffer.from('192.0.2.1 - - [20/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1')))).toBe('bad-json')
    expect(reason(p.parse(Buffer.from('{"remote_addr":"192.0.2.1","request":"GET / HT')))).toBe('bad-json')
    expect(reason(p.parse(Buffer.from('[1,2,3]')))).toBe('bad-json') // one JSON object per line, or nothing
    expect(reason(p.parse(Buffer.from('{"level":"info","msg":"worker started","time":"2026-11-20T10:00:00Z"}')))).toBe('not-access-record')
    expect(reason(p.parse(Buffer.from('{"ip":"192.0.2.1","msg":"login"}')))).toBe('not-access-record')
    expect(reason(p.parse(Buffer.alloc(0)))).toBe('empty')
  })
})

describe('caddy_json', () => {
  const lines = fixture('caddy.log')

  it('reads an access record: client_ip, sub-millisecond ts, host:port, headers', () => {
    const r = record(caddyJson.parse(lines[0]!))
    expect(r).toMatchObject({
      ip: '203.0.113.40',
      method: 'GET',
      path: '/blog/post',
      query: 'ref=rss',
      protocol: 'HTTP/2.0',
      status: 200,
      bytes: 3609,
      referrer: 'https://news.example.org/',
      userAgent: 'Mozilla/5.0 Test',
      acceptLanguage: 'de-DE,de;q=0.9',
      xForwardedFor: '203.0.113.40',
      user: null,
      host: 'www.example.com',
      port: 8443,
      requestTime: 0.0015,
      requestLine: null,
    })
    expect(r.time).toBeCloseTo(utc(2026, 11, 20, 9, 0, 0) + 123.4567, 3)
    expect(formatIsoTime(r.time!)).toBe('2026-11-20T09:00:00.123457Z')
  })

  it('reads docker compose prefixed lines and bracketed IPv6 hosts', () => {
    expect(record(caddyJson.parse(lines[2]!))).toMatchObject({
      ip: '2001:db8::40',
      method: 'POST',
      host: '2001:db8::1',
      port: 8080,
      user: 'bob',
      status: 302,
      referrer: null,
    })
  })

  it("rejects Caddy's other records as not-access-record", () => {
    expect(reason(caddyJson.parse(lines[1]!))).toBe('not-access-record')
    expect(reason(caddyJson.parse(lines[3]!))).toBe('not-access-record')
    expect(reason(caddyJson.parse(Buffer.from('not json')))).toBe('bad-json')
  })
})

describe('traefik_json', () => {
  const lines = fixture('traefik.log')

  it('reads an access record with the request start time (StartUTC) to the nanosecond digit', () => {
    const r = record(traefikJson.parse(lines[0]!))
    expect(r).toMatchObject({
      ip: '203.0.113.50',
      method: 'GET',
      path: '/dashboard',
      query: 'tab=2',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 1024,
      referrer: 'https://app.example.com/',
      userAgent: 'Mozilla/5.0 Test',
      user: null,
      host: 'app.example.com',
      port: null,
      requestTime: 0.0025,
    })
    expect(formatIsoTime(r.time!)).toBe('2026-11-20T10:00:00.123457Z')
  })

  it('a ClientHost list (X-Forwarded-For) reports its first entry and keeps the list', () => {
    expect(record(traefikJson.parse(lines[1]!))).toMatchObject({
      ip: '198.51.100.60',
      xForwardedFor: '198.51.100.60, 192.0.2.51',
      status: 204,
      bytes: 0,
      port: 8443,
      user: 'carol',
      time: utc(2026, 11, 20, 10, 0, 5),
    })
  })

  it('rejects plain-text and non-access lines', () => {
    expect(reason(traefikJson.parse(lines[2]!))).toBe('bad-json')
    expect(reason(traefikJson.parse(lines[3]!))).toBe('not-access-record')
  })
})

describe('value readers', () => {
  it('times: ISO 8601 with zone, without zone (UTC), CLF, epoch s/ms/ns', () => {
    const base = utc(2026, 11, 20, 9, 0, 0)
    expect(timeValue('2026-11-20T09:00:00Z')).toBe(base)
    expect(timeValue('2026-11-20T10:30:00+01:30')).toBe(base)
    expect(timeValue('2026-11-20T09:00:00')).toBe(base)
    expect(timeValue('2026-11-20 09:00:00.5Z')).toBe(base + 500)
    expect(timeValue('2026-11-20T09:00:00.000250Z')).toBeCloseTo(base + 0.25, 6)
    expect(timeValue('20/Nov/2026:04:00:00 -0500')).toBe(base)
    expect(timeValue(base / 1000)).toBe(base)
    expect(timeValue(String(base / 1000) + '.042')).toBe(base + 42)
    expect(timeValue(base)).toBe(base)
    expect(timeValue(base * 1e6)).toBe(base)
    for (const bad of ['yesterday', '2026-13-01T00:00:00Z', '20/Foo/2026:04:00:00 -0500', '', '-', null, true, {}]) {
      expect(timeValue(bad)).toBeNull()
    }
  })

  it('request lines: method, target, protocol or nothing', () => {
    expect(splitRequestLine('GET /a b HTTP/1.1')).toEqual({ method: 'GET', target: '/a b', protocol: 'HTTP/1.1' })
    expect(splitRequestLine('GET /')).toEqual({ method: 'GET', target: '/', protocol: null })
    for (const junk of ['SSH-2.0-OpenSSH_8.9', 'HELLO', '\u0016\u0003\u0001 x', '', ' / HTTP/1.1']) {
      expect(splitRequestLine(junk)).toBeNull()
    }
  })

  it('host:port splitting', () => {
    expect(splitHostPort('example.com:8080')).toEqual({ host: 'example.com', port: 8080 })
    expect(splitHostPort('[2001:db8::1]:443')).toEqual({ host: '2001:db8::1', port: 443 })
    expect(splitHostPort('2001:db8::1')).toEqual({ host: '2001:db8::1', port: null })
    expect(splitHostPort('example.com')).toEqual({ host: 'example.com', port: null })
  })
})

describe('--records objects', () => {
  it('formatIsoTime writes whole seconds, milliseconds or microseconds as needed', () => {
    const base = utc(2026, 11, 20, 9, 0, 7)
    expect(formatIsoTime(base)).toBe('2026-11-20T09:00:07Z')
    expect(formatIsoTime(base + 123)).toBe('2026-11-20T09:00:07.123Z')
    expect(formatIsoTime(base + 5)).toBe('2026-11-20T09:00:07.005Z')
    expect(formatIsoTime(base + 815.5608)).toBe('2026-11-20T09:00:07.815561Z')
    expect(formatIsoTime(base + 999.9999)).toBe('2026-11-20T09:00:08Z')
  })

  it('a record becomes the neutral schema; request_line only when there is no method', () => {
    const parser = createNginxJson()
    const lines = fixture('nginx-escape-json.log')
    expect(recordJson(parser.parse(lines[0]!), 1, 0, 'pageview')).toEqual({
      line: 1,
      offset: 0,
      valid: true,
      ip: '203.0.113.10',
      time: '2026-11-20T09:00:00.125Z',
      method: 'GET',
      path: '/pricing',
      query: 'utm_source=news&x=1',
      http_version: '1.1',
      status: 200,
      bytes: 5120,
      referrer: 'https://www.example.com/blog',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
      user: null,
      host: 'shop.example.com',
      port: null,
      outcome: 'pageview',
    })
    const junk = recordJson(parser.parse(lines[4]!), 5, 1234)
    expect(junk).toMatchObject({ line: 5, offset: 1234, valid: true, method: null, http_version: null })
    expect(junk['request_line']).toBe('\u0016\u0003\u0001\u0000\\xA5\u0001')
    expect('outcome' in junk).toBe(false)
  })

  it('a rejection becomes valid:false with its reason', () => {
    expect(recordJson({ rejected: 'bad-json' }, 3, 99)).toEqual({ line: 3, offset: 99, valid: false, reason: 'bad-json' })
  })
})

describe.skipIf(!haveCorpus)('JSON logs of the corpus (../shared/corpus)', () => {
  function assertAllRecords(parser: LogParser, path: string): number {
    const lines = fileLines(path).filter((l) => l.length > 0)
    const rejected = lines.map((l, i) => [i + 1, parser.parse(l)] as const).filter(([, r]) => isRejection(r))
    expect(rejected.map(([n, r]) => `${path} line ${n}: ${(r as { rejected: string }).rejected}`)).toEqual([])
    return lines.length
  }

  it('every line of local-nginx/access.json.log* (escape=json, incl. invalid UTF-8 and .gz) is a record', () => {
    const dir = join(corpus, 'local-nginx')
    const files = readdirSync(dir).filter((f) => f.startsWith('access.json.log'))
    expect(files.length).toBeGreaterThanOrEqual(3)
    const parser = createNginxJson()
    for (const f of files) expect(assertAllRecords(parser, join(dir, f))).toBeGreaterThan(1000)
  })

  it('every line of spiderstrategies-nginx-json (string values, hand-made keys) is a record', () => {
    const parser = createNginxJson()
    const dir = join(corpus, 'spiderstrategies-nginx-json')
    for (const f of readdirSync(dir).filter((f) => f.startsWith('access'))) {
      expect(assertAllRecords(parser, join(dir, f))).toBeGreaterThan(10_000)
    }
  })

  it('the records of local-nginx JSON agree with its time_iso8601 and request fields', () => {
    const lines = fileLines(join(corpus, 'local-nginx/access.json.log')).filter((l) => l.length > 0)
    const parser = createNginxJson()
    for (const line of lines) {
      const r = record(parser.parse(line))
      // Cross-check against a plain JSON.parse of the same line (replacement chars are fine here).
      const raw = JSON.parse(line.toString('utf8')) as Record<string, unknown>
      expect(Math.floor(r.time! / 1000)).toBe(Date.parse(raw['time_iso8601'] as string) / 1000)
      expect(r.status).toBe(raw['status'])
      if (raw['request_method'] === '') expect(r.method).toBeNull()
      else expect(r.method).toBe(raw['request_method'])
    }
  })
})
