// Where ua-parser-js 1.x (the MIT version this project uses) and 2.x (the rules of Swetrix's live
// parser, AGPL: read, not copied) disagree on what Swetrix stores for a live event, the 2.x
// answer, and Swetrix's own version rule. Found by comparing both versions on the corpus logs and
// on 2.x's test strings; each case has a test with a real User-Agent (test/import-ua.test.ts).
// Pure functions of the User-Agent and the 1.x result.

/** Browsers Swetrix adds to the parser (backend `analytics/utils/ua-parser.ts`): the name as the
 *  User-Agent writes it, and the version after the slash. */
export const SWETRIX_BROWSERS = /(wget|curl|lynx|GameVault)\/([\w.]+)/i

/** Software whose stored version keeps the patch part (Swetrix's `SOFTWARE_WITH_PATCH_VERSION`). */
const WITH_PATCH = new Set(['GameVault'])

/** The version Swetrix stores for a live event (`extractSoftwareVersion`): the parser's version
 *  split on `.`, `major.minor` with the minor `0` when there is none (`10` -> `10.0`, `XP` ->
 *  `XP.0`, `10.6b8836` stays); empty when there is no version or no major part. */
export function liveVersion(version: string | undefined, software?: string): string {
  if (version === undefined || version === '') return ''
  const parts = version.split('.')
  const major = parts[0]!
  if (major === '') return ''
  const minor = parts[1] ?? '0'
  return software !== undefined && WITH_PATCH.has(software) ? `${major}.${minor}.${parts[2] ?? '0'}` : `${major}.${minor}`
}

export interface OsResult {
  name?: string
  version?: string
}

/** NT kernel versions -> the names 2.x gives them (`''` is a bare `Windows NT`). */
const NT_NAMES: Record<string, string> = {
  '4.90': 'ME',
  '3.51': 'NT 3.51',
  '4.0': 'NT 4.0',
  '5.0': '2000',
  '5.01': '2000',
  '5.1': 'XP',
  '5.2': 'XP',
  '6.0': 'Vista',
  '6.1': '7',
  '6.2': '8',
  '6.3': '8.1',
  '6.4': '10',
  '10.0': '10',
  '': 'NT',
}

const WINDOWS_RT = /(windows nt) (6\.[23]); arm/i
const WINDOWS_DEVICE = /(windows (?:phone|mobile|iot))(?: os)?[/ ]?([\d.]*( se)?)/i
const WINDOWS_NAMED = /(windows)[/ ](1[01]|2000|3\.1|7|8(\.1)?|9[58]|me|server 20\d\d( r2)?|vista|xp)/i
const WINDOWS_NT = /windows nt ?([\d.)]*)(?!.+xbox)/i
const WINDOWS_SHORT = /\bwin(?=3| ?9|n)(?:nt| 9x )?([\d.;]*)/i
const WINDOWS_CE = /(windows ce)\/?([\d.]*)/i

/** An NT-style version as 2.x names it; undefined when nothing followed `Windows NT`. */
function ntName(captured: string | undefined): string | undefined {
  if (captured === undefined || captured === '') return undefined
  const v = captured.replace(/[;)]/g, '')
  return NT_NAMES[v] ?? v
}

/** The Windows that 2.x reads from a User-Agent (its Windows rules come before every other OS
 *  rule), or null when none of them matches. */
export function windowsOs(ua: string): OsResult | null {
  let m = WINDOWS_RT.exec(ua)
  if (m !== null) return { name: m[1]!.replace('N', 'R'), version: NT_NAMES[m[2]!] }
  m = WINDOWS_DEVICE.exec(ua) ?? WINDOWS_NAMED.exec(ua)
  if (m !== null) return { name: m[1], version: m[2] || undefined }
  m = WINDOWS_NT.exec(ua) ?? WINDOWS_SHORT.exec(ua)
  if (m !== null) return { name: 'Windows', version: ntName(m[1]) }
  m = WINDOWS_CE.exec(ua)
  if (m !== null) return { name: m[1], version: m[2] || undefined }
  return null
}

/** 2.x skips a CPU name after `Linux` for PowerPC too (1.x only for ARM and x86, so it reports
 *  `ppc64` as the version); `i686` stays the version in both. */
const LINUX = /(?:hurd|linux|morphos)(?: (?:arm|x86|ppc)\w*| ?)([\w.]*)/i

/** Safari on iOS 26 and later writes the OS version frozen at 18 (WebKit's Safari 26 notes); 2.x
 *  then takes the iOS version from Safari's `Version/`. */
const FROZEN_IOS = /^1[89]\D/
const SAFARI_VERSION = /\) Version\/((\d+)[\d.]*)/

/** The OS as 2.x gives it, from the 1.x result. */
export function liveOs(ua: string, os: OsResult): OsResult {
  const windows = windowsOs(ua)
  if (windows !== null) return windows
  if (os.name === 'Linux' || os.name === 'Hurd') {
    const version = LINUX.exec(ua)?.[1]
    return { name: os.name, version: version || undefined }
  }
  if (os.name === 'iOS' && os.version !== undefined && FROZEN_IOS.test(os.version)) {
    const safari = SAFARI_VERSION.exec(ua)
    if (safari !== null && Number(safari[2]) >= 26) return { name: os.name, version: safari[1] }
  }
  return os
}

/** A device rule of 1.x that 2.x does not have (ZTE Nubia models: `NX589J Build`). */
const ONLY_1X_DEVICE = /\bnx\d{3}j b/i
const GENERIC_ANDROID = /droid .+?; ([^;]+?)(?: bui|; wv\)|\) applew|; hmsc).+?(mobile|vr|\d) safari/i
const GENERIC_TABLET = /\b((tablet|tab)[;/]|focus\/\d(?!.+mobile))/i
const GENERIC_MOBILE = /(phone|mobile(?:[;/]| [ \w/.]*safari)|pda(?=.+windows ce))/i

/** The device type as 2.x gives it: where only 1.x knows the model, 2.x falls back to its generic
 *  rules (a Dalvik app request of such a phone has no type: Swetrix stores `desktop`). */
export function liveDeviceType(ua: string, type: string | undefined): string | undefined {
  if (type === undefined || !ONLY_1X_DEVICE.test(ua)) return type
  const android = GENERIC_ANDROID.exec(ua)
  if (android !== null) return android[2]!.toLowerCase() === 'mobile' ? 'mobile' : android[2]!.toLowerCase() === 'vr' ? 'xr' : 'tablet'
  if (GENERIC_TABLET.test(ua)) return 'tablet'
  if (GENERIC_MOBILE.test(ua)) return 'mobile'
  return undefined
}
