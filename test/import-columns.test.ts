// The cells of import files: RFC 4180 escaping read back by Swetrix's own CSV parser settings,
// formula-looking cells, and the browser/OS/device and country columns against the libraries'
// own answers.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { parse } from 'csv-parse/sync'
import { Reader } from 'maxmind'
import { describe, expect, it } from 'vitest'
import { csvCell, IMPORT_HEADER, isoSeconds } from '../src/import/csv.js'
import { parseUserAgent } from '../src/import/ua.js'
import { liveOs, liveVersion, SWETRIX_BROWSERS } from '../src/import/ua-live-rules.js'
import { bundledDatabasePath, countryOf, openCountryLookup } from '../src/import/geo.js'
import { importSimpleAnalytics } from '../src/testapi/data-import.js'
import { corpusDir } from './helpers/cli.js'

const SWETRIX_CSV = { bom: true, columns: true, skip_empty_lines: true, trim: true, relax_quotes: true, relax_column_count: true } as const

describe('CSV cells', () => {
  const values = [
    '/a,b',
    '/say "hi"',
    '/multi\nline',
    '/cr\r\nlf',
    'https://example.com/?q=a,b&x="y"',
    '=HYPERLINK("http://evil.example","x")',
    '+1+1',
    '-2+3',
    '@SUM(A1)',
    '=a,b',
    '\t=1',
    'plain',
    '',
  ]

  it("reads back exactly through the importer's parser settings", () => {
    const text = 'a,b\n' + values.map((v) => `${csvCell(v)},end`).join('\n') + '\n'
    const rows = parse(text, SWETRIX_CSV) as { a: string; b: string }[]
    // The importer trims values, so a value's own surrounding whitespace is not kept (by Swetrix).
    expect(rows.map((r) => r.a)).toEqual(values.map((v) => v.trim()))
    expect(rows.every((r) => r.b === 'end')).toBe(true)
  })

  it('quotes commas, quotes and line breaks; doubles embedded quotes', () => {
    expect(csvCell('/a,b')).toBe('"/a,b"')
    expect(csvCell('/say "hi"')).toBe('"/say ""hi"""')
    expect(csvCell('/x\ny')).toBe('"/x\ny"')
    expect(csvCell('/plain')).toBe('/plain')
  })

  it('a formula-looking cell never starts with = + - @ in the file', () => {
    for (const v of ['=1+1', '+1', '-1', '@x', '=a,b', '\t=1']) {
      const cell = csvCell(v)
      expect(cell[0]).toBe(' ')
      // Spreadsheets split on commas outside quotes; after the space the cell is text.
      expect(/^[=+\-@\t\r]/.test(cell)).toBe(false)
    }
  })

  it('added_iso: second precision, Z', () => {
    expect(isoSeconds(Date.UTC(2026, 0, 26, 8, 14, 3, 999))).toBe('2026-01-26T08:14:03Z')
  })

  it('the header has the required columns, and a row passes the importer', () => {
    const text = IMPORT_HEADER + `2026-01-26T08:14:03Z,pageview,example.com,/x,,,,,,,Chrome,130.0,Windows,10,desktop,en,US,DE,abc\n`
    const { rows, skipped } = importSimpleAnalytics(text)
    expect(skipped).toBe(0)
    expect(rows[0]).toMatchObject({
      created: '2026-01-26T08:14:03.000Z',
      type: 'pageview',
      pg: '/x',
      br: 'Chrome',
      os: 'Windows',
      dv: 'desktop',
      cc: 'DE',
      lc: 'en-US',
      psid: 'abc',
    })
  })
})

