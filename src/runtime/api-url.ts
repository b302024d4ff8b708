// `--api-url`: the Events API base the sink posts to, checked before anything is read.
import { UsageError } from '../errors.js'

export function validateApiUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--api-url ${text}: not a URL (expected e.g. https://api.swetrix.com/log)`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--api-url ${text}: expected an http or https URL`)
  return text.replace(/\/+$/, '')
}
