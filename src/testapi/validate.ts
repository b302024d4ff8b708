// Request rules of the Swetrix Events API DTOs and its bot check (as in Swetrix's source), as pure
// functions. Messages follow class-validator's defaults so clients can be tested against real wording.
import { isbot } from 'isbot'
import type { Endpoint } from '../types.js'

export const PID_REGEX = /^(?!.*--)[a-zA-Z0-9-]{12}$/
export const PID_MESSAGE = 'The provided Project ID (pid) is incorrect'
export const BOT_MESSAGE = 'Bot traffic detected, request is ignored'
export const DISABLED_MESSAGE = 'Incoming analytics is disabled for this project'
export const notFoundMessage = (pid: string): string => `Project ${pid} was not found in the database`

const META_MAX_KEYS = 100
const META_MAX_CHARS = 2000

/** Headless browsers the server flags next to isbot (basic level). */
const HEADLESS = /HeadlessChrome|PhantomJS|SlimerJS|Selenium|WebDriver|Puppeteer|Playwright|Cypress|Nightmare|Splash/i
/** Probe paths the strict level flags on `pg` (prefix match, case-insensitive, query stripped). */
const PROBE_PATHS = [
  '/.env',
  '/.git',
  '/.svn',
  '/.hg',
  '/.bzr',
  '/.aws',
  '/.ssh',
  '/.docker',
  '/.htaccess',
  '/.htpasswd',
  '/.ds_store',
  '/cgi-bin',
  '/server-status',
  '/server-info',
  '/composer.',
  '/vendor/phpunit',
  '/vendor/composer',
  '/owa',
  '/ecp',
  '/autodiscover.xml',
  '/hnap1',
  '/boaform',
]

const tooLong = (field: string, max: number): string => `${field} must be shorter than or equal to ${max} characters`

/** Optional string with a maximum length; null/undefined count as absent (class-validator @IsOptional). */
function checkOptionalString(body: Record<string, unknown>, field: string, max: number, errors: string[]): void {
  const v = body[field]
  if (v === undefined || v === null) return
  if (typeof v !== 'string') errors.push(`${field} must be a string`)
  else if (v.length > max) errors.push(tooLong(field, max))
}

function checkRequiredString(body: Record<string, unknown>, field: string, max: number, errors: string[]): void {
  const v = body[field]
  if (typeof v !== 'string') {
    if (v === undefined || v === null || v === '') errors.push(`${field} should not be empty`)
    errors.push(`${field} must be a string`)
  } else if (v.length === 0) errors.push(`${field} should not be empty`)
  else if (v.length > max) errors.push(tooLong(field, max))
}

function checkOptionalNumber(body: Record<string, unknown>, field: string, errors: string[]): void {
  const v = body[field]
  if (v === undefined || v === null) return
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    errors.push(`${field} must be a number conforming to the specified constraints`)
  }
}

function checkMeta(meta: unknown, errors: string[]): void {
  if (meta === undefined || meta === null) return
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    errors.push('meta must be an object')
    return
  }
  let keys = 0
  let chars = 0
  for (const [k, v] of Object.entries(meta)) {
    keys++
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      errors.push('meta values must be strings, numbers, booleans or null')
      return
    }
    chars += k.length + String(v).length
  }
  if (keys > META_MAX_KEYS) errors.push(`meta must not contain more than ${META_MAX_KEYS} keys`)
  if (chars > META_MAX_CHARS) errors.push(`meta keys and values must not exceed ${META_MAX_CHARS} characters in total`)
}

/** DTO validation of a parsed JSON body for one endpoint. Returns the class-validator style messages,
 *  or null when the body is valid. Unknown fields are accepted and ignored, as on the real API. */
export function validateEventBody(endpoint: Endpoint, body: unknown): string[] | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return ['an unknown value was passed to the validate function']
  }
  const b = body as Record<string, unknown>
  const e: string[] = []
  const pid = b.pid
  if (typeof pid !== 'string' || !PID_REGEX.test(pid)) e.push(PID_MESSAGE)
  if (endpoint === '/log/error') {
    checkRequiredString(b, 'name', 200, e)
    checkOptionalString(b, 'message', 2000, e)
    checkOptionalString(b, 'filename', 1000, e)
    checkOptionalString(b, 'stackTrace', 7500, e)
    checkOptionalNumber(b, 'lineno', e)
    checkOptionalNumber(b, 'colno', e)
  } else {
    if (endpoint === '/log/custom') checkRequiredString(b, 'ev', 256, e)
    checkOptionalString(b, 'qs', 2048, e)
  }
  checkOptionalString(b, 'profileId', 256, e)
  checkMeta(b.meta, e)
  return e.length > 0 ? e : null
}

export interface BotCheckInput {
  ua: string | undefined
  accept: string | undefined
  acceptLanguage: string | undefined
  acceptEncoding: string | undefined
  pg: unknown
}

/** The basic level: isbot plus the headless-browser pattern. A missing/empty UA is handled by the caller. */
export function isBotUserAgent(ua: string): boolean {
  return isbot(ua) || HEADLESS.test(ua)
}

/** True when the request would get the "Bot traffic detected" answer.
 *  A missing or empty User-Agent counts as a bot here (stricter than Swetrix, which lets an empty UA in).
 *  `uaIsBot` lets the server put a cache in front of the UA check. */
export function isBotRequest(r: BotCheckInput, strict: boolean, uaIsBot: (ua: string) => boolean = isBotUserAgent): boolean {
  const ua = r.ua
  if (ua === undefined || ua === '' || uaIsBot(ua)) return true
  if (!strict) return false
  let missing = 0
  if (!r.accept) missing++
  if (!r.acceptLanguage) missing++
  if (!r.acceptEncoding) missing++
  if (missing >= 2) return true
  return typeof r.pg === 'string' && isProbePath(r.pg)
}

export function isProbePath(pg: string): boolean {
  const q = pg.indexOf('?')
  const path = (q === -1 ? pg : pg.slice(0, q)).toLowerCase()
  for (const p of PROBE_PATHS) if (path.startsWith(p)) return true
  return false
}
