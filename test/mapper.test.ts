import { describe, expect, it } from 'vitest'
import { createMapper, type MapperOptions } from '../src/mapper/index.js'
import type { MapResult, OutgoingEvent, RequestRecord } from '../src/types.js'

const PID = 'AbCdEf123456'
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
const T0 = Date.UTC(2026, 10, 1, 12, 0, 0)

function rec(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    ip: '203.0.113.7',
    time: T0,
    method: 'GET',
    path: '/',
    query: null,
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 512,
    referrer: null,
    userAgent: CHROME,
    user: null,
    host: null,
    port: null,
    requestLine: null,
    ...over,
  }
}

function mapper(over: Partial<MapperOptions> = {}): (r: RequestRecord) => MapResult {
  return createMapper({ projectId: PID, ...over })
}

function ev(result: MapResult): OutgoingEvent {
  if (!('event' in result)) throw new Error(`expected an event, got skip ${result.skip}`)
  return result.event
}

function skipOf(result: MapResult): string | undefined {
  return 'skip' in result ? result.skip : undefined
}

describe('pageview', () => {
  it('is the exact request the tracker would send, with the visitor IP, UA and Accept headers', () => {
    const e = ev(mapper()(rec({ path: '/pricing', referrer: 'https://search.example.net/?q=x' })))
    expect(e).toEqual({
      kind: 'pageview',
      endpoint: '/log',
      headers: {
        'User-Agent': CHROME,
        'X-Client-IP-Address': '203.0.113.7',
        'X-Forwarded-For': '203.0.113.7',
        Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'Accept-Language': 'en-US,en;q=0.9',
        'Accept-Encoding': 'identity',
        'Content-Type': 'application/json',
      },
      body: { pid: PID, pg: '/pricing', ref: 'https://search.example.net/?q=x' },
    })
  })

  it('drops the query from pg unless keepQuery, and keeps percent-encoding as logged', () => {
    const r = rec({ path: '/caf%C3%A9/a%20b', query: 'x=1&y=2' })
    expect(ev(mapper()(r)).body.pg).toBe('/caf%C3%A9/a%20b')
    expect(ev(mapper({ keepQuery: true })(r)).body.pg).toBe('/caf%C3%A9/a%20b?x=1&y=2')
    expect(ev(mapper({ keepQuery: true })(rec({ path: '/a', query: '' }))).body.pg).toBe('/a')
  })

  it('omits absent fields instead of sending null or empty strings', () => {
    const body = ev(mapper()(rec({ query: '', referrer: '-' }))).body
    expect(body).toEqual({ pid: PID, pg: '/' })
  })

  it('counts GET with 2xx or 304, but not 204 or 206', () => {
    const m = mapper()
    for (const status of [200, 201, 203, 304]) expect(ev(m(rec({ status }))).kind).toBe('pageview')
    for (const status of [204, 206, 301, 302, 307, 101, 404, 401]) expect(skipOf(m(rec({ status })))).toBe('status')
    expect(skipOf(m(rec({ status: null })))).toBe('status')
  })

  it('skips other methods, HEAD included', () => {
    const m = mapper()
    for (const method of ['POST', 'HEAD', 'OPTIONS', 'PUT', 'get']) expect(skipOf(m(rec({ method })))).toBe('method')
  })
})

