// The CDN, load-balancer and Windows formats: W3C extended (IIS, CloudFront, Incapsula, SHOUTcast),
// AWS ELB/ALB, HAProxy httplog and Cloudflare Logpush, on fixtures (documentation addresses only),
// through the real CLI where the per-file behaviour matters, and on the corpus files of these formats.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it } from 'vitest'
import { detectFormat } from '../parsers/detect.js'
import { builtinParsers, resolveFormat } from '../parsers/registry.js'
import { parserForInput, type LogParser } from '../parsers/types.js'
import { replayDirectives } from '../src/pipeline/directives.js'
import { recordJson } from '../src/record-json.js'

const run = promisify(execFile)
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(repoRoot, 'bin', 'swetrix-ingest.js')
const fixtures = join(repoRoot, 'fixtures', 'cdn')
const corpus = resolve(repoRoot, '../shared/corpus')
const haveCorpus = existsSync(corpus)

function fileLines(path: string): Buffer[] {
  const text = readFileSync(path)
  const out: Buffer[] = []
  let start = 0
  for (let nl = text.indexOf(10); nl !== -1; nl = text.indexOf(10, start)) {
    out.push(text.subarray(start, nl > start && text[nl - 1] === 13 ? nl - 1 : nl))
    start = nl + 1
  }
  if (start < text.length) out.push(text.subarray(start))
  return out
}

/** Every line of a file through one per-input instance, as `--records` objects. */
async function records(format: string, path: string): Promise<Array<Record<string, unknown>>> {
  const parser = parserForInput((await resolveFormat(format)) as LogParser)
  return fileLines(path).map((line, i) => recordJson(parser.parse(line), i + 1, 0))
}

/** One file of `check --json`. */
interface FileSummary {
  path: string
  format: string | null
  lines: number
  parsed: number
  rejected: number
  events: Record<string, number>
  skipped: Record<string, number>
  rejectedReasons: Record<string, number>
}

async function checkJson(...args: string[]): Promise<FileSummary> {
  const { stdout } = await run(process.execPath, [cli, 'check', '--json', ...args])
  return (JSON.parse(stdout) as { files: FileSummary[] }).files[0]!
}

async function checkRecords(...args: string[]): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await run(process.execPath, [cli, 'check', '--records', ...args])
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
}

const detected = (path: string): string => {
  const r = detectFormat(fileLines(path), builtinParsers())
  return r.ok ? r.parser.name : `none: ${r.reason}`
}