describe('browser, OS and device columns', () => {
  const require = createRequire(import.meta.url)
  const { UAParser } = require('ua-parser-js') as {
    UAParser: new (
      ua: string,
      extensions?: Record<string, unknown[]>,
    ) => {
      getResult(): { browser: { name?: string; version?: string }; os: { name?: string; version?: string }; device: { type?: string } }
    }
  }
  const uas = readFileSync(join(__dirname, '../fixtures/sample.access.log'), 'utf8')
    .split('\n')
    .map((l) => /"([^"]*)"$/.exec(l)?.[1])
    .filter((u): u is string => !!u && u !== '-')

  it("are ua-parser-js's answers with Swetrix's own browsers, 2.x names and Swetrix's version rule", () => {
    expect(new Set(uas).size).toBeGreaterThan(3)
    for (const ua of new Set(uas)) {
      const lib = new UAParser(ua, { browser: [[SWETRIX_BROWSERS], ['name', 'version']] }).getResult()
      const ours = parseUserAgent(ua)
      const os = liveOs(ua, lib.os)
      expect(ours.browserName).toBe(lib.browser.name ?? '')
      expect(ours.browserVersion).toBe(liveVersion(lib.browser.version))
      expect(ours.osName).toBe(os.name === 'Mac OS' ? 'macOS' : (os.name ?? ''))
      expect(ours.osVersion).toBe(liveVersion(os.version))
      expect(ours.deviceType).toBe(lib.device.type ?? 'desktop')
    }
  })

  it('names the common browsers as Swetrix live data does', () => {
    expect(parseUserAgent('Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15')).toEqual({
      browserName: 'Safari',
      browserVersion: '18.0',
      osName: 'macOS',
      osVersion: '14.6',
      deviceType: 'desktop',
    })
    expect(
      parseUserAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'),
    ).toEqual({ browserName: 'Mobile Safari', browserVersion: '18.1', osName: 'iOS', osVersion: '18.1', deviceType: 'mobile' })
    expect(parseUserAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36')).toEqual({
      browserName: 'Chrome',
      browserVersion: '130.0',
      osName: 'Windows',
      osVersion: '10.0',
      deviceType: 'desktop',
    })
    // Chrome on a phone: the importer makes it "Mobile Chrome" from device_type, as 2.x names it live.
    expect(
      parseUserAgent('Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36'),
    ).toMatchObject({ browserName: 'Chrome', osName: 'Android', deviceType: 'mobile' })
  })
})

describe('country column', () => {
  const reader = new Reader<never>(readFileSync(bundledDatabasePath()))

  it("equals the reader's own lookup for documentation addresses (which have no country)", async () => {
    const lookup = await openCountryLookup()
    for (const ip of ['192.0.2.1', '198.51.100.77', '203.0.113.200', '2001:db8::1', '2001:db8:85a3::8a2e:370:7334']) {
      expect(lookup(ip)).toBe(countryOf(reader.get(ip)))
    }
    expect(lookup('not-an-ip')).toBe('')
  })

  // The corpus is beside the clone on developer machines and CI; without it the test is skipped, visibly.
  it.skipIf(!existsSync(join(corpusDir, 'elastic-examples-apache_logs')))(
    "equals the reader's lookup on the addresses of real logs (read in place, not copied)",
    async () => {
      const dir = join(corpusDir, 'elastic-examples-apache_logs')
      const lookup = await openCountryLookup()
      const text = readdirSync(dir)
        .filter((f) => !f.endsWith('.md'))
        .map((f) => readFileSync(join(dir, f), 'utf8').slice(0, 200_000))
        .join('\n')
      const ips = [
        ...new Set(
          text
            .split('\n')
            .map((l) => l.split(' ')[0]!)
            .filter((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip)),
        ),
      ].slice(0, 300)
      expect(ips.length).toBeGreaterThan(10)
      let withCountry = 0
      for (const ip of ips) {
        const rec = reader.get(ip) as { country_code?: string } | null
        expect(lookup(ip)).toBe(rec?.country_code ?? '')
        if (lookup(ip) !== '') withCountry++
      }
      expect(withCountry).toBeGreaterThan(ips.length / 2)
    },
  )
})