describe('skip reasons in order', () => {
  it('a record without a method or path is malformed, before any other check', () => {
    const m = mapper({ since: T0 + 1 })
    expect(skipOf(m(rec({ method: null, path: null, requestLine: '\\x16\\x03\\x01' })))).toBe('malformed')
  })

  it('time: since is inclusive, until exclusive, and an unreadable time is outside', () => {
    const m = mapper({ since: T0, until: T0 + 1000 })
    expect(ev(m(rec({ time: T0 }))).kind).toBe('pageview')
    expect(ev(m(rec({ time: T0 + 999.5 }))).kind).toBe('pageview')
    expect(skipOf(m(rec({ time: T0 - 1 })))).toBe('time')
    expect(skipOf(m(rec({ time: T0 + 1000 })))).toBe('time')
    expect(skipOf(m(rec({ time: null })))).toBe('time')
    expect(ev(mapper()(rec({ time: null }))).kind).toBe('pageview')
  })

  it('time is checked before filters and classification', () => {
    const m = mapper({ until: T0, excludePaths: ['/**'] })
    expect(skipOf(m(rec({ status: 503 })))).toBe('time')
  })

  it('host filter keeps matching hosts (www. and case ignored) and records without a host', () => {
    const m = mapper({ hosts: ['example.com'] })
    expect(ev(m(rec({ host: 'example.com' }))).kind).toBe('pageview')
    expect(ev(m(rec({ host: 'WWW.Example.COM' }))).kind).toBe('pageview')
    expect(ev(m(rec({ host: null }))).kind).toBe('pageview')
    expect(skipOf(m(rec({ host: 'other.example.org' })))).toBe('filtered')
    expect(skipOf(m(rec({ host: 'shop.example.com' })))).toBe('filtered')
    const wild = mapper({ hosts: ['*.example.com'] })
    expect(ev(wild(rec({ host: 'shop.example.com' }))).kind).toBe('pageview')
    expect(skipOf(wild(rec({ host: 'example.com' })))).toBe('filtered')
  })

  it('path filters run before classification, so an excluded error is not sent', () => {
    const m = mapper({ excludePaths: ['/admin/**'] })
    expect(skipOf(m(rec({ path: '/admin/users/1', status: 500 })))).toBe('filtered')
    expect(skipOf(m(rec({ path: '/admin' })))).toBe('filtered')
    expect(ev(m(rec({ path: '/administrator' }))).kind).toBe('pageview')
  })

  it('include globs: * stays inside a segment, ** crosses segments', () => {
    const m = mapper({ includePaths: ['/blog/*'] })
    expect(ev(m(rec({ path: '/blog/hello' }))).kind).toBe('pageview')
    expect(skipOf(m(rec({ path: '/blog/2026/hello' })))).toBe('filtered')
    expect(skipOf(m(rec({ path: '/about' })))).toBe('filtered')
    const deep = mapper({ includePaths: ['/blog/**'] })
    expect(ev(deep(rec({ path: '/blog/2026/hello' }))).kind).toBe('pageview')
  })

  it('a pattern without a leading slash matches at any depth; ? is one character', () => {
    const m = mapper({ excludePaths: ['*.php', '/p?ge'] })
    expect(skipOf(m(rec({ path: '/wp/xmlrpc.php' })))).toBe('filtered')
    expect(skipOf(m(rec({ path: '/page' })))).toBe('filtered')
    expect(ev(m(rec({ path: '/pages' }))).kind).toBe('pageview')
  })

  it('/.../flags patterns are regular expressions; /blog/ alone is a literal path', () => {
    const m = mapper({ excludePaths: ['/^\\/API\\//i'] })
    expect(skipOf(m(rec({ path: '/api/users' })))).toBe('filtered')
    expect(ev(m(rec({ path: '/docs/api/' }))).kind).toBe('pageview')
    const lit = mapper({ includePaths: ['/blog/'] })
    expect(ev(lit(rec({ path: '/blog/' }))).kind).toBe('pageview')
    expect(skipOf(lit(rec({ path: '/myblog/x' })))).toBe('filtered')
  })

  it('paths whose last segment looks like flags are globs: /api/v1/users, /blog/*/comments, /docs/**/intro', () => {
    const m = mapper({ excludePaths: ['/api/v1/users', '/blog/*/comments', '/docs/**/intro', '/a/b'] })
    for (const path of ['/api/v1/users', '/blog/x/comments', '/docs/intro', '/docs/a/b/intro', '/a/b']) expect(skipOf(m(rec({ path }))), path).toBe('filtered')
    for (const path of ['/api/v1/users/1', '/blog/comments', '/a/bb']) expect(ev(m(rec({ path }))).kind, path).toBe('pageview')
    const ci = mapper({ excludePaths: ['/admin/i'] })
    expect(skipOf(ci(rec({ path: '/ADMIN/x' })))).toBe('filtered')
  })

  it('a global-flag regex gives the same answer every time (no lastIndex state)', () => {
    const m = mapper({ excludePaths: ['/x$/g'] })
    for (let i = 0; i < 3; i++) expect(skipOf(m(rec({ path: '/x' })))).toBe('filtered')
  })

  it('rejects an invalid regular expression at creation', () => {
    expect(() => mapper({ excludePaths: ['/(unclosed/'] })).toThrow()
  })
})

