import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { combined, vhostCombined } from '../parsers/clf.js'
import { compileApacheFormat } from '../parsers/custom-apache.js'
import { compileNginxFormat } from '../parsers/custom-nginx.js'
import { FormatError, isRejection, type LogParser, type RequestRecord } from '../parsers/types.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const fixtures = join(repoRoot, 'fixtures', 'clf')
const corpus = resolve(repoRoot, '../shared/corpus')

const lines = (path: string): Buffer[] =>
  readFileSync(path)
    .toString('latin1')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Buffer.from(l, 'latin1'))

function record(parser: LogParser, line: string): RequestRecord {
  const r = parser.parse(Buffer.from(line))
  if (isRejection(r)) throw new Error(`${parser.name} rejected (${r.rejected}): ${line}`)
  return r
}

const NGINX_COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
const APACHE_COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'

/** Lines every combined-format compiler must read exactly like the built-in `combined`. */
const COMBINED_LINES = [
  ...lines(join(fixtures, 'combined.log')).slice(0, 2),
  ...lines(join(fixtures, 'edge-cases.log')).filter((l) => !l.toString().includes('"unknown') && combined.detect([l]) === 1),
]

describe('nginx log_format', () => {
  it('the default combined format gives the same records as `combined`', () => {
    const nginx = compileNginxFormat(NGINX_COMBINED)
    expect(COMBINED_LINES.length).toBeGreaterThan(5)
    for (const line of COMBINED_LINES) expect(nginx.parse(line), line.toString()).toEqual(combined.parse(line))
  })

  it('a $host:$server_port prefix gives the same records as `vhost_combined`', () => {
    const nginx = compileNginxFormat(`$host:$server_port ${NGINX_COMBINED}`)
    for (const line of lines(join(fixtures, 'vhost_combined.log')).slice(0, 2)) {
      expect(nginx.parse(line), line.toString()).toEqual(vhostCombined.parse(line))
    }
  })

  it('fills X-Forwarded-For, request time and host from extra variables; unknown ones are skipped', () => {
    const p = compileNginxFormat(`${NGINX_COMBINED} "$http_x_forwarded_for" rt=$request_time urt="$upstream_response_time" host=$host`)
    const r = record(
      p,
      '192.0.2.7 - - [26/Nov/2026:16:00:01 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "curl/8.0" "203.0.113.7, 198.51.100.23" rt=0.125 urt="0.120" host=shop.test',
    )
    expect(r).toMatchObject({ xForwardedFor: '203.0.113.7, 198.51.100.23', requestTime: 0.125, host: 'shop.test', path: '/a', query: 'b=1' })
  })

  it('supports ${var} braces, $time_iso8601, $msec and request parts without $request', () => {
    const iso = compileNginxFormat('${remote_addr}|$time_iso8601|$request_method|$request_uri|$server_protocol|$status|$http_accept_language')
    expect(record(iso, '192.0.2.1|2019-01-26T19:45:25+03:30|POST|/form?x=1|HTTP/2.0|201|de-DE,de;q=0.9')).toMatchObject({
      ip: '192.0.2.1',
      time: Date.UTC(2019, 0, 26, 16, 15, 25),
      method: 'POST',
      path: '/form',
      query: 'x=1',
      protocol: 'HTTP/2.0',
      status: 201,
      acceptLanguage: 'de-DE,de;q=0.9',
    })
    const msec = compileNginxFormat('$msec $remote_addr $uri $args $status')
    expect(record(msec, '1700000000.123 192.0.2.1 /p - 200')).toMatchObject({ time: 1_700_000_000_123, path: '/p', query: null })
  })

  it('treats an unparseable request as a record with requestLine', () => {
    const r = record(compileNginxFormat(NGINX_COMBINED), String.raw`192.0.2.1 - - [12/Apr/2018:09:48:40 +0200] "\x16\x03\x01" 400 157 "-" "-"`)
    expect(r).toMatchObject({ method: null, path: null, requestLine: String.raw`\x16\x03\x01`, status: 400 })
  })

  it('rejects lines of another layout and bad times', () => {
    const p = compileNginxFormat(NGINX_COMBINED)
    expect(p.parse(Buffer.from('hello'))).toEqual({ rejected: 'no-match' })
    expect(p.parse(Buffer.from('192.0.2.1 - - [31/Feb/2019:19:45:25 +0330] "GET / HTTP/1.1" 200 1 "-" "-"'))).toEqual({ rejected: 'bad-time' })
  })

  it('throws FormatError for definitions that cannot be compiled', () => {
    expect(() => compileNginxFormat('')).toThrow(FormatError)
    expect(() => compileNginxFormat('just text')).toThrow(/no fields/)
    expect(() => compileNginxFormat('$remote_addr $status')).toThrow(/request/)
    expect(() => compileNginxFormat('${remote_addr "$request"')).toThrow(/unterminated/)
    expect(() => compileNginxFormat('$ "$request"')).toThrow(FormatError)
    expect(() => compileNginxFormat('escape=json {"r":"$request"}')).toThrow(/JSON/)
  })
})

