// Whatever bytes arrive, every parser answers: parse() never throws and returns a record or a
// rejection with a non-empty reason; detect() never throws and returns a score in [0, 1].
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { builtinParsers, resolveFormat } from '../parsers/registry.js'
import { parserForInput, type LogParser, type ParseResult } from '../parsers/types.js'

const RECORD_FIELDS = ['ip', 'time', 'method', 'path', 'query', 'protocol', 'status', 'bytes', 'referrer', 'userAgent', 'user', 'host', 'port', 'requestLine']

/** One valid line per format, to mutate. Documentation addresses only. */
const VALID_LINES: Record<string, string> = {
  combined: '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 200 512 "https://www.example.com/" "Mozilla/5.0"',
  common: '203.0.113.5 - alice [20/Nov/2026:10:00:00 +0100] "GET /a HTTP/1.1" 404 -',
  vhost_combined: 'www.example.com:443 203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
  vhost_common: 'www.example.com:80 2001:db8::5 - - [20/Nov/2026:10:00:00 +0100] "HEAD / HTTP/1.0" 200 0',
  traefik_clf: '192.0.2.10 - - [20/Nov/2026:10:00:00 +0000] "GET /api HTTP/1.1" 200 17 "-" "curl/8.5.0" 12 "router@docker" "http://192.0.2.20:80" 3ms',
  nginx_json:
    '{"msec":"1795165200.125","remote_addr":"203.0.113.10","request":"GET /p?x=\\"1\\" HTTP/1.1","status":200,"body_bytes_sent":5,"http_user_agent":"a\\\\b","host":"example.com:8080"}',
  caddy_json:
    '{"level":"info","ts":1795165200.25,"logger":"http.log.access","msg":"handled request","request":{"client_ip":"203.0.113.40","proto":"HTTP/2.0","method":"GET","host":"example.com","uri":"/b?c","headers":{"User-Agent":["x"]}},"size":1,"status":200}',
  traefik_json:
    '{"ClientHost":"203.0.113.50","DownstreamStatus":200,"DownstreamContentSize":9,"RequestHost":"example.com","RequestMethod":"GET","RequestPath":"/d","RequestProtocol":"HTTP/1.1","StartUTC":"2026-11-20T10:00:00.123456789Z"}',
  // No #Fields: seen: the IIS default layout (15 fields).
  w3c: '2026-11-20 10:00:00 192.0.2.1 GET /default.aspx q=1 443 - 203.0.113.5 Mozilla/5.0+(Windows+NT+10.0) https://www.example.com/ 200 0 0 15',
  w3c_cloudfront:
    '2026-11-20\t10:00:00\tFRA2\t182\t203.0.113.10\tGET\td111111abcdef8.cloudfront.net\t/view/file.html\t200\thttps://example.com/\tMozilla/5.0%20(X11)\t-\t-\tMiss\tabc==\twww.example.com\thttps\t217\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tMiss\tHTTP/1.1\t-\t-',
  w3c_quoted: '"2026-11-20" "10:00:00" "203.0.113.7" "GET" "www.example.com/page.php" "a=1" "200" "Mozilla/5.0 (X11)"',
  aws_elb:
    '2026-11-20T10:00:00.945958Z my-lb 203.0.113.5:2817 10.0.0.1:80 0.000086 0.001048 0.001337 200 200 0 57 "GET https://www.example.com:443/p?q=1 HTTP/1.1" "Mozilla/5.0 (X11)" DHE-RSA-AES128-SHA TLSv1.2',
  aws_alb:
    'https 2026-11-20T10:00:00.127531Z app/my-alb/abcdef 203.0.113.5:2817 10.0.0.1:80 0.001 0.102 0.000 200 200 225 24950 "GET https://www.example.com:443/p HTTP/1.1" "Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789123:targetgroup/tg/abc "Root=1-abc" "www.example.com" "-" 0 2026-11-20T10:00:00.023000Z "forward" "-" "-" "10.0.1.1:80" "200"',
  haproxy:
    'Nov 20 10:00:00 lb haproxy[6801]: 203.0.113.5:55008 [20/Nov/2026:10:00:00.584] ft_https~ bk_https/web1 0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 {www.example.com|Mozilla/5.0 (X11)} "GET /p?q=1 HTTP/1.1"',
  cloudflare_json:
    '{"ClientIP":"203.0.113.9","ClientRequestHost":"www.example.com","ClientRequestMethod":"GET","ClientRequestURI":"/p?q=1","ClientRequestProtocol":"HTTP/2","ClientRequestUserAgent":"Mozilla/5.0","ClientRequestReferer":"","EdgeResponseStatus":200,"EdgeResponseBytes":512,"EdgeStartTimestamp":1795165200100000000}',
  ingress_nginx:
    '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 200 512 "https://www.example.com/" "Mozilla/5.0" 389 0.105 [default-web-8080] [] 192.0.2.15:8080, 192.0.2.16:8080 : 192.0.2.17:80 0, 512 : 512 0.100, 0.004 : 0.001 502, 200 : 200 529a007902362a5f51385a5fa7049884',
  nginx_custom: '203.0.113.5 [20/Nov/2026:10:00:00 +0100] "GET /n HTTP/1.1" 200 "Mozilla/5.0" rt=0.002',
  apache_custom: 'www.example.com 203.0.113.5 [20/Nov/2026:10:00:00 +0100] "GET /m HTTP/1.1" 301 "-" "Mozilla/5.0" 1234',
}

