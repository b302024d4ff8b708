// Browser, OS and device of a User-Agent for import rows, with the names Swetrix's live parser
// (ua-parser-js 2.x) gives, so imported and live rows group together. The parser is ua-parser-js
// 1.x (MIT; 2.x is AGPL-3.0); the few names 2.x changed are mapped here. Cached per User-Agent.
import { createRequire } from 'node:module'

interface ParsedUa {
  browser: { name?: string; version?: string }
  os: { name?: string; version?: string }
  device: { type?: string }
}
type UaParserCtor = new (ua?: string) => { getResult(): ParsedUa }

const require = createRequire(import.meta.url)
const { UAParser } = require('ua-parser-js') as { UAParser: UaParserCtor }

export interface UaColumns {
  browserName: string
  browserVersion: string
  osName: string
  osVersion: string
  /** `desktop` when the parser names no device type (as Swetrix's live parser defaults). */
  deviceType: string
}

/** ua-parser-js 1.x name -> 2.x name, where they differ. */
const OS_NAMES: Record<string, string> = { 'Mac OS': 'macOS', 'Chromium OS': 'Chrome OS' }
const BROWSER_NAMES: Record<string, string> = {}

/** `major.minor` (Swetrix trims live versions the same way). */
export function majorMinor(version: string | undefined): string {
  if (version === undefined || version === '') return ''
  const m = /^(\d+)(?:\.(\d+))?/.exec(version)
  if (m === null) return version.slice(0, 20)
  return m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`
}

export function parseUserAgent(ua: string): UaColumns {
  const r = new UAParser(ua).getResult()
  const browser = r.browser.name ?? ''
  const os = r.os.name ?? ''
  return {
    browserName: (BROWSER_NAMES[browser] ?? browser).slice(0, 30),
    browserVersion: majorMinor(r.browser.version),
    osName: (OS_NAMES[os] ?? os).slice(0, 25),
    osVersion: majorMinor(r.os.version),
    deviceType: r.device.type ?? 'desktop',
  }
}

const CACHE_SIZE = 10_000

/** A bounded per-UA cache around parseUserAgent (real traffic repeats a few thousand UAs). */
export function createUaColumns(): (ua: string) => UaColumns {
  const cache = new Map<string, UaColumns>()
  return (ua) => {
    let c = cache.get(ua)
    if (c === undefined) {
      c = parseUserAgent(ua)
      if (cache.size >= CACHE_SIZE) cache.clear()
      cache.set(ua, c)
    }
    return c
  }
}