describe('w3c', () => {
  it('reads the layout from #Fields: and switches when a new #Fields: comes half-way (IIS restart)', async () => {
    const r = await records('w3c', join(fixtures, 'iis-restart.log'))
    expect(r.slice(0, 4).map((x) => x['reason'])).toEqual(['directive', 'directive', 'directive', 'directive'])
    expect(r[4]).toMatchObject({
      valid: true,
      ip: '203.0.113.5',
      time: '2026-11-20T10:00:00Z',
      method: 'GET',
      path: '/default.aspx',
      query: 'utm_source=news',
      status: 200,
      bytes: null,
      referrer: 'https://www.example.com/',
      port: 443,
      host: null,
      // IIS writes a space as "+": read back as the User-Agent the browser sent.
      user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    })
    expect(r[6]).toMatchObject({ ip: '2001:db8::7', method: 'POST', user: 'alice', status: 302, referrer: null })
    // After the second #Fields: the columns are different: sc-bytes, cs-host, no s-port.
    expect(r[11]).toMatchObject({
      ip: '198.51.100.20',
      time: '2026-11-20T11:00:00Z',
      path: '/products/item-42',
      query: 'id=42',
      status: 200,
      bytes: 5120,
      host: 'www.example.com',
      port: null,
      referrer: 'https://search.example.net/?q=item',
    })
    expect(r[12]).toMatchObject({ path: '/missing', query: null, status: 404, bytes: 1245 })
    expect(r[13]).toMatchObject({ user_agent: 'curl/8.5.0', status: 503 })
  })

  it('check counts # lines as skipped directives, not rejections, and maps the records', async () => {
    const f = await checkJson(join(fixtures, 'iis-restart.log'))
    expect(f.format).toBe('w3c')
    expect(f).toMatchObject({ lines: 14, rejected: 0, parsed: 14 })
    // The 503 is from curl: a bot, skipped like every bot's error.
    expect(f.skipped).toMatchObject({ directive: 8, static: 1, method: 1, status: 1, bot: 1 })
    expect(f.events).toEqual({ pageview: 2, error: 0, custom: 0 })
  })

  it('CloudFront: tab-separated, the User-Agent percent-decoded once, the site host from x-host-header', async () => {
    const r = await checkRecords(join(fixtures, 'cloudfront.log'))
    expect(r[0]).toMatchObject({ valid: false, reason: 'directive', outcome: 'skip:directive' })
    expect(r[2]).toMatchObject({
      ip: '203.0.113.10',
      time: '2026-11-20T10:00:00Z',
      method: 'GET',
      path: '/blog/post-1',
      query: 'ref=newsletter',
      http_version: '2.0',
      status: 200,
      bytes: 5120,
      host: 'www.example.com',
      referrer: 'https://www.example.com/',
      user_agent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      outcome: 'pageview',
    })
    // Encoded twice in the log: decoded once, the second level stays (see docs/formats.md, debatable cases).
    expect(r[3]).toMatchObject({ ip: '2001:db8::10', user_agent: 'Mozilla/5.0%20(double%20encoded)' })
  })

  it('quoted values (Incapsula), cs-uri with the host, a missing cs-method read as GET (SHOUTcast)', () => {
    const p = parserForInput(builtinParsers().find((b) => b.name === 'w3c')!)
    p.parse(Buffer.from('#Fields: date time c-ip cs-method cs-uri cs-uri-query sc-status cs(User-Agent) cs(Referrer)'))
    expect(
      p.parse(Buffer.from('"2026-11-20" "10:00:00" "203.0.113.7" "GET" "WWW.Example.com/page.php" "a=1" "200" "Mozilla/5.0 (X11; ""quoted"")" ""')),
    ).toMatchObject({
      ip: '203.0.113.7',
      method: 'GET',
      host: 'www.example.com',
      path: '/page.php',
      query: 'a=1',
      status: 200,
      userAgent: 'Mozilla/5.0 (X11; "quoted")',
      referrer: null,
    })
    p.parse(Buffer.from('#Fields: c-ip date time cs-uri-stem c-status cs(User-Agent) sc-bytes'))
    expect(p.parse(Buffer.from('203.0.113.8 2026-11-20 10:00:05 /stream?title=A%20B 200 NSPlayer%2F10.0 65580'))).toMatchObject({
      method: 'GET',
      path: '/stream',
      query: 'title=A%20B',
      status: 200,
      userAgent: 'NSPlayer/10.0',
      bytes: 65580,
    })
  })

  it('a layout with time but no date takes the date of the #Date: directive (the W3C draft example)', () => {
    const p = parserForInput(builtinParsers().find((b) => b.name === 'w3c')!)
    for (const l of ['#Version: 1.0', '#Date: 12-Jan-1996 00:00:00', '#Fields: time c-ip cs-method cs-uri']) p.parse(Buffer.from(l))
    expect(p.parse(Buffer.from('00:34:23 192.0.2.3 GET /foo/bar.html'))).toMatchObject({ time: Date.UTC(1996, 0, 12, 0, 34, 23), path: '/foo/bar.html' })
  })

  it('without #Fields: the IIS default layout is assumed; lines of other formats are not taken', () => {
    const p = parserForInput(builtinParsers().find((b) => b.name === 'w3c')!)
    const iis = '2026-11-20 10:00:00 192.0.2.1 GET /a - 80 - 203.0.113.5 Mozilla/5.0 - 200 0 0 15'
    expect(p.parse(Buffer.from(iis))).toMatchObject({ ip: '203.0.113.5', path: '/a', status: 200 })
    const clf = '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0" x y z'
    expect(p.parse(Buffer.from(clf))).toHaveProperty('rejected')
    expect(p.parse(Buffer.from('just some words'))).toEqual({ rejected: 'no-fields-directive' })
  })

  it('each input gets its own layout: a #Fields: in one file does not leak into the next', () => {
    const template = builtinParsers().find((b) => b.name === 'w3c')!
    const a = parserForInput(template)
    const b = parserForInput(template)
    a.parse(Buffer.from('#Fields: c-ip date time cs-uri-stem sc-status'))
    expect(a.parse(Buffer.from('203.0.113.1 2026-11-20 10:00:00 /x 200'))).toMatchObject({ path: '/x' })
    expect(b.parse(Buffer.from('203.0.113.1 2026-11-20 10:00:00 /x 200'))).toHaveProperty('rejected')
  })

  it('a read that resumes half-way gets the #Fields: in force there (replayDirectives)', async () => {
    const path = join(fixtures, 'iis-restart.log')
    const text = readFileSync(path, 'latin1')
    const resumeAt = text.indexOf('2026-11-20 11:00:01')
    const p = parserForInput(builtinParsers().find((b) => b.name === 'w3c')!)
    await replayDirectives(p, { path }, resumeAt, 64 * 1024)
    const line = text.slice(resumeAt, text.indexOf('\n', resumeAt))
    expect(p.parse(Buffer.from(line, 'latin1'))).toMatchObject({ path: '/missing', bytes: 1245, host: 'www.example.com' })
  })

  it('a #Fields: header is decisive for detection, also when the data lines alone would fit nothing', () => {
    expect(detected(join(fixtures, 'iis-restart.log'))).toBe('w3c')
    expect(detected(join(fixtures, 'cloudfront.log'))).toBe('w3c')
    const odd = [Buffer.from('#Fields: x-a x-b'), Buffer.from('1 2')]
    expect(detectFormat(odd, builtinParsers())).toMatchObject({ ok: true, parser: { name: 'w3c' } })
  })

  it('aliases iis and cloudfront resolve to w3c', async () => {
    expect(((await resolveFormat('iis')) as LogParser).name).toBe('w3c')
    expect(((await resolveFormat('cloudfront')) as LogParser).name).toBe('w3c')
  })
})

