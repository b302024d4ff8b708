// Many sites on one server, the pure part: which project a line goes to (by file, by host, the
// default, none), the config's `sites` validation, and the mapper emitting the routed pid.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMapper } from '../src/mapper/index.js'
import { createSiteMap, explainRefusedProject, parseSiteOption, SiteError, type SiteEntry } from '../src/mapper/sites.js'
import { ConfigError, loadConfig, siteEntries } from '../src/mapper/config.js'
import type { RequestRecord } from '../src/types.js'

const A = 'AAAAAAAAAAAA'
const B = 'BBBBBBBBBBBB'
const C = 'CCCCCCCCCCCC'
const D = 'DDDDDDDDDDDD'

const rec = (host: string | null, path = '/'): RequestRecord =>
  ({
    ip: '192.0.2.10',
    time: Date.UTC(2026, 10, 1),
    method: 'GET',
    path,
    query: null,
    httpVersion: 'HTTP/1.1',
    status: 200,
    bytes: 10,
    referrer: null,
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
    user: null,
    host,
    port: null,
  }) as unknown as RequestRecord

const sites = (...specs: string[]): SiteEntry[] => specs.map(parseSiteOption)

describe('routing by host (--site HOST=PROJECT)', () => {
  it('matches as --host does: www. and case ignored, a trailing dot too', () => {
    const map = createSiteMap(sites(`example.com=${A}`), null)
    for (const h of ['example.com', 'www.example.com', 'WWW.Example.COM', 'example.com.']) expect(map.projectFor({ host: h }, '/x.log'), h).toBe(A)
    expect(map.projectFor({ host: 'shop.example.com' }, '/x.log')).toBe(null)
    expect(map.projectFor({ host: 'notexample.com' }, '/x.log')).toBe(null)
  })

  it('*.example.org matches every subdomain, not the domain itself', () => {
    const map = createSiteMap(sites(`*.example.org=${B}`), D)
    expect(map.projectFor({ host: 'a.example.org' }, '/x.log')).toBe(B)
    expect(map.projectFor({ host: 'deep.a.EXAMPLE.org' }, '/x.log')).toBe(B)
    expect(map.projectFor({ host: 'example.org' }, '/x.log')).toBe(D)
  })

  it('the first matching entry wins', () => {
    const map = createSiteMap(sites(`shop.example.com=${A}`, `*.example.com=${B}`, `shop.example.com=${C}`), null)
    expect(map.projectFor({ host: 'shop.example.com' }, '/x.log')).toBe(A)
    expect(map.projectFor({ host: 'blog.example.com' }, '/x.log')).toBe(B)
    const reversed = createSiteMap(sites(`*.example.com=${B}`, `shop.example.com=${A}`), null)
    expect(reversed.projectFor({ host: 'shop.example.com' }, '/x.log')).toBe(B)
  })

  it('an unmapped host, or a line without a host, goes to the default project, else to none', () => {
    const withDefault = createSiteMap(sites(`example.com=${A}`), D)
    expect(withDefault.projectFor({ host: 'example.net' }, '/x.log')).toBe(D)
    expect(withDefault.projectFor({ host: null }, '/x.log')).toBe(D)
    const without = createSiteMap(sites(`example.com=${A}`), null)
    expect(without.projectFor({ host: 'example.net' }, '/x.log')).toBe(null)
    expect(without.projectFor({ host: null }, '/x.log')).toBe(null)
  })

  it('IPv6 hosts, bare or in brackets, match the bare address logs record', () => {
    const map = createSiteMap(sites(`2001:db8::80=${A}`, `[2001:db8::81]=${B}`), null)
    expect(map.projectFor({ host: '2001:db8::80' }, '/x.log')).toBe(A)
    expect(map.projectFor({ host: '2001:db8::81' }, '/x.log')).toBe(B)
  })

  it('rejects malformed --site values with one line naming the value', () => {
    for (const bad of [
      'example.com',
      `=${A}`,
      'example.com=',
      'example.com=short',
      `https://example.com=${A}`,
      `example.com/x=${A}`,
      `exa mple.com=${A}`,
      `example.com:8080=${A}`,
      `a.*.example.com=${A}`,
    ]) {
      expect(() => parseSiteOption(bad), bad).toThrow(SiteError)
      expect(() => parseSiteOption(bad), bad).toThrow(`--site ${bad}`)
    }
  })
})

