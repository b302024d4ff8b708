// `--format auto` detection and `--format` resolution (built-in names, nginx:/apache: definitions,
// third-party parser modules).
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { detectFormat } from '../parsers/detect.js'
import { BUILTIN_FORMAT_NAMES, builtinParsers, resolveFormat, safeParser } from '../parsers/registry.js'
import { FormatError, isRejection, type LogParser, type ParseResult } from '../parsers/types.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const corpus = resolve(repoRoot, '../shared/corpus')
const haveCorpus = existsSync(corpus)

const lines = (...text: string[]): Buffer[] => text.map((t) => Buffer.from(t))

function fileSample(path: string, max = 100): Buffer[] {
  let buf = readFileSync(path)
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf)
  return buf
    .toString('latin1')
    .split('\n')
    .slice(0, max)
    .map((l) => Buffer.from(l.replace(/\r$/, ''), 'latin1'))
}

function detectedName(sample: Buffer[]): string {
  const result = detectFormat(sample, builtinParsers())
  if (!result.ok) throw new Error(`no format detected: ${result.reason} (line ${result.firstFailedLine})`)
  return result.parser.name
}

const COMBINED = [
  '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /pricing?ref=ad HTTP/1.1" 200 512 "https://www.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"',
  '198.51.100.7 - alice [20/Nov/2026:10:00:01 +0100] "POST /login HTTP/1.1" 302 0 "-" "curl/8.5.0"',
  '2001:db8::9 - - [20/Nov/2026:10:00:02 +0100] "GET / HTTP/2.0" 200 1024 "-" "Mozilla/5.0"',
]
const COMMON = [
  '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /pricing HTTP/1.1" 200 512',
  '198.51.100.7 - bob [20/Nov/2026:10:00:01 +0100] "GET /docs HTTP/1.0" 404 -',
]
const VHOST_COMBINED = [
  'www.example.com:443 203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
  'shop.example.com:80 198.51.100.7 - - [20/Nov/2026:10:00:01 +0100] "GET /cart HTTP/1.1" 200 99 "https://shop.example.com/" "curl/8.5.0"',
]
const NGINX_JSON = [
  '{"time_iso8601":"2026-11-20T10:00:00+01:00","remote_addr":"203.0.113.5","request":"GET / HTTP/1.1","status":200,"body_bytes_sent":12,"http_referer":"","http_user_agent":"curl/8.5.0"}',
  '{"time_iso8601":"2026-11-20T10:00:01+01:00","remote_addr":"2001:db8::9","request":"GET /a HTTP/1.1","status":404,"body_bytes_sent":0,"http_referer":"","http_user_agent":"curl/8.5.0"}',
]

describe('detectFormat on the built-in parsers', () => {
  it('picks combined for combined lines, also with trailing extra fields', () => {
    expect(detectedName(lines(...COMBINED))).toBe('combined')
    expect(detectedName(lines(...COMBINED.map((l) => `${l} "198.51.100.1" rt=0.003`)))).toBe('combined')
  })

  it('picks common for common lines and vhost_combined for vhost lines', () => {
    expect(detectedName(lines(...COMMON))).toBe('common')
    expect(detectedName(lines(...VHOST_COMBINED))).toBe('vhost_combined')
  })

  it('picks nginx_json, caddy_json and traefik_json for their lines', () => {
    expect(detectedName(lines(...NGINX_JSON))).toBe('nginx_json')
    expect(detectedName(fileSample(join(repoRoot, 'fixtures/json/nginx-escape-json.log')))).toBe('nginx_json')
    expect(detectedName(fileSample(join(repoRoot, 'fixtures/json/matomo-nginx.log')))).toBe('nginx_json')
    expect(detectedName(fileSample(join(repoRoot, 'fixtures/json/caddy.log')))).toBe('caddy_json')
    expect(detectedName(fileSample(join(repoRoot, 'fixtures/json/traefik.log')))).toBe('traefik_json')
  })

  it('picks ingress_nginx for ingress-nginx upstreaminfo lines, and combined (never ingress_nginx) for combined ones', () => {
    const upstreaminfo = COMBINED.map(
      (l, i) => `${l} ${300 + i} 0.00${i + 1} [default-web-8080] [] 192.0.2.15:8080, 192.0.2.16:8080 59, 0 0.001, - 200, - 529a007902362a5f51385a5fa704988${i}`,
    )
    expect(detectedName(lines(...upstreaminfo))).toBe('ingress_nginx')
    expect(detectedName(lines(...COMBINED))).toBe('combined')
    expect(detectedName(lines(...COMBINED.map((l) => `${l} 512 0.004 [default-web-8080]`)))).toBe('combined')
    const ingress = builtinParsers().find((p) => p.name === 'ingress_nginx')!
    expect(ingress.detect(lines(...COMBINED, ...COMMON, ...VHOST_COMBINED, ...NGINX_JSON))).toBe(0)
  })

  it('ignores empty lines in the sample', () => {
    expect(detectedName(lines('', COMBINED[0]!, '', COMBINED[1]!, ''))).toBe('combined')
  })

  it('an empty sample is reason "empty"', () => {
    for (const sample of [[], lines(''), lines('', '  ', '\r')]) {
      const result = detectFormat(sample, builtinParsers())
      expect(result).toMatchObject({ ok: false, reason: 'empty' })
    }
  })

  it('garbage matches nothing and names the first line no format reads (1-based, empty lines counted)', () => {
    const sample = lines('', 'hello world', 'Nov 20 10:00:00 host sshd[1]: Accepted publickey')
    const result = detectFormat(sample, builtinParsers())
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.firstFailedLine).toBe(2)
    expect(result.tried.sort()).toEqual([...BUILTIN_FORMAT_NAMES].sort())
    expect(result.reason).not.toBe('empty')
  })

  it('a sample mostly of another format does not match', () => {
    const sample = lines(COMBINED[0]!, 'junk 1', 'junk 2', 'junk 3')
    const result = detectFormat(sample, builtinParsers())
    expect(result).toMatchObject({ ok: false, firstFailedLine: 2 })
  })
})