describe('static assets', () => {
  it('skips assets, machine files and /.well-known/, case-insensitively', () => {
    const m = mapper()
    for (const path of [
      '/app.js',
      '/style.CSS',
      '/favicon.ico',
      '/robots.txt',
      '/sitemap.xml',
      '/img/Logo.PNG',
      '/f.woff2',
      '/main.js.map',
      '/manifest.json',
      '/.well-known/security.txt',
      '/v.mp4',
    ])
      expect(skipOf(m(rec({ path })))).toBe('static')
  })

  it('counts pages and documents', () => {
    const m = mapper()
    for (const path of ['/', '/index.html', '/post.php', '/guide.pdf', '/v1.2/', '/v1.2', '/dir.js/']) expect(ev(m(rec({ path }))).kind).toBe('pageview')
  })

  it('includeStatic sends them as pageviews', () => {
    expect(ev(mapper({ includeStatic: true })(rec({ path: '/app.js' }))).body.pg).toBe('/app.js')
  })
})

describe('bots', () => {
  it('skips bot, crawler, script and headless User-Agents', () => {
    const m = mapper()
    for (const userAgent of [
      'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
      'curl/8.5.0',
      'python-requests/2.31.0',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Playwright/1.40',
    ])
      expect(skipOf(m(rec({ userAgent })))).toBe('bot')
  })

  it('a missing User-Agent is a bot; with includeBots it is sent without the header', () => {
    expect(skipOf(mapper()(rec({ userAgent: null })))).toBe('bot')
    expect(skipOf(mapper()(rec({ userAgent: '-' })))).toBe('bot')
    const e = ev(mapper({ includeBots: true })(rec({ userAgent: null })))
    expect(e.headers['User-Agent']).toBeUndefined()
    expect(e.headers['X-Forwarded-For']).toBe('203.0.113.7')
  })

  it('includeBots sends bots with their User-Agent', () => {
    const e = ev(mapper({ includeBots: true })(rec({ userAgent: 'curl/8.5.0' })))
    expect(e.headers['User-Agent']).toBe('curl/8.5.0')
  })

  it('gives the same answer for many distinct User-Agents (cache eviction keeps results right)', () => {
    const m = mapper()
    for (let i = 0; i < 10_050; i++) m(rec({ userAgent: `${CHROME} v${i}` }))
    expect(ev(m(rec({ userAgent: `${CHROME} v3` }))).kind).toBe('pageview')
    expect(skipOf(m(rec({ userAgent: 'Googlebot/2.1' })))).toBe('bot')
  })
})

describe('errors', () => {
  it('a 5xx becomes POST /log/error named after the status', () => {
    const e = ev(mapper()(rec({ path: '/checkout', query: 'step=2', status: 503 })))
    expect(e.kind).toBe('error')
    expect(e.endpoint).toBe('/log/error')
    expect(e.body).toEqual({ pid: PID, name: 'HTTP 503', message: 'GET /checkout -> 503 Service Unavailable', pg: '/checkout' })
    expect(e.headers['X-Client-IP-Address']).toBe('203.0.113.7')
  })

  it('any method and any path (static too) can be an error; an unknown status has no text', () => {
    const m = mapper()
    expect(ev(m(rec({ method: 'POST', path: '/api/x', status: 500 }))).body.message).toBe('POST /api/x -> 500 Internal Server Error')
    expect(ev(m(rec({ path: '/app.js', status: 502 }))).kind).toBe('error')
    expect(ev(m(rec({ status: 599 }))).body.message).toBe('GET / -> 599')
  })

  it('4xx only with errors 4xx,5xx; none disables errors', () => {
    expect(skipOf(mapper()(rec({ status: 404 })))).toBe('status')
    const e = ev(mapper({ errors: '4xx,5xx' })(rec({ path: '/missing', status: 404 })))
    expect(e.body).toMatchObject({ name: 'HTTP 404', message: 'GET /missing -> 404 Not Found' })
    expect(skipOf(mapper({ errors: 'none' })(rec({ status: 503 })))).toBe('status')
  })

  it('errors from bots are skipped unless includeBots', () => {
    const r = rec({ status: 500, userAgent: 'curl/8.5.0' })
    expect(skipOf(mapper()(r))).toBe('bot')
    expect(ev(mapper({ includeBots: true })(r)).kind).toBe('error')
  })

  it('keepQuery puts the query in pg and in the message', () => {
    const e = ev(mapper({ keepQuery: true })(rec({ path: '/s', query: 'q=1', status: 500 })))
    expect(e.body.pg).toBe('/s?q=1')
    expect(e.body.message).toBe('GET /s?q=1 -> 500 Internal Server Error')
  })

  it('carries lc from a logged Accept-Language', () => {
    expect(ev(mapper()(rec({ status: 500, acceptLanguage: 'de-de,de;q=0.9' }))).body.lc).toBe('de-DE')
  })
})