describe("routing by file (the config sites' files)", () => {
  const entries: SiteEntry[] = [
    { label: 'sites[0]', project: A, hosts: ['example.com'], files: ['/var/log/nginx/example.access.log'] },
    { label: 'sites[1]', project: B, hosts: [], files: ['/var/log/nginx/org-*.log'] },
    { label: 'sites[2]', project: C, hosts: ['example.net'], files: ['logs/net.log'], baseDir: '/etc/swetrix' },
  ]
  const map = createSiteMap(entries, D)

  it('every line of a listed file goes to its site, whatever its host', () => {
    expect(map.projectFor({ host: 'example.net' }, '/var/log/nginx/example.access.log')).toBe(A)
    expect(map.projectFor({ host: null }, '/var/log/nginx/example.access.log')).toBe(A)
    expect(map.projectFor({ host: null }, '/var/log/nginx/org-blog.log')).toBe(B)
  })

  it('rotated siblings (.1, .2.gz, -YYYYMMDD[.gz]) of a listed file belong to the same site', () => {
    for (const f of ['.1', '.2.gz', '-20261126', '-20261126.gz']) expect(map.projectFor({ host: null }, `/var/log/nginx/example.access.log${f}`), f).toBe(A)
    expect(map.projectFor({ host: null }, '/var/log/nginx/org-blog.log.3.gz')).toBe(B)
    expect(map.siteForFile('/var/log/nginx/example.access.log.old')).toBe(null)
  })

  it("relative files are relative to the config file's directory", () => {
    expect(map.projectFor({ host: null }, '/etc/swetrix/logs/net.log.1')).toBe(C)
    expect(map.siteForFile(join(process.cwd(), 'logs/net.log'))).toBe(null)
  })

  it("a file no site lists is routed by host (a site's hosts work in any file)", () => {
    expect(map.projectFor({ host: 'www.example.net' }, '/var/log/nginx/access.log')).toBe(C)
    expect(map.projectFor({ host: 'example.com' }, '/var/log/nginx/access.log')).toBe(A)
    expect(map.projectFor({ host: 'example.org' }, '/var/log/nginx/access.log')).toBe(D)
  })

  it('a file two sites claim (through globs) is an error naming both entries', () => {
    const overlap = createSiteMap([...entries, { label: 'sites[3]', project: D, hosts: [], files: ['/var/log/nginx/*.log'] }], null)
    expect(() => overlap.siteForFile('/var/log/nginx/org-blog.log')).toThrow(/org-blog\.log: claimed by two sites, sites\[1\] and sites\[3\]/)
  })
})

describe('the mapper emits each event with its routed pid', () => {
  it('pid per line; unmapped lines skipped as no-site before any other reason; custom rules with hosts still apply', () => {
    const map = createSiteMap(sites(`example.com=${A}`, `*.example.org=${B}`), null)
    const mapper = createMapper({
      projectId: 'XXXXXXXXXXXX',
      route: map.routerFor('/x.log'),
      rules: [{ event: 'SIGNUP', path: '^/signup$', host: 'shop.example.org' }],
    })
    const a = mapper(rec('www.example.com', '/a'))
    expect('event' in a && a.event.body.pid).toBe(A)
    const b = mapper(rec('shop.example.org', '/signup'))
    expect('event' in b && [b.event.kind, b.event.body.pid, b.event.body.ev]).toEqual(['custom', B, 'SIGNUP'])
    const other = mapper(rec('blog.example.org', '/signup'))
    expect('event' in other && [other.event.kind, other.event.body.pid]).toEqual(['pageview', B])
    expect(mapper(rec('example.net', '/x.css'))).toEqual({ skip: 'no-site' })
    expect(mapper.classify!(rec('example.net', '/a'))).toEqual({ skip: 'no-site' })
    expect(mapper.classify!(rec('example.com', '/a'))).toBe('pageview')
  })
})

describe("referrers from the line's own site are internal, as with --host", () => {
  it('drops a referrer from a host of the same project, keeps one from another site or an unmapped host', () => {
    const map = createSiteMap(sites(`*.example.com=${A}`, `example.org=${B}`), D)
    const mapper = createMapper({ projectId: 'XXXXXXXXXXXX', route: map.routerFor('/x.log'), hostProject: map.hostProject })
    const ref = (host: string, referrer: string) => {
      const r = mapper({ ...rec(host, '/p'), referrer } as RequestRecord)
      return 'event' in r ? r.event.body.ref : 'skipped'
    }
    expect(ref('shop.example.com', 'https://blog.example.com/post')).toBe(undefined)
    expect(ref('shop.example.com', 'https://www.example.org/')).toBe('https://www.example.org/')
    expect(ref('example.net', 'https://example.net/x')).toBe(undefined) // the line's own host
    expect(ref('example.net', 'https://other.example.net/')).toBe('https://other.example.net/') // default project: no site hosts
  })
})