describe('detectFormat mechanics', () => {
  const fixed = (name: string, score: number): LogParser => ({
    name,
    detect: () => score,
    parse: (): ParseResult => ({ rejected: 'no-match' }),
  })

  it('the highest score wins; ties go to the earlier candidate', () => {
    const sample = lines('x')
    expect(detectFormat(sample, [fixed('a', 0.6), fixed('b', 0.9)])).toMatchObject({ ok: true, score: 0.9 })
    const tie = detectFormat(sample, [fixed('specific', 1), fixed('general', 1)])
    expect(tie.ok && tie.parser.name).toBe('specific')
  })

  it('a score below 0.5 is no match; a detect() that throws or returns junk counts as 0', () => {
    const throwing: LogParser = {
      name: 't',
      detect: () => {
        throw new Error('boom')
      },
      parse: () => ({ rejected: 'x' }),
    }
    const junk: LogParser = { name: 'j', detect: () => Number.NaN, parse: () => ({ rejected: 'x' }) }
    expect(detectFormat(lines('x'), [fixed('low', 0.49), throwing, junk])).toMatchObject({ ok: false, tried: ['low', 't', 'j'] })
    expect(detectFormat(lines('x'), [throwing, fixed('ok', 0.5)])).toMatchObject({ ok: true, score: 0.5 })
  })
})

describe.skipIf(!haveCorpus)('detectFormat on corpus files (../shared/corpus)', () => {
  it.each([
    ['local-nginx/access.log', 'combined'],
    ['local-nginx/access.timed.log', 'combined'],
    ['local-nginx/access.vhost.log', 'vhost_combined'],
    ['local-nginx/access.json.log', 'nginx_json'],
    ['local-nginx/access.json.log.2.gz', 'nginx_json'],
    ['spiderstrategies-nginx-json/access.log.gz', 'nginx_json'],
    ['lnav-test-logs/logfile_caddy_log.1', 'caddy_json'],
    ['crowdsec-hub-tests/caddy-logs__caddy-logs.log', 'caddy_json'],
    ['crowdsec-hub-tests/traefik_json__traefik_json.log', 'traefik_json'],
    ['matomo-log-analytics-tests/traefik_json.log', 'traefik_json'],
    ['matomo-log-analytics-tests/nginx_json.log', 'nginx_json'],
    ['matomo-log-analytics-tests/common.log', 'common'],
    ['elastic-examples-apache_logs/apache_logs', 'combined'],
    ['elastic-beats-filebeat-fixtures/nginx-ingress_controller__test.log', 'ingress_nginx'],
    ['elastic-beats-filebeat-fixtures/nginx-access__access.log', 'combined'],
  ])('%s -> %s', (file, format) => {
    const path = join(corpus, file)
    expect(existsSync(path), `corpus file ${file}`).toBe(true)
    expect(detectedName(fileSample(path))).toBe(format)
  })
})

