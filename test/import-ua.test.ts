// The browser, OS and device an import row makes Swetrix store, against what Swetrix stores for a
// live event with the same User-Agent: its live parser is ua-parser-js 2.x (plus its own browsers)
// and its version rule is `extractSoftwareVersion`. The expected values were read off ua-parser-js
// 2.0.10 with Swetrix's extension (run outside the repository; 2.x is AGPL-3.0) and that rule.
// The row goes through the test API's copy of Swetrix's Simple Analytics mapper, so its renames
// ("Mobile Chrome" for mobile and tablet devices) are part of what is compared.
import { describe, expect, it } from 'vitest'
import { IMPORT_HEADER, csvCell } from '../src/import/csv.js'
import { parseUserAgent } from '../src/import/ua.js'
import { liveDeviceType, liveOs, liveVersion, windowsOs } from '../src/import/ua-live-rules.js'
import { importSimpleAnalytics } from '../src/testapi/data-import.js'

interface Stored {
  br: string | null
  brv: string | null
  os: string | null
  osv: string | null
  dv: string
}

/** What Swetrix stores for an imported row with our browser/OS/device cells. */
function importedAs(ua: string): Stored {
  const c = parseUserAgent(ua)
  const cells = [c.browserName, c.browserVersion, c.osName, c.osVersion, c.deviceType].map(csvCell).join(',')
  const { rows, skipped } = importSimpleAnalytics(`${IMPORT_HEADER}2026-01-26T08:14:03Z,pageview,,/,,,,,,,${cells},,,,s1\n`)
  expect(skipped).toBe(0)
  const { br, brv, os, osv, dv } = rows[0]!
  return { br, brv, os, osv, dv }
}

const live = (br: string | null, brv: string | null, os: string | null, osv: string | null, dv = 'desktop'): Stored => ({ br, brv, os, osv, dv })

