// What the mapper sends so that Swetrix stores, for a live event, what an imported row of the same
// line stores: click-id sources filled in here (Swetrix's table and rule, clickIdSources.ts at
// c5f4c86), the site's host as Origin, self-referrers dropped wherever the site's host is known,
// one more client-IP header for self-hosted instances, and the "most referrers are the site" hint.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  checkClientIpHeader,
  clickIdSource,
  CLICK_ID_SOURCES,
  createMapper,
  createReferrerTally,
  mergeReferrerTally,
  observeReferrer,
  selfReferrerHint,
  siteHostName,
  type MapperOptions,
} from '../src/mapper/index.js'
import { boundedMemo } from '../src/util/memo.js'
import type { MapResult, OutgoingEvent, RequestRecord } from '../src/types.js'

const PID = 'AbCdEf123456'
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'

function rec(over: Partial<RequestRecord> = {}): RequestRecord {
  return {
    ip: '203.0.113.7',
    time: Date.UTC(2026, 10, 1, 12),
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

const ev = (r: MapResult): OutgoingEvent => {
  if (!('event' in r)) throw new Error(`expected an event, got skip ${r.skip}`)
  return r.event
}
const map = (over: Partial<RequestRecord>, opts: Partial<MapperOptions> = {}) => ev(createMapper({ projectId: PID, ...opts })(rec(over)))

describe('click ids (Swetrix clickIdSources.ts)', () => {
  it('maps each parameter to the source, medium and referrer Swetrix gives it', () => {
    const expected: Record<string, [string, string, string]> = {
      gclid: ['google', 'cpc', 'https://google.com'],
      gbraid: ['google', 'cpc', 'https://google.com'],
      wbraid: ['google', 'cpc', 'https://google.com'],
      dclid: ['google', 'display', 'https://google.com'],
      msclkid: ['bing', 'cpc', 'https://bing.com'],
      yclid: ['yandex', 'cpc', 'https://yandex.com'],
      s_kwcid: ['adobe', 'cpc', 'https://adobe.com'],
      fbclid: ['facebook', 'social', 'https://facebook.com'],
      ttclid: ['tiktok', 'social', 'https://tiktok.com'],
      twclid: ['x', 'social', 'https://x.com'],
      li_fat_id: ['linkedin', 'social', 'https://linkedin.com'],
      epik: ['pinterest', 'social', 'https://pinterest.com'],
      rdt_cid: ['reddit', 'social', 'https://reddit.com'],
      igshid: ['instagram', 'social', 'https://instagram.com'],
      scclid: ['snapchat', 'social', 'https://snapchat.com'],
      mc_cid: ['mailchimp', 'email', 'https://mailchimp.com'],
      mc_eid: ['mailchimp', 'email', 'https://mailchimp.com'],
      _hsenc: ['hubspot', 'email', 'https://hubspot.com'],
      _hsmi: ['hubspot', 'email', 'https://hubspot.com'],
      irclid: ['impact', 'affiliate', 'https://impact.com'],
      sscid: ['shareasale', 'affiliate', 'https://shareasale.com'],
    }
    expect(CLICK_ID_SOURCES.map((s) => s.param)).toEqual(Object.keys(expected))
    for (const [param, [so, me, ref]] of Object.entries(expected)) expect(clickIdSource(`x=1&${param}=abc`)).toMatchObject({ so, me, ref })
  })

  it('reads the query as Swetrix does: any case, at the start or after &, any value, one leading ? and no #fragment', () => {
    expect(clickIdSource('FBCLID=Ab')?.so).toBe('facebook')
    expect(clickIdSource('fbclid=')?.so).toBe('facebook')
    expect(clickIdSource('?fbclid=x')?.so).toBe('facebook')
    expect(clickIdSource('a=1;fbclid=x')).toBeNull()
    expect(clickIdSource('xfbclid=1')).toBeNull()
    expect(clickIdSource('fbclid')).toBeNull()
    expect(clickIdSource('a=1#&fbclid=x')).toBeNull()
    expect(clickIdSource('utm_source=fbclid=1')).toBeNull()
  })

  it('the first parameter of the table wins, not the first in the query (paid before social)', () => {
    expect(clickIdSource('fbclid=1&gclid=2')?.so).toBe('google')
    expect(clickIdSource('mc_cid=1&ttclid=2')?.so).toBe('tiktok')
  })

  it('fills only empty fields: explicit UTM values and a real referrer win', () => {
    expect(map({ query: 'fbclid=1' }).body).toMatchObject({ so: 'facebook', me: 'social', ref: 'https://facebook.com' })
    expect(map({ query: 'fbclid=1&utm_source=newsletter' }).body).toMatchObject({ so: 'newsletter', me: 'social', ref: 'https://facebook.com' })
    expect(map({ query: 'fbclid=1&utm_medium=paid', referrer: 'https://l.facebook.com/' }).body).toMatchObject({
      so: 'facebook',
      me: 'paid',
      ref: 'https://l.facebook.com/',
    })
    // The tracker's own rule for gclid (me "<gclid>") comes first, as in the browser.
    expect(map({ query: 'gclid=1' }).body).toMatchObject({ so: 'google', me: '<gclid>', ref: 'https://google.com' })
  })

  it('a self-referrer is dropped first, so the click id gives the referrer', () => {
    expect(map({ query: 'gclid=1', host: 'shop.example', referrer: 'https://shop.example/cart' }).body.ref).toBe('https://google.com')
  })

  it('custom events get it too; errors carry no source', () => {
    const rules = [{ event: 'SIGNUP', path: '^/signup$' }]
    expect(map({ path: '/signup', query: 'ttclid=1' }, { rules }).body).toMatchObject({ ev: 'SIGNUP', so: 'tiktok', me: 'social' })
    expect(map({ status: 500, query: 'ttclid=1' }).body).not.toHaveProperty('so')
  })

  it('the query itself is not sent, however long; --keep-query puts it in pg only', () => {
    const long = `gclid=1&${'a'.repeat(3000)}`
    const e = map({ query: long })
    expect(e.body).not.toHaveProperty('qs')
    expect(e.body.so).toBe('google')
    expect(map({ query: 'fbclid=1' }, { keepQuery: true }).body).toMatchObject({ pg: '/?fbclid=1', so: 'facebook' })
  })
})

describe("the site's host: Origin header and self-referrers", () => {
  it('Origin is https:// + the URL hostname Swetrix would read from it: lower case, no port, IPv6 in brackets', () => {
    expect(map({ host: 'Shop.Example.COM:8443' }).headers.Origin).toBe('https://shop.example.com')
    expect(map({ host: '2001:db8::80' }).headers.Origin).toBe('https://[2001:db8::80]')
    expect(map({ host: '[2001:db8::80]:443' }).headers.Origin).toBe('https://[2001:db8::80]')
    expect(siteHostName('bücher.example')).toBe('xn--bcher-kva.example')
  })

  it('no Origin without a host; none for junk hosts (a path, credentials, spaces, escapes of controls)', () => {
    expect(map({}).headers).not.toHaveProperty('Origin')
    for (const host of ['-', '', 'a b', 'evil.example/x', 'user@evil.example', '\\x0aevil.example', 'a"b.example', '${jndi:ldap://x}'])
      expect(map({ host }).headers).not.toHaveProperty('Origin')
  })

  it('--hostname is every line’s host; a single plain --host is the host of lines that log none', () => {
    expect(map({ host: 'other.example' }, { hostname: 'www.example.com' }).headers.Origin).toBe('https://www.example.com')
    expect(map({}, { hosts: ['example.com'] }).headers.Origin).toBe('https://example.com')
    expect(map({ host: 'www.example.com' }, { hosts: ['example.com'] }).headers.Origin).toBe('https://www.example.com')
    expect(map({}, { hosts: ['example.com', 'example.org'] }).headers).not.toHaveProperty('Origin')
    expect(map({}, { hosts: ['*.example.com'] }).headers).not.toHaveProperty('Origin')
    expect(() => createMapper({ projectId: PID, hostname: 'https://example.com/' })).toThrow(/--hostname/)
  })

  it('errors carry the Origin too (Swetrix stores their host the same way)', () => {
    expect(map({ status: 503, host: 'example.com' }).headers.Origin).toBe('https://example.com')
  })

  it('a referrer on the site host is dropped, www. twin, case and port ignored, for every way the host is known', () => {
    const refOf = (over: Partial<RequestRecord>, opts: Partial<MapperOptions> = {}) => map(over, opts).body.ref
    expect(refOf({ host: 'example.com:8080', referrer: 'https://WWW.example.com/a' })).toBeUndefined()
    expect(refOf({ host: 'www.example.com', referrer: 'http://example.com:80/' })).toBeUndefined()
    expect(refOf({ referrer: 'https://www.example.com/a' }, { hostname: 'example.com' })).toBeUndefined()
    expect(refOf({ host: 'cdn.example.net', referrer: 'https://cdn.example.net/' }, { hostname: 'example.com' })).toBeUndefined()
    expect(refOf({ referrer: 'https://example.com/a' }, { hosts: ['www.example.com'] })).toBeUndefined()
    expect(refOf({ host: 'a.example', referrer: 'https://b.example/' })).toBe('https://b.example/')
    expect(refOf({ referrer: 'https://example.com/a' })).toBe('https://example.com/a')
  })
})

describe('--client-ip-header', () => {
  it("adds the named header with the visitor's address, beside the two sent always", () => {
    const h = map({}, { clientIpHeader: 'CF-Connecting-IP' }).headers
    expect(h).toMatchObject({ 'CF-Connecting-IP': '203.0.113.7', 'X-Forwarded-For': '203.0.113.7', 'X-Client-IP-Address': '203.0.113.7' })
    expect(map({ status: 500 }, { clientIpHeader: 'True-Client-IP' }).headers['True-Client-IP']).toBe('203.0.113.7')
  })

  it('refuses names that are not tokens, already sent, hop-by-hop or credentials, saying why', () => {
    expect(checkClientIpHeader(' x-real-ip ')).toBe('x-real-ip')
    expect(() => checkClientIpHeader('')).toThrow(/give the header name/)
    expect(() => checkClientIpHeader('cf connecting ip')).toThrow(/not a header name/)
    expect(() => checkClientIpHeader('X-Client-IP:')).toThrow(/not a header name/)
    expect(() => checkClientIpHeader('x-forwarded-for')).toThrow(/already carries the visitor's address/)
    expect(() => checkClientIpHeader('User-Agent')).toThrow(/already carries something else/)
    expect(() => checkClientIpHeader('Origin')).toThrow(/already carries something else/)
    for (const n of ['Connection', 'Transfer-Encoding', 'Keep-Alive', 'Upgrade', 'Proxy-Foo']) expect(() => checkClientIpHeader(n)).toThrow(/connection header/)
    expect(() => checkClientIpHeader('Authorization')).toThrow(/credentials/)
    expect(() => createMapper({ projectId: PID, clientIpHeader: 'Host' })).toThrow(/--client-ip-header Host/)
  })
})

describe('"most referrers are the site" hint', () => {
  const event = (ref: string | undefined, origin?: string): OutgoingEvent => ({
    kind: 'pageview',
    endpoint: '/log',
    headers: origin === undefined ? {} : { Origin: origin },
    body: ref === undefined ? { pid: PID, pg: '/' } : { pid: PID, pg: '/', ref },
  })

  it('names the host and the option when more than half of the referrers share one host', () => {
    const t = createReferrerTally()
    for (let i = 0; i < 30; i++) observeReferrer(t, event(`https://www.shop.example/p/${i}`))
    for (let i = 0; i < 10; i++) observeReferrer(t, event('https://search.example.net/?q=1'))
    observeReferrer(t, event(undefined))
    expect(selfReferrerHint(t, 'run')).toBe(
      '30 of 40 referrers are pages of shop.example: if that is this site, pass --host shop.example (or --site shop.example=PROJECT) so its own pages are not counted as referrers',
    )
    expect(selfReferrerHint(t, 'backfill')).toContain('pass --hostname shop.example')
  })

  it('says nothing for half or less, for few referrers, or when the site host was known (Origin)', () => {
    const half = createReferrerTally()
    for (let i = 0; i < 20; i++) observeReferrer(half, event(i % 2 === 0 ? 'https://a.example/' : 'https://b.example/'))
    expect(selfReferrerHint(half, 'check')).toBeNull()
    const few = createReferrerTally()
    for (let i = 0; i < 19; i++) observeReferrer(few, event('https://a.example/'))
    expect(selfReferrerHint(few, 'check')).toBeNull()
    const known = createReferrerTally()
    for (let i = 0; i < 50; i++) observeReferrer(known, event('https://a.example/', 'https://a.example'))
    expect(known.referrers).toBe(0)
  })

  it('tallies from several threads merge to the tally of all', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('https://a.example/', 'https://b.example/x', 'https://www.a.example/', 'not a url'), { maxLength: 80 }),
        fc.nat(80),
        (refs, cut) => {
          const whole = createReferrerTally()
          const left = createReferrerTally()
          const right = createReferrerTally()
          refs.forEach((r, i) => {
            observeReferrer(whole, event(r))
            observeReferrer(i < cut ? left : right, event(r))
          })
          mergeReferrerTally(left, right)
          expect(left.referrers).toBe(whole.referrers)
          expect(new Map([...left.byHost].sort())).toEqual(new Map([...whole.byHost].sort()))
          expect(selfReferrerHint(left, 'check')).toBe(selfReferrerHint(whole, 'check'))
        },
      ),
    )
  })
})

describe('boundedMemo', () => {
  it('returns what the function returns for any key sequence, and calls it again only for forgotten keys', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 300 }), fc.integer({ min: 2, max: 12 }), (keys, size) => {
        let calls = 0
        const memo = boundedMemo((k: number) => {
          calls++
          return `v${k}`
        }, size)
        for (const k of keys) expect(memo(k)).toBe(`v${k}`)
        expect(calls).toBeLessThanOrEqual(keys.length)
        // The key used last is always remembered.
        if (keys.length > 0) {
          const before = calls
          memo(keys.at(-1)!)
          expect(calls).toBe(before)
        }
      }),
    )
  })

  it('keeps at most maxEntries results, the recently used ones', () => {
    let calls = 0
    const memo = boundedMemo((k: number) => (calls++, k), 4)
    for (const k of [1, 2, 3, 4, 5, 6]) memo(k)
    calls = 0
    memo(6)
    memo(5)
    expect(calls).toBe(0)
    memo(1)
    expect(calls).toBe(1)
    expect(() => boundedMemo((k: number) => k, 1)).toThrow(RangeError)
  })
})