describe('Apache LogFormat', () => {
  it('the combined format gives the same records as `combined`, also when pasted with \\" quotes', () => {
    for (const def of [APACHE_COMBINED, APACHE_COMBINED.replaceAll('"', '\\"')]) {
      const apache = compileApacheFormat(def)
      for (const line of COMBINED_LINES) expect(apache.parse(line), line.toString()).toEqual(combined.parse(line))
    }
  })

  it('vhost_combined (%v:%p ... %O) gives the same records as `vhost_combined`', () => {
    const apache = compileApacheFormat('%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"')
    const line = lines(join(fixtures, 'vhost_combined.log'))[0]!
    expect(apache.parse(line)).toEqual(vhostCombined.parse(line))
  })

  it('reads strftime and epoch times, durations, headers and request parts', () => {
    const p = compileApacheFormat('%a %{%Y-%m-%d %H:%M:%S %z}t %m %U%q %H %s %B %D "%{Accept-Language}i" "%{X-Forwarded-For}i" %{Cookie}i %%')
    expect(record(p, '192.0.2.1 2024-02-29 23:59:59 +0530 GET /p?x=1 HTTP/1.1 200 12 1500 "fr" "198.51.100.2" a=b %')).toMatchObject({
      ip: '192.0.2.1',
      time: Date.UTC(2024, 1, 29, 18, 29, 59),
      method: 'GET',
      path: '/p',
      query: 'x=1',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 12,
      requestTime: 0.0015,
      acceptLanguage: 'fr',
      xForwardedFor: '198.51.100.2',
    })
    expect(record(p, '192.0.2.1 2024-02-29 23:59:59 +0530 GET /p HTTP/1.1 200 12 1500 "-" "-" - %')).toMatchObject({ query: null })
    const sec = compileApacheFormat('%{sec}t %h "%r" %>s %b %{ms}T')
    expect(record(sec, '1700000000 192.0.2.1 "GET / HTTP/1.1" 200 5 250')).toMatchObject({ time: 1_700_000_000_000, requestTime: 0.25 })
  })

  it('prefers %a over %h and %>s over %s, whatever their order', () => {
    const p = compileApacheFormat('%h %a %s %>s "%r"')
    expect(record(p, 'host.example.com 192.0.2.9 302 200 "GET / HTTP/1.1"')).toMatchObject({ ip: '192.0.2.9', status: 200 })
  })

  it('reads a time without zone as local time', () => {
    const p = compileApacheFormat('%{%d/%b/%Y %T}t "%r"')
    expect(record(p, '05/Mar/2021 08:09:10 "GET / HTTP/1.1"').time).toBe(new Date(2021, 2, 5, 8, 9, 10).getTime())
  })

  it('mod_ssl request log: [%t] %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b', () => {
    const p = compileApacheFormat('[%t] %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b')
    expect(record(p, '[10/Aug/2018:09:45:56 +0200] 192.0.2.19 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "GET /a?b=1 HTTP/1.1" 1375')).toMatchObject({
      ip: '192.0.2.19',
      time: Date.UTC(2018, 7, 10, 7, 45, 56),
      method: 'GET',
      path: '/a',
      query: 'b=1',
      bytes: 1375,
      status: null,
    })
    // mod_ssl's default `%t %h ...` (one pair of brackets from %t itself) reads the same line.
    const plain = compileApacheFormat('%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b')
    expect(record(plain, '[10/Aug/2018:09:45:56 +0200] 192.0.2.19 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "GET / HTTP/1.1" -').bytes).toBeNull()
  })

  it('every mod_log_config directive compiles: a record field where one fits, else matched and ignored', () => {
    const def =
      '%a %{c}a %A %B %b %{Cookie}C %D %{HOME}e %f %h %{c}h %H %{Referer}i %k %l %L %m %{note}n %{Location}o ' +
      '%p %{canonical}p %{local}p %{remote}p %P %{pid}P %{tid}P %{hextid}P %q %r %R %s %<s %>s %t %{begin:%Y-%m-%d}t ' +
      '%{end:sec}t %{msec_frac}t %T %{ms}T %{us}T %{s}T %u %U %v %V %X %I %O %S %{SSL_PROTOCOL}x %{Trailer}^ti %{Trailer}^to ' +
      '%!200,304{User-Agent}i %400,501h %%'
    const p = compileApacheFormat(def)
    const line =
      '192.0.2.1 198.51.100.2 192.0.2.80 512 512 a=b 1500 /root /var/www/index.html 192.0.2.1 198.51.100.2 HTTP/1.1 ' +
      'https://www.example.com/ 0 - - GET - /next 443 443 443 51515 1234 1234 5678 1a2b ?x=1 GET /p?x=1 HTTP/1.1 handler 200 200 200 ' +
      '[20/Nov/2026:10:00:00 +0000] 2026-11-20 1795168800 123 0 1 1500 0 - /p www.example.com www.example.com + 700 900 1600 TLSv1.3 - - ' +
      'Mozilla/5.0 - %'
    expect(record(p, line)).toMatchObject({
      ip: '192.0.2.1',
      method: 'GET',
      path: '/p',
      query: 'x=1',
      status: 200,
      bytes: 512,
      referrer: 'https://www.example.com/',
      host: 'www.example.com',
      port: 443,
      time: Date.UTC(2026, 10, 20, 10),
      userAgent: 'Mozilla/5.0',
    })
  })

  it('%{c}a is the client only when the format logs no other client address', () => {
    expect(record(compileApacheFormat('%{c}a "%r"'), '198.51.100.2 "GET / HTTP/1.1"').ip).toBe('198.51.100.2')
    expect(record(compileApacheFormat('%{c}a %a "%r"'), '198.51.100.2 192.0.2.1 "GET / HTTP/1.1"').ip).toBe('192.0.2.1')
  })

  it('throws FormatError for definitions that cannot be compiled', () => {
    expect(() => compileApacheFormat('%{X}^tx "%r"')).toThrow(FormatError)
    expect(() => compileApacheFormat('')).toThrow(FormatError)
    expect(() => compileApacheFormat('%h %>s')).toThrow(/request/)
    expect(() => compileApacheFormat('%h %{Referer "%r"')).toThrow(/unterminated/)
    expect(() => compileApacheFormat('"%r" %')).toThrow(FormatError)
    expect(() => compileApacheFormat('%{%Q}t "%r"')).toThrow(/not supported/)
  })
})