describe('import rows store what live events store for the same User-Agent', () => {
  const cases: [string, string, Stored][] = [
    [
      'Windows 10: major.minor with the minor kept',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
      live('Chrome', '130.0', 'Windows', '10.0'),
    ],
    [
      'Windows 7: a name-like version gets .0',
      'Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36',
      live('Chrome', '109.0', 'Windows', '7.0'),
    ],
    ['Windows XP -> XP.0', 'Mozilla/5.0 (Windows NT 5.1; rv:52.0) Gecko/20100101 Firefox/52.0', live('Firefox', '52.0', 'Windows', 'XP.0')],
    [
      'Firefox for iOS: the minor part kept as it is (10.6b8836)',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 12_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/10.6b8836 Mobile/16C101 Safari/605.1.15',
      live('Mobile Firefox', '10.6b8836', 'iOS', '12.1', 'mobile'),
    ],
    ['Windows RT 8.1 (NT 6.3 on ARM)', 'Mozilla/5.0 (Windows NT 6.3; ARM; Trident/7.0; Touch; rv:11.0) like Gecko', live('IE', '11.0', 'Windows RT', '8.1')],
    ['Windows RT 8 (NT 6.2 on ARM)', 'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; ARM; Trident/6.0; Touch)', live('IE', '10.0', 'Windows RT', '8.0')],
    ['an unknown NT version stays a number (NT 9.0 -> 9.0)', 'Mozilla/5.0 (Windows; U; MSIE 9.0; WIndows NT 9.0; en-US))', live('IE', '9.0', 'Windows', '9.0')],
    [
      '"Windows 8" without NT',
      'Mozilla/5.0 (Windows 8) AppleWebKit/536.0 (KHTML, like Gecko) Chrome/24.0.1312.57 Safari/536',
      live('Chrome', '24.0', 'Windows', '8.0'),
    ],
    ['Windows ME from "Win 9x 4.90"', 'Mozilla/5.0 (Win 9x 4.90; rv:22.0) Gecko/20100101 Firefox/22.0', live('Firefox', '22.0', 'Windows', 'ME.0')],
    [
      'Windows Phone OS 7.5 is Windows Phone',
      'Mozilla/5.0 (compatible; MSIE 9.0; Windows Phone OS 7.5; Trident/5.0; IEMobile/9.0)',
      live('IEMobile', '9.0', 'Windows Phone', '7.5', 'mobile'),
    ],
    [
      'Windows CE is its own OS, without a version',
      'Mozilla/4.0 (compatible; MSIE 6.0; Windows CE; IEMobile 7.11)',
      live('IEMobile', '7.11', 'Windows CE', null),
    ],
    ['a bare "Windows NT)" is NT.0', 'Mozilla/4.0 (compatible; MSIE 6.1; Windows NT)', live('IE', '6.1', 'Windows', 'NT.0')],
    ['"Windows NT," has no version', 'Mozilla/5.0 (compatible, MSIE 10.0, Windows NT, DigExt)', live('IE', '10.0', 'Windows', null)],
    [
      'Linux i686: the CPU is the version, as live',
      'Mozilla/5.0 (X11; Linux i686; rv:109.0) Gecko/20100101 Firefox/115.0',
      live('Firefox', '115.0', 'Linux', 'i686.0'),
    ],
    [
      'Linux ppc64: no version (2.x skips PowerPC like ARM and x86)',
      'Mozilla/5.0 (X11; Linux ppc64; rv:24.0) Gecko/20140206 Firefox/24.0 Iceweasel/24.3.0',
      live('Iceweasel', '24.3', 'Linux', null),
    ],
    [
      'a Dalvik request of a model only 1.x knows has no device type: desktop',
      'Dalvik/2.1.0 (Linux; U; Android 7.1.1; NX589J Build/NMF26F)',
      live(null, null, 'Android', '7.1'),
    ],
    [
      'a Dalvik request of a known phone is mobile',
      'Dalvik/2.1.0 (Linux; U; Android 8.0.0; SM-G950F Build/R16NW)',
      live(null, null, 'Android', '8.0', 'mobile'),
    ],
    [
      'the same model in a browser is mobile by the generic rule',
      'Mozilla/5.0 (Linux; Android 7.1.1; NX589J Build/NMF26F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.107 Mobile Safari/537.36',
      live('Mobile Chrome', '60.0', 'Android', '7.1', 'mobile'),
    ],
    [
      "iOS 26's Safari writes iOS 18_6; the version comes from Safari's",
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1',
      live('Mobile Safari', '26.0', 'iOS', '26.0', 'mobile'),
    ],
    [
      'iOS 18.5 stays 18.5',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1',
      live('Mobile Safari', '18.5', 'iOS', '18.5', 'mobile'),
    ],
    ["Lynx, one of Swetrix's own browsers", 'Lynx/2.8.9rel.1 libwww-FM/2.14 SSL-MM/1.4.1 OpenSSL/1.1.1d', live('Lynx', '2.8', null, null)],
    [
      'Xbox (Windows NT followed by Xbox) stays Xbox',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041',
      live('Edge', '18.19041', 'Xbox', 'One.0', 'console'),
    ],
    [
      'macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
      live('Safari', '17.4', 'macOS', '10.15'),
    ],
  ]
  for (const [what, ua, expected] of cases) it(what, () => expect(importedAs(ua)).toEqual(expected))

  it('what the format cannot carry: Chrome on an Android tablet is "Chrome" live, "Mobile Chrome" imported (the importer renames by device type)', () => {
    const tablet = 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36'
    expect(parseUserAgent(tablet)).toMatchObject({ browserName: 'Chrome', deviceType: 'tablet' })
    expect(importedAs(tablet)).toEqual(live('Mobile Chrome', '123.0', 'Android', '10.0', 'tablet'))
  })
})

describe("Swetrix's version rule (extractSoftwareVersion)", () => {
  it('major.minor, minor 0 when absent, the parts as they are, nothing without a major', () => {
    expect(liveVersion('10')).toBe('10.0')
    expect(liveVersion('1.2.3')).toBe('1.2')
    expect(liveVersion('XP')).toBe('XP.0')
    expect(liveVersion('10.6b8836')).toBe('10.6b8836')
    expect(liveVersion('10.')).toBe('10.')
    expect(liveVersion('.5')).toBe('')
    expect(liveVersion('')).toBe('')
    expect(liveVersion(undefined)).toBe('')
    expect(liveVersion('1.2.3.4', 'GameVault')).toBe('1.2.3')
    expect(liveVersion('1', 'GameVault')).toBe('1.0.0')
  })

  it('the corrections leave other User-Agents alone', () => {
    expect(windowsOs('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36')).toBeNull()
    expect(liveOs('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', { name: 'Mac OS', version: '10.15.7' })).toEqual({ name: 'Mac OS', version: '10.15.7' })
    expect(liveDeviceType('Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36', 'mobile')).toBe('mobile')
    expect(liveDeviceType('Mozilla/5.0 (Linux; Android 14; Pixel 8)', undefined)).toBeUndefined()
  })
})
