// ingress-nginx's default `log-format-upstream` (upstreaminfo): detected by auto, parsed with the
// visitor address, status, User-Agent and request time, and never rejected for its upstream fields
// (lists after retries and internal redirects, `-`, unix sockets, IPv6).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { combined } from '../parsers/clf.js'
import { compileNginxFormat } from '../parsers/custom-nginx.js'
import { detectFormat } from '../parsers/detect.js'
import { createIngressNginxParser, INGRESS_NGINX_LOG_FORMAT } from '../parsers/ingress-nginx.js'
import { builtinParsers, resolveFormat } from '../parsers/registry.js'
import { isRejection, RECORD_KEYS, type LogParser, type ParseResult, type RequestRecord } from '../parsers/types.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ingressFixture = resolve(repoRoot, '../shared/corpus/elastic-beats-filebeat-fixtures/nginx-ingress_controller__test.log')

function record(result: ParseResult): RequestRecord {
  if (isRejection(result)) throw new Error(`expected a record, got rejection ${result.rejected}`)
  return result
}

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

/** Lines as ingress-nginx writes them with its default format (the shapes of the lines in its
 *  documentation and in Filebeat's ingress_controller fixtures), with documentation addresses. */
const UPSTREAMINFO = {
  single: `203.0.113.5 - - [07/Feb/2026:11:48:51 +0000] "GET /products?page=2 HTTP/1.1" 200 59 "https://www.example.com/" "${CHROME}" 89 0.001 [default-web-8080] [] 192.0.2.15:8080 59 0.000 200 529a007902362a5f51385a5fa7049884`,
  retried: `198.51.100.7 - - [07/Feb/2026:12:02:42 +0100] "GET /v2/some HTTP/1.1" 200 61 "-" "curl/8.5.0" 348 0.105 [default-web2-8080] [] 192.0.2.16:8080, 192.0.2.17:8080 61, 100 0.100, 0.004 502, 200 835136ae24486dbb4156dcbe21f5d402`,
  redirected: `203.0.113.9 - alice [07/Feb/2026:12:03:00 +0000] "POST /login HTTP/2.0" 302 0 "-" "${CHROME}" 512 0.020 [default-auth-80] [default-auth-canary-80] 192.0.2.20:80 : 192.0.2.21:80 0 : 120 0.010 : 0.009 401 : 302 0be411044cb1cb67580e115413b2da60`,
  noUpstream: `2001:db8::9 - - [07/Feb/2026:11:49:50 +0000] "PATCHp /products/42 HTTP/1.1" 400 163 "-" "-" 0 0.000 [] [] - - - - 4c7d2079340e68353c7d0dfff00b904b`,
  partlyAnswered: `203.0.113.5 - - [07/Feb/2026:12:02:42 +0000] "GET /test/test.mp4 HTTP/1.1" 200 61 "-" "${CHROME}" 348 0.001 [default-web2-8080] [] 192.0.2.16:8080, 192.0.2.17:8080 - 0.100, - 200, - 835136ae24486dbb4156dcbe21f5d402`,
  unixSocket: `203.0.113.5 - - [07/Feb/2026:11:56:54 +0000] "GET /products/42 HTTP/1.1" 200 59 "-" "${CHROME}" 369 0.002 [default-web-8080] [] unix:/var/run/php-fpm.sock 59 0.002 200 0f76ea730f282d5759018eb756b23b14`,
  ipv6Upstreams: `203.0.113.5 - - [24/Aug/2026:18:05:41 +0000] "GET /favicon.ico HTTP/2.0" 502 552 "https://www.example.com/" "${CHROME}" 27 0.000 [www-8080] [] [2001:db8::7]:5000, [2001:db8::4e36]:5000 0, 0 0.000, 0.000 502, 502 3db73c6c673c4256ade033a6ce08c2ab`,
}

const PLAIN_COMBINED = [
  '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /pricing?ref=ad HTTP/1.1" 200 512 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"',
  '198.51.100.7 - alice [20/Nov/2026:10:00:01 +0100] "POST /login HTTP/1.1" 302 0 "-" "curl/8.5.0"',
  '2001:db8::9 - - [20/Nov/2026:10:00:02 +0100] "GET / HTTP/2.0" 200 1024 "-" "Mozilla/5.0"',
]

const buffers = (lines: readonly string[]): Buffer[] => lines.map((l) => Buffer.from(l))

function detectedName(sample: Buffer[]): string {
  const result = detectFormat(sample, builtinParsers())
  if (!result.ok) throw new Error(`no format detected: ${result.reason}`)
  return result.parser.name
}