describe('custom events', () => {
  const subscribe = { event: 'NEWSLETTER_SUBSCRIBE', method: 'POST', path: '^/api/subscribe$', status: '2xx', meta: { plan: 'query:plan' } }

  it('a matching request becomes POST /log/custom with ev and meta', () => {
    const m = mapper({ rules: [subscribe] })
    const e = ev(m(rec({ method: 'POST', path: '/api/subscribe', query: 'plan=pro%20yearly&utm_source=mail', status: 201 })))
    expect(e).toMatchObject({ kind: 'custom', name: 'NEWSLETTER_SUBSCRIBE', endpoint: '/log/custom' })
    expect(e.body).toEqual({
      pid: PID,
      ev: 'NEWSLETTER_SUBSCRIBE',
      pg: '/api/subscribe',
      so: 'mail',
      meta: { plan: 'pro yearly' },
    })
  })

  it('does not match on another status or method; those fall through to the usual rules', () => {
    const m = mapper({ rules: [subscribe] })
    expect(skipOf(m(rec({ method: 'POST', path: '/api/subscribe', status: 422 })))).toBe('method')
    expect(ev(m(rec({ method: 'POST', path: '/api/subscribe', status: 500 }))).kind).toBe('error')
    expect(ev(m(rec({ method: 'GET', path: '/api/subscribe', status: 200 }))).kind).toBe('pageview')
  })

  it('the first matching rule wins', () => {
    const m = mapper({
      rules: [
        { event: 'A', path: '^/x' },
        { event: 'B', path: '^/x/y' },
      ],
    })
    expect(ev(m(rec({ path: '/x/y' }))).name).toBe('A')
  })

  it('status defaults to 2xx,3xx; methods are case-insensitive lists; "any" matches errors too', () => {
    const m = mapper({ rules: [{ event: 'FORM', method: ['post', 'PUT'], path: '^/form$' }] })
    expect(ev(m(rec({ method: 'PUT', path: '/form', status: 303 }))).name).toBe('FORM')
    expect(skipOf(m(rec({ method: 'POST', path: '/form', status: 400 })))).toBe('method')
    const any = mapper({ rules: [{ event: 'ANY', path: '^/form$', status: 'any' }] })
    expect(ev(any(rec({ method: 'POST', path: '/form', status: 500 }))).kind).toBe('custom')
  })

  it('rules come before the static list, and bots are still skipped', () => {
    const m = mapper({ rules: [{ event: 'DOWNLOAD', path: '\\.zip$|\\.js$' }] })
    expect(ev(m(rec({ path: '/dl/app.js' }))).name).toBe('DOWNLOAD')
    expect(skipOf(m(rec({ path: '/dl/app.zip', userAgent: 'Wget/1.21' })))).toBe('bot')
  })

  it('a host condition needs a matching host', () => {
    const m = mapper({ rules: [{ event: 'SHOP', path: '^/buy$', host: '*.example.com' }] })
    expect(ev(m(rec({ path: '/buy', host: 'shop.example.com' }))).name).toBe('SHOP')
    expect(ev(m(rec({ path: '/buy', host: 'example.org' }))).kind).toBe('pageview')
    expect(ev(m(rec({ path: '/buy', host: null }))).kind).toBe('pageview')
  })

  it('meta sources: path, status, method, host, referrer, literals; absent values are left out', () => {
    const m = mapper({
      rules: [
        {
          event: 'E',
          path: '^/e$',
          meta: { p: 'path', s: 'status', m: 'method', h: 'host', r: 'referrer', lit: 'v1', miss: 'query:nope', plus: 'query:q', bad: 'query:b' },
        },
      ],
    })
    const e = ev(m(rec({ path: '/e', query: 'q=a+b&b=%E0%A4', status: 202, host: 'example.com', referrer: 'https://other.example.net/' })))
    expect(e.body.meta).toEqual({ p: '/e', s: '202', m: 'GET', h: 'example.com', r: 'https://other.example.net/', lit: 'v1', plus: 'a b', bad: '%E0%A4' })
    const none = ev(m(rec({ path: '/e', query: null, host: null })))
    expect(none.body.meta).toEqual({ p: '/e', s: '200', m: 'GET', lit: 'v1' })
  })

  it('invalid rules are refused at creation with a message naming the field', () => {
    expect(() => mapper({ rules: [{ event: '', path: '^/' }] })).toThrow(/event/)
    expect(() => mapper({ rules: [{ event: 'X', path: '(' }] })).toThrow(/path/)
    expect(() => mapper({ rules: [{ event: 'X', path: '^/', status: '2x' }] })).toThrow(/status/)
  })
})

