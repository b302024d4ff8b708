// Bot classification of User-Agents, matching what the Swetrix API drops at its default ("basic")
// bot level: isbot (same major as the server) plus the server's headless-browser pattern.
import { isbot } from 'isbot'
import { headerValue } from './headers.js'
import { boundedMemo } from '../util/memo.js'

/** The API's extra headless check at the basic bot level. */
export const HEADLESS_PATTERN = /HeadlessChrome|PhantomJS|SlimerJS|Selenium|WebDriver|Puppeteer|Playwright|Cypress|Nightmare|Splash/i

export interface UserAgentInfo {
  /** The `User-Agent` header to send (raw bytes as Latin-1), `null` when the log has none. */
  header: string | null
  /** A bot by isbot or the headless pattern; a missing User-Agent counts as a bot (browsers always
   *  send one, scripts often don't). */
  bot: boolean
}

const MISSING: UserAgentInfo = { header: null, bot: true }

export function classifyUserAgent(logged: string | null): UserAgentInfo {
  const header = headerValue(logged)
  if (header === null) return MISSING
  // The server tests the header as it receives it (Latin-1), so test the same string.
  return { header, bot: isbot(header) || HEADLESS_PATTERN.test(header) }
}

/** `classifyUserAgent` remembered per logged string (per instance): isbot costs microseconds,
 *  and a log repeats a few thousand User-Agents. */
export function createUserAgentCache(maxEntries = 10_000): (logged: string | null) => UserAgentInfo {
  const classify = boundedMemo(classifyUserAgent, maxEntries)
  return (logged) => (logged === null ? MISSING : classify(logged))
}