describe('ingress_nginx (ingress-nginx upstreaminfo)', () => {
  const parser = createIngressNginxParser()

  it('reads the visitor address, time, request, status, bytes, referrer, User-Agent and request time', () => {
    expect(record(parser.parse(Buffer.from(UPSTREAMINFO.single)))).toMatchObject({
      ip: '203.0.113.5',
      time: Date.UTC(2026, 1, 7, 11, 48, 51),
      method: 'GET',
      path: '/products',
      query: 'page=2',
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 59,
      referrer: 'https://www.example.com/',
      userAgent: CHROME,
      user: null,
      host: null,
      port: null,
      requestTime: 0.001,
    })
    expect(record(parser.parse(Buffer.from(UPSTREAMINFO.redirected)))).toMatchObject({
      ip: '203.0.113.9',
      user: 'alice',
      method: 'POST',
      status: 302,
      requestTime: 0.02,
    })
    expect(record(parser.parse(Buffer.from(UPSTREAMINFO.retried)))).toMatchObject({
      ip: '198.51.100.7',
      time: Date.UTC(2026, 1, 7, 11, 2, 42),
      status: 200,
      userAgent: 'curl/8.5.0',
      requestTime: 0.105,
    })
  })

  it('never rejects a line for its upstream fields: lists, redirects, `-`, unix sockets, IPv6, empty names', () => {
    for (const [shape, line] of Object.entries(UPSTREAMINFO)) {
      const result = parser.parse(Buffer.from(line))
      expect(isRejection(result), shape).toBe(false)
      expect(record(result).status, shape).toBeGreaterThan(0)
    }
    // A request nginx could not read still keeps its line, as in combined.
    expect(record(parser.parse(Buffer.from(UPSTREAMINFO.noUpstream)))).toMatchObject({
      ip: '2001:db8::9',
      method: null,
      requestLine: 'PATCHp /products/42 HTTP/1.1',
      status: 400,
      userAgent: null,
    })
  })

  it('gives every field combined gives, and the request time', () => {
    for (const line of Object.values(UPSTREAMINFO)) {
      const ours = record(parser.parse(Buffer.from(line)))
      const theirs = record(combined.parse(Buffer.from(line)))
      for (const key of RECORD_KEYS) expect(ours[key], key).toEqual(theirs[key])
      expect(ours.requestTime).not.toBeNull()
    }
  })

  it('rejects plain combined lines (no-match), so detection leaves them to combined', () => {
    for (const line of PLAIN_COMBINED) expect(parser.parse(Buffer.from(line))).toEqual({ rejected: 'no-match' })
  })

  it('is what auto detects for upstreaminfo lines, and never for combined lines', () => {
    expect(detectedName(buffers(Object.values(UPSTREAMINFO)))).toBe('ingress_nginx')
    expect(detectedName(buffers([UPSTREAMINFO.single]))).toBe('ingress_nginx')
    expect(detectedName(buffers(PLAIN_COMBINED))).toBe('combined')
    expect(detectedName(buffers(PLAIN_COMBINED.map((l) => `${l} "198.51.100.1" rt=0.003`)))).toBe('combined')
    // An nginx combined log with extra numeric fields is still combined.
    expect(detectedName(buffers(PLAIN_COMBINED.map((l) => `${l} 512 0.004`)))).toBe('combined')
  })

  it('resolves from its name and aliases', async () => {
    for (const spec of ['ingress_nginx', 'ingress-nginx', 'ingress', 'upstreaminfo']) {
      expect(((await resolveFormat(spec)) as LogParser).name).toBe('ingress_nginx')
    }
  })
})

describe('nginx: formats with upstream variables', () => {
  it('read the upstream lists nginx writes instead of rejecting the line', () => {
    const p = compileNginxFormat(`${INGRESS_NGINX_LOG_FORMAT} $upstream_connect_time`)
    expect(record(p.parse(Buffer.from(`${UPSTREAMINFO.retried} 0.001, 0.002`)))).toMatchObject({ ip: '198.51.100.7', status: 200, requestTime: 0.105 })
    const timed = compileNginxFormat('$remote_addr [$time_local] "$request" $status urt=$upstream_response_time $upstream_addr')
    const line = '203.0.113.5 [07/Feb/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 urt=0.100, 0.004 : 0.002 192.0.2.16:8080, 192.0.2.17:8080 : 192.0.2.18:80'
    expect(record(timed.parse(Buffer.from(line)))).toMatchObject({ ip: '203.0.113.5', path: '/', status: 200 })
  })
})

describe.skipIf(!existsSync(ingressFixture))('ingress-nginx lines from Filebeat fixtures (../shared/corpus)', () => {
  const lines = readFileSync(ingressFixture, 'latin1')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => Buffer.from(l, 'latin1'))

  it('auto detects ingress_nginx and every line parses, with combined fields and the request time', () => {
    expect(detectedName(lines)).toBe('ingress_nginx')
    const parser = createIngressNginxParser()
    for (const line of lines) {
      const ours = record(parser.parse(line))
      const theirs = record(combined.parse(line))
      for (const key of RECORD_KEYS) expect(ours[key], key).toEqual(theirs[key])
      expect(typeof ours.requestTime).toBe('number')
    }
  })
})