describe('UTM fields (as the Swetrix tracker derives them)', () => {
  const body = (query: string | null) => ev(mapper()(rec({ query }))).body

  it('utm_* map to so/me/ca/te/co, not URL-decoded', () => {
    expect(body('utm_source=news%20letter&utm_medium=email&utm_campaign=spring+sale&utm_term=shoes&utm_content=hero')).toMatchObject({
      so: 'news%20letter',
      me: 'email',
      ca: 'spring+sale',
      te: 'shoes',
      co: 'hero',
    })
  })

  it('so takes the first of ref, source, utm_source, gad_source in the query', () => {
    expect(body('x=1&ref=producthunt&utm_source=tw').so).toBe('producthunt')
    expect(body('utm_source=tw&ref=producthunt').so).toBe('tw')
    expect(body('gad_source=1').so).toBe('1')
    expect(body('xref=nope').so).toBeUndefined()
    expect(body('source=').so).toBeUndefined()
  })

  it('gclid gives me "<gclid>" unless utm_medium is set; gad_campaignid fills ca', () => {
    expect(body('gclid=abc').me).toBe('<gclid>')
    expect(body('gclid=abc&utm_medium=cpc').me).toBe('cpc')
    expect(body('gad_campaignid=123').ca).toBe('123')
  })

  it('the query itself is never sent (no qs): what Swetrix reads from it is derived here', () => {
    for (const q of ['a=1&b=%20', '', null, 'a='.padEnd(2049, 'x'), 'gclid=1&email=someone%40example.com']) expect(body(q)).not.toHaveProperty('qs')
    expect(body('gclid=1&email=someone%40example.com')).toMatchObject({ so: 'google', me: '<gclid>', ref: 'https://google.com' })
  })

  it('UTM values are cut to 256 characters', () => {
    expect(body(`utm_source=${'s'.repeat(300)}`).so).toHaveLength(256)
  })
})