interface Case {
  label: string
  parser: LogParser
  valid: Buffer
}

async function allCases(): Promise<Case[]> {
  const nginx = (await resolveFormat('nginx:$remote_addr [$time_local] "$request" $status "$http_user_agent" rt=$request_time')) as LogParser
  const apache = (await resolveFormat('apache:%v %h %t "%r" %>s "%{Referer}i" "%{User-Agent}i" %D')) as LogParser
  const withFields = builtinParsers({ fieldMap: { userAgent: 'ua', ip: 'meta.client' } }).find((p) => p.name === 'nginx_json')!
  const line = (name: string): Buffer => Buffer.from(VALID_LINES[name]!)
  // W3C instances that have read a #Fields: directive (the layout mutated lines are then read with).
  const w3cWith = (fields: string): LogParser => {
    const p = parserForInput(builtinParsers().find((b) => b.name === 'w3c')!)
    p.parse(Buffer.from(`#Fields: ${fields}`))
    return p
  }
  return [
    ...builtinParsers().map((parser) => ({ label: parser.name, parser, valid: line(parser.name) })),
    {
      label: 'w3c after a CloudFront #Fields:',
      parser: w3cWith(
        'date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields',
      ),
      valid: line('w3c_cloudfront'),
    },
    {
      label: 'w3c after a quoted-values #Fields:',
      parser: w3cWith('date time c-ip cs-method cs-uri cs-uri-query sc-status cs(User-Agent)'),
      valid: line('w3c_quoted'),
    },
    { label: 'nginx_json with --field', parser: withFields, valid: line('nginx_json') },
    { label: 'nginx:<log_format>', parser: nginx, valid: line('nginx_custom') },
    { label: 'apache:<LogFormat>', parser: apache, valid: line('apache_custom') },
  ]
}

function checkResult(result: ParseResult): void {
  expect(typeof result).toBe('object')
  expect(result).not.toBeNull()
  if ('rejected' in result) {
    expect(typeof result.rejected).toBe('string')
    expect(result.rejected.length).toBeGreaterThan(0)
    return
  }
  for (const field of RECORD_FIELDS) expect(result, field).toHaveProperty(field)
  expect(result.time === null || Number.isFinite(result.time)).toBe(true)
  expect(result.status === null || Number.isInteger(result.status)).toBe(true)
  expect(result.bytes === null || Number.isInteger(result.bytes)).toBe(true)
}

const special = fc.constantFrom(0x22, 0x5c, 0x00, 0xff, 0x0d, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x3a, 0x2d, 0x78, 0xc3, 0x80)

