// Where a sending command's events go: the Events API over HTTP, or stdout for `--dry-run`. The
// flags are checked once here for every command that sends (run, backfill, follow).
import type { Writable } from 'node:stream'
import type { EventSink } from '../sink/contract.js'
import { createStdoutSink } from '../sink/stdout.js'
import { parseDuration, parsePositiveInt, parseRequestTimeout } from '../options.js'
import { validateApiUrl } from './api-url.js'

/** The sending options every sending command takes (commander's parsed values). */
export interface SendFlags {
  apiUrl: string
  concurrency: string
  rate?: string
  maxRetryTime: string
  /** One attempt's deadline, its whole answer included. */
  requestTimeout?: string
  caFile?: string
  dryRun?: boolean
}

export interface SendSettings {
  apiUrl: string
  concurrency: number
  rate: number | undefined
  maxRetryTimeMs: number
  /** undefined: the sink's default. */
  requestTimeoutMs: number | undefined
  caFile: string | undefined
  dryRun: boolean
}

export function sendSettings(flags: SendFlags): SendSettings {
  return {
    apiUrl: validateApiUrl(flags.apiUrl),
    concurrency: parsePositiveInt(flags.concurrency, '--concurrency'),
    rate: flags.rate === undefined ? undefined : parsePositiveInt(flags.rate, '--rate'),
    maxRetryTimeMs: parseDuration(flags.maxRetryTime, '--max-retry-time'),
    requestTimeoutMs: parseRequestTimeout(flags.requestTimeout),
    caFile: flags.caFile,
    dryRun: flags.dryRun === true,
  }
}

/** The HTTP sink loads (undici, TLS) only when a command really sends. `onRetry` counts retries. */
export async function createEventSink(s: SendSettings, o: { stdout: Writable; env: NodeJS.ProcessEnv; onRetry: () => void }): Promise<EventSink> {
  if (s.dryRun) return createStdoutSink(o.stdout)
  const { createHttpSink } = await import('../sink/http.js')
  return createHttpSink({
    apiUrl: s.apiUrl,
    connections: s.concurrency,
    maxRetryTimeMs: s.maxRetryTimeMs,
    requestTimeoutMs: s.requestTimeoutMs,
    rate: s.rate,
    onRetry: o.onRetry,
    env: o.env,
    ...(s.caFile !== undefined ? { caFile: s.caFile } : {}),
  })
}
