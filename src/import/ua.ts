// Browser, OS and device of a User-Agent for import rows, as Swetrix stores them for a live event
// with that User-Agent, so imported and live rows group together. Swetrix's live parser is
// ua-parser-js 2.x (AGPL-3.0) with a few browsers of its own; this project uses 1.x (MIT) with the
// same additions, and ua-live-rules.ts corrects where 1.x answers differently.
import { createRequire } from 'node:module'
import { boundedMemo } from '../util/memo.js'
import { liveDeviceType, liveOs, liveVersion, SWETRIX_BROWSERS } from './ua-live-rules.js'

interface ParsedUa {
  browser: { name?: string; version?: string }
  os: { name?: string; version?: string }
  device: { type?: string }
}
type UaParserCtor = new (ua?: string, extensions?: Record<string, unknown[]>) => { getResult(): ParsedUa }

const require = createRequire(import.meta.url)
const { UAParser } = require('ua-parser-js') as { UAParser: UaParserCtor & { BROWSER: { NAME: string; VERSION: string } } }

const EXTENSIONS = { browser: [[SWETRIX_BROWSERS], [UAParser.BROWSER.NAME, UAParser.BROWSER.VERSION]] }

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

export function parseUserAgent(ua: string): UaColumns {
  const r = new UAParser(ua, EXTENSIONS).getResult()
  const browser = r.browser.name ?? ''
  const os = liveOs(ua, r.os)
  const osName = os.name ?? ''
  return {
    browserName: browser.slice(0, 30),
    browserVersion: liveVersion(r.browser.version, browser).slice(0, 20),
    osName: (OS_NAMES[osName] ?? osName).slice(0, 25),
    osVersion: liveVersion(os.version).slice(0, 20),
    deviceType: liveDeviceType(ua, r.device.type) ?? 'desktop',
  }
}

/** parseUserAgent remembered per User-Agent (real traffic repeats a few thousand). */
export function createUaColumns(): (ua: string) => UaColumns {
  return boundedMemo(parseUserAgent, 10_000)
}