describe('a refused project names the entry that maps to it', () => {
  it('names the --site entry, the config entry or the default', () => {
    const map = createSiteMap(
      [...sites(`example.com=${A}`), { label: 'sites[0] (project BBBBBBBBBBBB) in /etc/x.json', project: B, hosts: ['example.org'], files: [] }],
      D,
    )
    expect(explainRefusedProject(map, A, 'refused project AAAAAAAAAAAA')).toBe(
      'refused project AAAAAAAAAAAA (project AAAAAAAAAAAA is mapped by --site example.com=AAAAAAAAAAAA; fix or remove that entry)',
    )
    expect(explainRefusedProject(map, B, 'x')).toContain('sites[0] (project BBBBBBBBBBBB) in /etc/x.json')
    expect(explainRefusedProject(map, D, 'x')).toContain('mapped by -p, the default project')
    expect(explainRefusedProject(createSiteMap([], D), D, 'unchanged')).toBe('unchanged')
    // Not about the project: a redirect, a wrong --api-url path.
    expect(explainRefusedProject(map, A, 'answered HTTP 301 redirect', 301)).toBe('answered HTTP 301 redirect')
    expect(explainRefusedProject(map, A, 'HTTP 404 Cannot POST /x', 404)).toBe('HTTP 404 Cannot POST /x')
    expect(explainRefusedProject(map, A, 'HTTP 400 disabled', 400)).toContain('mapped by --site example.com=')
  })
})

describe('config sites', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  async function load(content: unknown) {
    const file = join(dir, 'swetrix-ingest.json')
    await writeFile(file, JSON.stringify(content))
    return {
      file,
      result: await loadConfig(file).then(
        (c) => c,
        (e: unknown) => e as Error,
      ),
    }
  }
  async function loadError(content: unknown): Promise<string> {
    const { file, result } = await load(content)
    expect(result).toBeInstanceOf(ConfigError)
    const msg = (result as Error).message
    expect(msg).toContain(file)
    return msg
  }

  it("loads the issue's example; entries keep their order and the config directory", async () => {
    const { file, result } = await load({
      sites: [
        { project: A, hosts: ['example.com'], files: ['/var/log/nginx/example.access.log*'] },
        { project: B, hosts: ['*.example.org'] },
      ],
    })
    const entries = siteEntries(result as never, file)
    expect(entries.map((e) => [e.project, e.hosts, e.files, e.baseDir])).toEqual([
      [A, ['example.com'], ['/var/log/nginx/example.access.log*'], dir],
      [B, ['*.example.org'], [], dir],
    ])
    expect(entries[1]!.label).toBe(`sites[1] (project ${B}) in ${file}`)
  })

  it('an unknown key, naming the entry', async () => {
    const msg = await loadError({
      sites: [
        { project: A, hosts: ['example.com'] },
        { project: B, host: ['example.org'] },
      ],
    })
    expect(msg).toMatch(/host/)
    expect(msg).toMatch(/sites\[1\]/)
  })

  it('a bad project id, naming the entry', async () => {
    const msg = await loadError({
      sites: [
        { project: A, hosts: ['example.com'] },
        { project: 'nope', hosts: ['example.org'] },
      ],
    })
    expect(msg).toMatch(/sites\[1\]\.project/)
    expect(msg).toMatch(/not a Swetrix project id/)
  })

  it('a file claimed by two sites, naming both entries', async () => {
    const msg = await loadError({
      sites: [
        { project: A, files: ['/var/log/nginx/a.log'] },
        { project: B, files: ['/var/log/nginx/b.log', '/var/log/nginx/a.log'] },
      ],
    })
    expect(msg).toMatch(/sites\[1\]\.files\[1\]/)
    expect(msg).toMatch(/already claimed by sites\[0\] \(project AAAAAAAAAAAA\)/)
  })

  it('a site with neither hosts nor files, and a bad host, naming the entry', async () => {
    expect(await loadError({ sites: [{ project: A }] })).toMatch(/needs "hosts", "files" or both[\s\S]*sites\[0\]/)
    const bad = await loadError({ sites: [{ project: A, hosts: ['https://example.com/'] }] })
    expect(bad).toMatch(/sites\[0\]\.hosts\[0\]/)
    expect(bad).toMatch(/is a URL/)
  })
})