describe('aws_elb and aws_alb', () => {
  it('ALB: client without its port, host/port/path/query from the request URL, IPv6 client, a 400 for an unparsable request', async () => {
    const r = await records('aws_alb', join(fixtures, 'alb.log'))
    expect(r[0]).toMatchObject({
      ip: '203.0.113.5',
      time: '2026-11-20T10:00:00.127531Z',
      method: 'GET',
      path: '/pricing',
      query: 'plan=pro',
      http_version: '1.1',
      status: 200,
      bytes: 24950,
      host: 'www.example.com',
      port: 443,
      referrer: null,
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
    })
    expect(r[1]).toMatchObject({ ip: '2001:db8::5', status: 503, http_version: '2.0', path: '/checkout' })
    expect(r[2]).toMatchObject({ valid: true, method: null, status: 400, request_line: '- http://www.example.com:80- -' })
  })

  it('classic ELB: the TCP-listener entry is a record without a request', async () => {
    const r = await records('aws_elb', join(fixtures, 'elb.log'))
    expect(r[0]).toMatchObject({
      ip: '203.0.113.5',
      time: '2026-11-20T10:00:00.945958Z',
      path: '/docs/index.html',
      status: 200,
      bytes: 57,
      host: 'www.example.com',
    })
    expect(r[1]).toMatchObject({ ip: '198.51.100.8', path: '/search', query: 'q=w3c', port: 80 })
    expect(r[2]).toMatchObject({ valid: true, ip: '198.51.100.9', method: null, path: null, status: null, bytes: 305, request_line: '- - - ' })
  })

  it('ELB and ALB lines are told apart by detection', () => {
    expect(detected(join(fixtures, 'alb.log'))).toBe('aws_alb')
    expect(detected(join(fixtures, 'elb.log'))).toBe('aws_elb')
  })
})