/** A valid line, then a few random edits: insert/delete/replace bytes, truncate, long runs. */
function mutated(valid: Buffer): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.array(fc.oneof(special, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), byte: fc.oneof(special, fc.integer({ min: 0, max: 255 })) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('run' as const), at: fc.nat(), byte: special, count: fc.integer({ min: 100, max: 20_000 }) }),
  )
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Buffer.from(valid)
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % (b.length + 1)
      switch (e.kind) {
        case 'insert':
          b = Buffer.concat([b.subarray(0, at), Buffer.from(e.bytes), b.subarray(at)])
          break
        case 'delete':
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.count)])
          break
        case 'replace':
          if (at < b.length) b[at] = e.byte
          break
        case 'truncate':
          b = b.subarray(0, at)
          break
        case 'run':
          b = Buffer.concat([b.subarray(0, at), Buffer.alloc(e.count, e.byte), b.subarray(at)])
          break
      }
    }
    return b
  })
}

const randomBytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))

describe('parser properties', async () => {
  const cases = await allCases()

  it('every format reads its valid line (the seed of the mutations)', () => {
    for (const { label, parser, valid } of cases) {
      const r = parser.parse(valid)
      expect('rejected' in r ? `${label}: ${r.rejected}` : 'record').toBe('record')
    }
  })

  for (const { label, parser, valid } of cases) {
    describe(label, () => {
      it('parse never throws on random bytes and answers a record or a named rejection', () => {
        fc.assert(
          fc.property(randomBytes, (line) => checkResult(parser.parse(line))),
          { numRuns: 300 },
        )
      })

      it('parse never throws on mutations of a valid line', () => {
        fc.assert(
          fc.property(mutated(valid), (line) => checkResult(parser.parse(line))),
          { numRuns: 400 },
        )
      })

      it('detect never throws and scores in [0, 1]', () => {
        const sample = fc.array(fc.oneof(randomBytes, mutated(valid), fc.constant(valid), fc.constant(Buffer.alloc(0))), { maxLength: 12 })
        fc.assert(
          fc.property(sample, (lines) => {
            const score = parser.detect(lines)
            expect(Number.isFinite(score)).toBe(true)
            expect(score).toBeGreaterThanOrEqual(0)
            expect(score).toBeLessThanOrEqual(1)
          }),
          { numRuns: 100 },
        )
      })
    })
  }
})

/** What nginx escape=default writes for a value: `"`, `\`, control bytes and bytes >= 0x7f as `\xHH`. */
function nginxDefaultEscape(value: string): string {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte < 0x20 || byte >= 0x7f || byte === 0x22 || byte === 0x5c ? `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte)
  }
  return out
}

describe('nginx_json reads any string value back', () => {
  const tricky = fc.constantFrom('"', '\\', '\\x41', '\\\\', '\t', '\n', '\u0000', '\u007f', 'é', '€', '😀', '-', ' ', '\\u0041', 'x')
  const value = fc
    .oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.string({ unit: tricky, maxLength: 12 }))
    .filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s)
  // The record convention: a backslash reads `\x5C`; `-` and `""` are null.
  const expected = (v: string): string | null => (v === '' || v === '-' ? null : v.replaceAll('\\', '\\x5C'))

  it('escape=json (JSON.stringify writes what nginx writes for UTF-8 text)', () => {
    const parser = builtinParsers().find((p) => p.name === 'nginx_json')!
    fc.assert(
      fc.property(value, (v) => {
        const line = Buffer.from(JSON.stringify({ remote_addr: '192.0.2.1', request: 'GET / HTTP/1.1', status: 200, http_user_agent: v }))
        expect(parser.parse(line)).toMatchObject({ userAgent: expected(v) })
      }),
      { numRuns: 500 },
    )
  })

  it('escape=default (\\xHH escapes)', () => {
    const parser = builtinParsers().find((p) => p.name === 'nginx_json')!
    fc.assert(
      fc.property(value, (v) => {
        const line = Buffer.from(`{"remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":"200","http_user_agent":"${nginxDefaultEscape(v)}"}`)
        expect(parser.parse(line)).toMatchObject({ userAgent: expected(v) })
      }),
      { numRuns: 500 },
    )
  })
})