describe('resolveFormat', () => {
  it('auto, every built-in name (case and - tolerant), fresh instances per builtinParsers() call', async () => {
    expect(await resolveFormat('auto')).toBe('auto')
    for (const name of BUILTIN_FORMAT_NAMES) expect(((await resolveFormat(name)) as LogParser).name).toBe(name)
    expect(((await resolveFormat('Vhost-Combined')) as LogParser).name).toBe('vhost_combined')
    expect(((await resolveFormat('json')) as LogParser).name).toBe('nginx_json')
    const names = builtinParsers().map((p) => p.name)
    expect(names.sort()).toEqual([...BUILTIN_FORMAT_NAMES].sort())
    // Parsers with per-run caches come fresh from each call (caddy_json/traefik_json keep none).
    const [first, second] = [builtinParsers(), builtinParsers()]
    for (const name of ['nginx_json', 'combined', 'vhost_combined']) {
      expect(first.find((p) => p.name === name)).not.toBe(second.find((p) => p.name === name))
    }
  })

  it('passes --field options to nginx_json', async () => {
    const parser = (await resolveFormat('nginx_json', { fieldMap: { ip: 'who' } })) as LogParser
    const r = parser.parse(Buffer.from('{"who":"192.0.2.3","request":"GET / HTTP/1.1","status":200}'))
    expect(r).toMatchObject({ ip: '192.0.2.3' })
  })

  it('an unknown name is a FormatError listing the valid ones', async () => {
    await expect(resolveFormat('apache_combined')).rejects.toThrow(FormatError)
    await expect(resolveFormat('apache_combined')).rejects.toThrow(/combined, common, vhost_combined.*nginx_json.*module:/)
  })

  it('nginx:/apache: compile a format definition; an empty one is a FormatError', async () => {
    const nginx = (await resolveFormat('nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent')) as LogParser
    expect(nginx.parse(Buffer.from('192.0.2.8 - - [20/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 5'))).toMatchObject({
      ip: '192.0.2.8',
      path: '/x',
      status: 200,
    })
    const apache = (await resolveFormat('apache:%h %l %u %t "%r" %>s %b')) as LogParser
    expect(apache.parse(Buffer.from('192.0.2.8 - - [20/Nov/2026:10:00:00 +0000] "GET /y HTTP/1.1" 404 -'))).toMatchObject({
      path: '/y',
      status: 404,
    })
    await expect(resolveFormat('nginx:')).rejects.toThrow(FormatError)
    await expect(resolveFormat('apache:  ')).rejects.toThrow(FormatError)
  })
})

describe('third-party parser modules (module:)', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('loads the example module by a path relative to the working directory', async () => {
    vi.spyOn(process, 'cwd').mockReturnValue(repoRoot)
    const parser = (await resolveFormat('module:./fixtures/plugins/pipe-format.mjs')) as LogParser
    expect(parser.name).toBe('pipe')
    const r = parser.parse(Buffer.from('203.0.113.5|2026-11-20T10:00:00Z|GET|/pricing?ref=ad|200|512|Mozilla/5.0'))
    expect(r).toMatchObject({ ip: '203.0.113.5', method: 'GET', path: '/pricing', query: 'ref=ad', status: 200, time: Date.UTC(2026, 10, 20, 10) })
    expect(parser.parse(Buffer.from('not a pipe line'))).toEqual({ rejected: 'no-match' })
    expect(detectFormat(lines('192.0.2.1|2026-11-20T10:00:00Z|GET|/|200|1|x'), [...builtinParsers(), parser])).toMatchObject({
      ok: true,
      parser: { name: 'pipe' },
    })
  })

  it('a module without parse() is a FormatError that says what is missing', async () => {
    const spec = `module:${join(repoRoot, 'fixtures/plugins/no-parse.mjs')}`
    await expect(resolveFormat(spec)).rejects.toThrow(FormatError)
    await expect(resolveFormat(spec)).rejects.toThrow(/parse\(line\)/)
  })

  it('a parser that throws or returns junk yields parser-error rejections, never a crash', async () => {
    const parser = (await resolveFormat(`module:${join(repoRoot, 'fixtures/plugins/throws.mjs')}`)) as LogParser
    expect(parser.parse(Buffer.from('boom'))).toEqual({ rejected: 'parser-error' })
    expect(parser.parse(Buffer.from('weird'))).toEqual({ rejected: 'parser-error' })
    const ok = parser.parse(Buffer.from('fine'))
    expect(isRejection(ok)).toBe(false)
    expect(ok).toMatchObject({ path: '/fine', requestLine: null })
    expect(parser.detect(lines('boom'))).toBe(0)
  })

  it('a missing module is a FormatError', async () => {
    await expect(resolveFormat(`module:${join(dir, 'nope.mjs')}`)).rejects.toThrow(/cannot load/)
    await expect(resolveFormat('module:')).rejects.toThrow(FormatError)
  })

  it('accepts createParser(options), a default factory, a CommonJS module and a package name', async () => {
    const body = `{ name: 'made', detect: () => 1, parse: () => ({ rejected: String(options.fieldMap?.x) }) }`
    await writeFile(join(dir, 'factory.mjs'), `export function createParser(options) { return ${body} }\n`)
    await writeFile(join(dir, 'default-factory.mjs'), `export default function (options) { return ${body} }\n`)
    await writeFile(join(dir, 'plain.cjs'), `module.exports = { parser: { name: 'cjs', detect: () => 0, parse: () => ({ rejected: 'cjs' }) } }\n`)
    const pkg = join(dir, 'node_modules', 'swx-parser-example')
    await mkdir(pkg, { recursive: true })
    await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'swx-parser-example', type: 'module', main: 'index.js' }))
    await writeFile(join(pkg, 'index.js'), `export const parser = { name: 'pkg', detect: () => 0, parse: () => ({ rejected: 'pkg' }) }\n`)
    await writeFile(join(dir, 'nothing.mjs'), `export const unrelated = 1\n`)

    const options = { fieldMap: { x: 'y' } }
    vi.spyOn(process, 'cwd').mockReturnValue(dir)
    for (const file of ['./factory.mjs', './default-factory.mjs']) {
      const p = (await resolveFormat(`module:${file}`, options)) as LogParser
      expect(p.name).toBe('made')
      expect(p.parse(Buffer.from('x'))).toEqual({ rejected: 'y' })
    }
    expect(((await resolveFormat('module:./plain.cjs')) as LogParser).name).toBe('cjs')
    expect(((await resolveFormat('module:swx-parser-example')) as LogParser).name).toBe('pkg')
    await expect(resolveFormat('module:./nothing.mjs')).rejects.toThrow(/exports no parser/)
  })

  it('safeParser clamps detect scores into [0, 1]', () => {
    const wild: LogParser = { name: 'w', detect: () => 7, parse: () => ({ rejected: 'x' }) }
    expect(safeParser(wild).detect([])).toBe(1)
    expect(safeParser({ ...wild, detect: () => -3 }).detect([])).toBe(0)
  })
})