describe('haproxy', () => {
  it('with and without the syslog prefix; the captured Host and User-Agent read by their shape', async () => {
    const r = await records('haproxy', join(fixtures, 'haproxy.log'))
    const local = (iso: string): number => new Date(iso).getTime() // HAProxy logs local time, read in the machine's zone without --timezone (docs/formats.md)
    expect(r[0]).toMatchObject({
      ip: '203.0.113.5',
      method: 'GET',
      path: '/pricing',
      query: 'plan=pro',
      status: 200,
      bytes: 7456,
      host: 'www.example.com',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0',
    })
    expect(Date.parse(r[0]!['time'] as string)).toBe(local('2026-11-20T10:00:00.584'))
    expect(r[1]).toMatchObject({ ip: '203.0.113.6', path: '/missing', status: 404, host: null, user_agent: null })
    expect(r[2]).toMatchObject({ ip: '2001:db8::9', method: 'POST', status: 503, host: 'shop.example.com', port: 8443, user_agent: 'curl/8.5.0' })
    expect(r[3]).toMatchObject({ valid: false, reason: 'not-access-record' })
  })

  it('an option tcplog entry is a record without a request; other HAProxy lines are not access records', async () => {
    const parser = (await resolveFormat('haproxy')) as LogParser
    const tcp = 'Nov 20 10:00:00 lb1 haproxy[6801]: 203.0.113.5:38862 [20/Nov/2026:10:00:00.726] fe~ be/s1 0/0/1 1234 -- 6/6/0/0/0 0/0'
    expect(parser.parse(Buffer.from(tcp))).toMatchObject({ ip: '203.0.113.5', method: null, status: null, bytes: 1234, requestTime: 0.001 })
    expect(parser.parse(Buffer.from('Nov 20 10:00:00 lb1 haproxy[6801]: Proxy fe started.'))).toEqual({ rejected: 'not-access-record' })
  })

  it('an RFC 5424 syslog prefix works too', async () => {
    const parser = (await resolveFormat('haproxy')) as LogParser
    const line =
      '<134>1 2026-11-20T10:00:00.584Z lb1 haproxy 6801 - - 203.0.113.5:55008 [20/Nov/2026:10:00:00.584] fe be/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 "GET /x HTTP/1.1"'
    expect(parser.parse(Buffer.from(line))).toMatchObject({ ip: '203.0.113.5', path: '/x', status: 200 })
  })

  it('capture positions are configurable with --field (1-based)', async () => {
    const parser = (await resolveFormat('haproxy', { fieldMap: { userAgent: '1', referrer: '2' } })) as LogParser
    const line =
      '203.0.113.5:1 [20/Nov/2026:10:00:00.000] fe be/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 {Mozilla/5.0 (X11)|https://www.example.com/} "GET / HTTP/1.1"'
    expect(parser.parse(Buffer.from(line))).toMatchObject({ userAgent: 'Mozilla/5.0 (X11)', referrer: 'https://www.example.com/', host: null })
  })

  it('is detected, also when HAProxy event lines are mixed in', () => {
    expect(detected(join(fixtures, 'haproxy.log'))).toBe('haproxy')
  })
})

describe('cloudflare_json', () => {
  it('EdgeStartTimestamp as RFC 3339, Unix seconds or Unix nanoseconds', async () => {
    const r = await records('cloudflare_json', join(fixtures, 'cloudflare.ndjson'))
    expect(r[0]).toMatchObject({
      ip: '203.0.113.9',
      time: '2026-11-20T10:00:00Z',
      method: 'GET',
      path: '/blog/',
      query: 'utm_source=x',
      http_version: '2',
      status: 200,
      bytes: 12480,
      host: 'www.example.com',
      referrer: 'https://search.example.net/',
    })
    expect(r[1]).toMatchObject({ ip: '2001:db8::20', time: '2026-11-20T10:00:01Z', referrer: null, http_version: '1.1' })
    expect(r[2]).toMatchObject({ time: '2026-11-20T10:00:02.250Z', status: 502 })
    const p = (await resolveFormat('cloudflare')) as LogParser
    expect(p.parse(Buffer.from('{"ClientIP":"192.0.2.1","ClientRequestURI":"/","EdgeStartTimestamp":"1795168800"}'))).toMatchObject({
      time: Date.UTC(2026, 10, 20, 10),
    })
    expect(p.parse(Buffer.from('{"level":"info","msg":"not a request"}'))).toEqual({ rejected: 'not-access-record' })
  })

  it('is detected before nginx_json (which reads any JSON access record)', () => {
    expect(detected(join(fixtures, 'cloudflare.ndjson'))).toBe('cloudflare_json')
  })
})