describe('referrer', () => {
  const refOf = (over: Partial<RequestRecord>, opts: Partial<MapperOptions> = {}) => ev(mapper(opts)(rec(over))).body.ref

  it('is dropped when it is the site itself (same host, www. and case ignored)', () => {
    expect(refOf({ host: 'example.com', referrer: 'https://www.Example.com/prev' })).toBeUndefined()
    expect(refOf({ host: 'www.example.com', referrer: 'http://user@example.com:8080/x' })).toBeUndefined()
  })

  it('is dropped when its host is one of the configured hosts', () => {
    expect(refOf({ host: null, referrer: 'https://example.com/a' }, { hosts: ['example.com'] })).toBeUndefined()
    expect(refOf({ host: null, referrer: 'https://blog.example.com/a' }, { hosts: ['example.com', '*.example.com'] })).toBeUndefined()
  })

  it('is kept for other sites and for text that is not a URL', () => {
    expect(refOf({ host: 'example.com', referrer: 'https://news.example.org/item?id=1' })).toBe('https://news.example.org/item?id=1')
    expect(refOf({ host: 'example.com', referrer: 'android-app:com.example' })).toBe('android-app:com.example')
    expect(refOf({ host: 'example.com', referrer: 'https://example.com.evil.test/' })).toBe('https://example.com.evil.test/')
  })

  it('undoes log escapes and is cut to 2048', () => {
    expect(refOf({ referrer: 'https://example.org/caf\\xC3\\xA9' })).toBe('https://example.org/café')
    expect(refOf({ referrer: `https://example.org/${'r'.repeat(3000)}` })).toHaveLength(2048)
  })
})

describe('Accept-Language and lc', () => {
  it('uses the logged header and its first tag, canonicalised', () => {
    const e = ev(mapper()(rec({ acceptLanguage: 'en-gb,en;q=0.8' })))
    expect(e.headers['Accept-Language']).toBe('en-gb,en;q=0.8')
    expect(e.body.lc).toBe('en-GB')
    expect(ev(mapper()(rec({ acceptLanguage: 'fr;q=0.9, en' }))).body.lc).toBe('fr')
  })

  it('omits lc when the tag is not a locale, and uses the default header when nothing is logged', () => {
    expect(ev(mapper()(rec({ acceptLanguage: '*' }))).body.lc).toBeUndefined()
    expect(ev(mapper()(rec({ acceptLanguage: 'not a tag!' }))).body.lc).toBeUndefined()
    const e = ev(mapper({ acceptLanguage: 'de-DE,de;q=0.9' })(rec({ acceptLanguage: null })))
    expect(e.headers['Accept-Language']).toBe('de-DE,de;q=0.9')
    expect(e.body.lc).toBeUndefined()
  })
})

describe('User-Agent header bytes', () => {
  const uaOf = (userAgent: string) => ev(mapper({ includeBots: true })(rec({ userAgent }))).headers['User-Agent']

  it('nginx \\x22 and Apache \\" both become a raw quote; \\\\ becomes one backslash', () => {
    expect(uaOf('Mozilla/5.0 \\x22quoted\\x22')).toBe('Mozilla/5.0 "quoted"')
    expect(uaOf('Mozilla/5.0 \\"quoted\\"')).toBe('Mozilla/5.0 "quoted"')
    expect(uaOf('Mozilla/5.0 back\\\\slash \\x5C')).toBe('Mozilla/5.0 back\\slash \\')
  })

  it('removes CR, LF, NUL and other control bytes, escaped or raw', () => {
    expect(uaOf('Mozilla/5.0\\r\\nX-Injected: 1')).toBe('Mozilla/5.0X-Injected: 1')
    expect(uaOf('Mozilla/5.0\\x0D\\x0AX: 1\\x00')).toBe('Mozilla/5.0X: 1')
    expect(uaOf('Mozilla/5.0\r\n\tX')).toBe('Mozilla/5.0X')
  })

  it('sends non-Latin-1 text as its UTF-8 bytes in a Latin-1 string (a valid ByteString)', () => {
    const escaped = uaOf('App/1 caf\\xC3\\xA9')
    const raw = uaOf('App/1 café 🚀')
    expect(Buffer.from(escaped!, 'latin1').toString('utf8')).toBe('App/1 café')
    expect(Buffer.from(raw!, 'latin1').toString('utf8')).toBe('App/1 café 🚀')
    expect(() => new Headers({ 'User-Agent': raw! })).not.toThrow()
  })

  it('leaves an undecodable backslash sequence as it is', () => {
    expect(uaOf('A\\xZZ\\q')).toBe('A\\xZZ\\q')
  })
})