describe('compiled parsers never throw', () => {
  const parsers = [
    compileNginxFormat(NGINX_COMBINED),
    compileNginxFormat('$host:$server_port $remote_addr $msec "$request" $status $request_time $foo'),
    compileApacheFormat(APACHE_COMBINED),
    compileApacheFormat('%v %{%Y-%m-%dT%H:%M:%S%z}t "%r" %>s %D %{X-Forwarded-For}i'),
  ]
  it('on random bytes and mutated lines', () => {
    const base = COMBINED_LINES.map((l) => l.toString('latin1'))
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom(...base), fc.nat(), fc.string({ maxLength: 6 })).map(([l, i, s]) => {
        const at = i % (l.length + 1)
        return Buffer.from(l.slice(0, at) + s + l.slice(at + 1), 'latin1')
      }),
    )
    fc.assert(
      fc.property(input, (line) => {
        for (const p of parsers) {
          const r = p.parse(line)
          if (!isRejection(r)) expect(r.method === null || r.requestLine === null).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

describe('corpus (real logs)', () => {
  const timed = join(corpus, 'local-nginx/access.timed.log')
  it.skipIf(!existsSync(timed))('the local nginx "timed" format reads every line of its log', () => {
    const p = compileNginxFormat(`${NGINX_COMBINED} "$http_x_forwarded_for" rt=$request_time urt="$upstream_response_time" host=$host`)
    let n = 0
    for (const line of lines(timed)) {
      const r = p.parse(line)
      expect(isRejection(r), `line ${++n}`).toBe(false)
      // everything the built-in combined parser reads must agree
      const c = combined.parse(line) as RequestRecord
      expect({ ...(r as RequestRecord), host: null, requestTime: null }).toEqual({ ...c, requestTime: null })
    }
    expect(n).toBeGreaterThan(1000)
  })
})