describe('the real CLI on per-file formats', () => {
  it('check reads two W3C files with different layouts, each with its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swetrix-w3c-'))
    try {
      const a = join(dir, 'a.log')
      const b = join(dir, 'b.log')
      await writeFile(
        a,
        '#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)\n2026-11-20 10:00:00 203.0.113.1 GET /a 200 Mozilla/5.0+(X11)\n',
      )
      await writeFile(
        b,
        '#Fields: c-ip cs-uri-stem sc-status date time cs-method cs(User-Agent)\n203.0.113.2 /b 200 2026-11-20 10:00:01 GET Mozilla/5.0+(X11)\n',
      )
      const { stdout } = await run(process.execPath, [cli, 'check', '--records', a, b])
      const out = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      expect(out.filter((o) => o.valid).map((o) => [o.ip, o.path, o.time])).toEqual([
        ['203.0.113.1', '/a', '2026-11-20T10:00:00Z'],
        ['203.0.113.2', '/b', '2026-11-20T10:00:01Z'],
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('check on a large W3C file split across threads', () => {
  it('the thread reading the later part gets the #Fields: written before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'swetrix-w3c-big-'))
    try {
      const path = join(dir, 'u_ex261120.log')
      const ua = 'Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/124.0.0.0+Safari/537.36'
      const first = `2026-11-20 10:00:00 192.0.2.1 GET /a - 443 - 203.0.113.5 ${ua} https://www.example.com/ 200 0 0 15\n`
      const second = `2026-11-20 11:00:00 198.51.100.20 GET /b id=1 200 5120 ${ua} https://www.example.com/ www.example.com 22\n`
      // ~36 MB (above the 32 MB parallel threshold); the layout changes at about a fifth of the file,
      // so the second thread's part (from about half) is read with the second layout only.
      const n1 = 30_000
      const n2 = 150_000
      const text =
        '#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n' +
        first.repeat(n1) +
        '#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status sc-bytes cs(User-Agent) cs(Referer) cs-host time-taken\n' +
        second.repeat(n2)
      await writeFile(path, text)
      const f = await checkJson('--threads', '2', path)
      expect(f).toMatchObject({ format: 'w3c', lines: n1 + n2 + 2, rejected: 0 })
      expect(f.skipped.directive).toBe(2)
      expect(f.events.pageview).toBe(n1 + n2)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

/** Corpus files of these formats: every line is a record, a skipped directive, or a rejection with a reason. */
const CORPUS_FILES = [
  ['matomo-log-analytics-tests/iis.log', 'w3c', { directive: 4 }, {}],
  ['matomo-log-analytics-tests/iis_custom.log', 'w3c', { directive: 4 }, { empty: 3 }],
  ['matomo-log-analytics-tests/amazon_cloudfront_web.log', 'w3c', { directive: 2 }, {}],
  ['matomo-log-analytics-tests/amazon_cloudfront_rtmp.log', 'w3c', { directive: 2 }, {}],
  ['matomo-log-analytics-tests/incapsula_w3c.log', 'w3c', { directive: 4 }, {}],
  ['matomo-log-analytics-tests/netscaler.log', 'w3c', { directive: 4 }, {}],
  ['matomo-log-analytics-tests/shoutcast.log', 'w3c', { directive: 3 }, {}],
  ['matomo-log-analytics-tests/splitted_date_and_time.log', 'w3c', { directive: 1 }, {}],
  ['crowdsec-hub-tests/aws-cloudfront-logs__aws-cloudfront-logs.log', 'w3c', {}, {}],
  ['matomo-log-analytics-tests/elb.log', 'aws_elb', { malformed: 1 }, { comment: 1 }],
  ['matomo-log-analytics-tests/alb.log', 'aws_alb', {}, {}],
  ['crowdsec-hub-tests/aws-alb-logs__aws-alb-logs.log', 'aws_alb', {}, {}],
  ['elastic-beats-filebeat-fixtures/aws-elb__example-alb-http.log', 'aws_alb', { malformed: 2 }, { empty: 1 }],
  ['matomo-log-analytics-tests/haproxy.log', 'haproxy', {}, {}],
  ['crowdsec-hub-tests/haproxy-logs__haproxy-logs.log', 'haproxy', {}, { 'not-access-record': 3 }],
  ['crowdsec-hub-tests/haproxy-nextcloud-whitelist__haproxy-logs.log', 'haproxy', {}, {}],
  ['lnav-test-logs/logfile_cloudflare.1', 'cloudflare_json', {}, {}],
  ['lnav-test-logs/logfile_cloudflare.json', 'cloudflare_json', {}, {}],
] as const

describe.skipIf(!haveCorpus)('corpus files of these formats (../shared/corpus)', () => {
  // One check over all the files (one child process), each file detected on its own.
  let files: Map<string, FileSummary>
  beforeAll(async () => {
    const { stdout } = await run(process.execPath, [cli, 'check', '--json', ...CORPUS_FILES.map(([file]) => join(corpus, file))])
    files = new Map((JSON.parse(stdout) as { files: FileSummary[] }).files.map((f) => [f.path, f]))
  })

  it.each(CORPUS_FILES)('%s: detected as %s, every line classified', (file, format, skipped, rejected) => {
    const f = files.get(join(corpus, file))!
    expect(f.format).toBe(format)
    expect(f.lines).toBe(f.parsed + f.rejected)
    expect(f.rejectedReasons).toEqual(rejected)
    for (const [reason, n] of Object.entries(skipped)) expect(f.skipped[reason]).toBe(n)
  })
})