describe('client IP', () => {
  const ipOf = (over: Partial<RequestRecord>, opts: Partial<MapperOptions> = {}) => {
    const r = mapper(opts)(rec(over))
    return 'event' in r ? r.event.headers['X-Forwarded-For'] : r.skip
  }

  it('sends the logged address in both IP headers; IPv6 as logged', () => {
    const e = ev(mapper()(rec({ ip: '2001:db8::7' })))
    expect(e.headers['X-Forwarded-For']).toBe('2001:db8::7')
    expect(e.headers['X-Client-IP-Address']).toBe('2001:db8::7')
  })

  it('unwraps IPv4-mapped IPv6 and strips ports and brackets', () => {
    expect(ipOf({ ip: '::ffff:192.0.2.9' })).toBe('192.0.2.9')
    expect(ipOf({ ip: '192.0.2.9:51234' })).toBe('192.0.2.9')
    expect(ipOf({ ip: '[2001:db8::9]:443' })).toBe('2001:db8::9')
  })

  it('skips with no-client-ip when there is no usable address (unix socket, host name, unknown)', () => {
    for (const ip of ['unix:', 'client.example.com', 'unknown', null]) expect(ipOf({ ip })).toBe('no-client-ip')
  })

  const trusted = { realIp: 'xff' as const, trustedProxies: ['198.51.100.0/24', '2001:db8:ffff::/48'] }

  it('xff: walks from the right past trusted proxies to the first untrusted address', () => {
    expect(ipOf({ ip: '198.51.100.10', xForwardedFor: '203.0.113.50, 198.51.100.3' }, trusted)).toBe('203.0.113.50')
    expect(ipOf({ ip: '198.51.100.10', xForwardedFor: '192.0.2.66, 203.0.113.50' }, trusted)).toBe('203.0.113.50')
    expect(ipOf({ ip: '2001:db8:ffff::1', xForwardedFor: '2001:db8:1::5' }, trusted)).toBe('2001:db8:1::5')
    expect(ipOf({ ip: '::ffff:198.51.100.10', xForwardedFor: '[2001:db8:1::5]:1234' }, trusted)).toBe('2001:db8:1::5')
  })

  it('xff: ignores the header when the connecting address is not a trusted proxy (no spoofing)', () => {
    expect(ipOf({ ip: '203.0.113.7', xForwardedFor: '192.0.2.1' }, trusted)).toBe('203.0.113.7')
  })

  it('xff: when every hop is trusted the left-most is the client; no header means the logged address', () => {
    expect(ipOf({ ip: '198.51.100.10', xForwardedFor: '198.51.100.1,198.51.100.2' }, trusted)).toBe('198.51.100.1')
    expect(ipOf({ ip: '198.51.100.10', xForwardedFor: null }, trusted)).toBe('198.51.100.10')
  })

  it('xff: an entry that is not an address ends the walk at the last address read (as nginx)', () => {
    expect(ipOf({ ip: '198.51.100.10', xForwardedFor: '203.0.113.9, unknown, 198.51.100.4' }, trusted)).toBe('198.51.100.4')
  })

  it('refuses xff without trusted proxies and bad CIDRs', () => {
    expect(() => mapper({ realIp: 'xff' })).toThrow(/trusted proxy/)
    expect(() => mapper({ realIp: 'xff', trustedProxies: ['10.0.0.0/33'] })).toThrow(/10\.0\.0\.0\/33/)
    expect(() => mapper({ realIp: 'xff', trustedProxies: ['proxy.example.com'] })).toThrow(/proxy\.example\.com/)
    expect(() => mapper({ realIp: 'xff', trustedProxies: ['10.0.0.1', '2001:db8::/129'] })).toThrow(/2001:db8::\/129/)
  })
})

describe('mapper instances', () => {
  it('share no state: options of one never affect another', () => {
    const a = mapper({ includeBots: true })
    const b = mapper()
    const bot = rec({ userAgent: 'curl/8.5.0' })
    expect(ev(a(bot)).kind).toBe('pageview')
    expect(skipOf(b(bot))).toBe('bot')
  })

  it('rejects an unknown errors setting', () => {
    expect(() => createMapper({ projectId: PID, errors: '3xx' as MapperOptions['errors'] })).toThrow(/errors/)
  })
})