describe('detectFormat and comment lines', () => {
  it('scores only records: `#` comment lines (annotated or W3C-style logs) do not hide the format', () => {
    const record = '192.0.2.8 - - [05/Mar/2026:14:39:21 +0100] "GET /a HTTP/1.1" 200 459 "-" "Mozilla/5.0"'
    const sample = [`# note: { "match": true }`, record, '', `# note: { "match": false }`, '# another', record].map((l) => Buffer.from(l))
    const result = detectFormat(sample, builtinParsers())
    expect(result.ok && result.parser.name).toBe('combined')
    const onlyComments = detectFormat([Buffer.from('# just a comment')], builtinParsers())
    expect(onlyComments.ok).toBe(false)
  })
})

describe('the CDN, load-balancer and ingress formats take no line of the other formats', () => {
  const NEW_FORMATS = ['w3c', 'aws_alb', 'aws_elb', 'haproxy', 'cloudflare_json', 'ingress_nginx']
  const files = [
    ...['combined', 'common', 'edge-cases', 'traefik_clf', 'vhost_combined', 'vhost_common'].map((f) => join(repoRoot, 'fixtures', 'clf', `${f}.log`)),
    ...['caddy', 'custom-keys', 'matomo-nginx', 'nginx-escape-default', 'nginx-escape-json', 'traefik'].map((f) =>
      join(repoRoot, 'fixtures', 'json', `${f}.log`),
    ),
    join(repoRoot, 'fixtures', 'sample.access.log'),
    ...(haveCorpus
      ? [
          'local-nginx/access.log',
          'local-nginx/access.timed.log',
          'local-nginx/access.vhost.log',
          'local-nginx/access.json.log',
          'elastic-examples-apache_logs/apache_logs',
          'lnav-test-logs/logfile_caddy_log.1',
          'crowdsec-hub-tests/traefik_json__traefik_json.log',
          'advertools-logs_testing/combined_latin1_enc.log',
        ].map((f) => join(corpus, f))
      : []),
  ]
  it.each(files)('%s', (path) => {
    const sample = fileSample(path, 400).filter((l) => l.length > 0 && l[0] !== 0x23)
    for (const parser of builtinParsers().filter((p) => NEW_FORMATS.includes(p.name))) {
      const fresh = parser.forInput?.() ?? parser
      const taken = sample.filter((l) => !isRejection(fresh.parse(l)))
      expect(
        taken.map((l) => l.toString('latin1').slice(0, 80)),
        parser.name,
      ).toEqual([])
    }
    // And detection still picks what it picked before these formats existed.
    const before = detectFormat(
      sample,
      builtinParsers().filter((p) => !NEW_FORMATS.includes(p.name)),
    )
    const now = detectFormat(sample, builtinParsers())
    expect(now.ok && now.parser.name).toBe(before.ok && before.parser.name)
  })
})
