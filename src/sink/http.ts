// The Swetrix Events API sink: one POST per event through undici (a keep-alive Pool per origin, or
// EnvHttpProxyAgent when a proxy is configured), classified by ./classify.ts, retried on transient
// failures. Each attempt (./http-attempt.ts) records whether its request was written, so a failure
// says truthfully whether the server may have it. The first attempt runs without p-retry (the common
// case is a single 201): the hot path is one `dispatch` and one body read.
import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'
import { brotliDecompress, gunzip, inflate } from 'node:zlib'
import { promisify } from 'node:util'
import pRetry, { AbortError } from 'p-retry'
import type { Dispatcher, Pool as PoolClass } from 'undici'
import type { Endpoint, OutgoingEvent } from '../types.js'
import { abortableSleep, createRateLimiter } from './rate.js'
import { envHttpProxyAgent, Pool } from './undici.js'
import { AbortWatch, dispatchAttempt } from './http-attempt.js'
import type { RateLimiter } from './rate.js'
import { certificateMessage, classifyAnswer, classifyFailure, parseRetryAfter } from './classify.js'
import { CertificateError, DeliveryError, FatalApiError, SendStoppedError } from './contract.js'
import type { EventSink, SendControl, SendOutcome } from './contract.js'

export { CertificateError, DeliveryError, FatalApiError, SendStoppedError, parseRetryAfter }
export type { EventSink, SendOutcome }

export interface RetryInfo {
  /** Number of the attempt that just failed (1 = first). */
  attempt: number
  status?: number
  error?: string
  /** Wait before the next attempt. */
  delayMs: number
  /** The failed attempt's request was written and got no answer: the next attempt may duplicate. */
  unanswered?: boolean
}

export interface HttpSinkOptions {
  /** Events API base, e.g. https://api.swetrix.com/log ('/log' -> it, '/log/custom' -> it + '/custom'). */
  apiUrl: string
  /** Keep-alive connections per origin (default 16; pass the delivery concurrency). */
  connections?: number
  /** Per attempt: connect, headers and body timeouts (default 30 s; connect at most 10 s). */
  timeoutMs?: number
  /** Give up with DeliveryError after retrying this long (default 10 min). */
  maxRetryTimeMs?: number
  /** Max requests per second, all attempts included (optional). */
  rate?: number
  /** Backoff bounds (defaults 250 ms and 10 s); a Retry-After header raises the delay. */
  minRetryDelayMs?: number
  maxRetryDelayMs?: number
  onRetry?: (info: RetryInfo) => void
  /** PEM file with CA certificates trusted for the API (in addition to the system's). */
  caFile?: string
  /** Where HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower-case forms) and NODE_EXTRA_CA_CERTS are read
   *  (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Injectable sleep for backoff and rate limiting; must reject when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** Injectable clock for the rate limiter (ms). */
  now?: () => number
}

/** Lower-case forms of the header names the mapper sets on every event (others are lower-cased as
 *  they come). */
const LOWER_NAMES: ReadonlyMap<string, string> = new Map(
  ['User-Agent', 'X-Client-IP-Address', 'X-Forwarded-For', 'Accept', 'Accept-Language', 'Accept-Encoding', 'Content-Type'].map((n) => [n, n.toLowerCase()]),
)
function lowerName(name: string): string {
  return LOWER_NAMES.get(name) ?? name.toLowerCase()
}

/** A header value undici would send wrongly or refuse: CR, LF, NUL or a character above U+00FF
 *  (headers go out as Latin-1, so a Latin-1 User-Agent from a log arrives byte-exact). */
const UNSENDABLE = /[\r\n\0]|[^\u0000-\u00ff]/

/** Headers of the real request as undici's flat [name, value, ...] list: the event's headers (names
 *  lower-cased) plus the JSON content type; `Accept-Encoding: identity` unless the event sets its own
 *  (we decode compressed replies anyway). A string instead names a header whose value cannot be sent. */
export function requestHeaders(headers: Record<string, string>): string[] | string {
  const out: string[] = []
  let encoding = false
  for (const k in headers) {
    const name = lowerName(k)
    if (name === 'content-type') continue // replaced by ours below
    const value = headers[k]!
    if (UNSENDABLE.test(value)) return name
    if (name === 'accept-encoding') encoding = true
    out.push(name, value)
  }
  out.push('content-type', 'application/json')
  if (!encoding) out.push('accept-encoding', 'identity')
  return out
}

/** The three endpoint URLs for an `--api-url`, without double slashes. */
export function endpointUrls(apiUrl: string): Record<Endpoint, string> {
  const base = apiUrl.replace(/\/+$/, '')
  return { '/log': base, '/log/custom': `${base}/custom`, '/log/error': `${base}/error` }
}

/** The proxy settings as curl and npm read them: lower-case first, then upper-case. */
export function proxyEnv(env: NodeJS.ProcessEnv): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  const pick = (name: string): string | undefined => {
    // An empty value counts as unset (so an empty lower-case form does not hide the upper-case one).
    const lower = env[name.toLowerCase()]
    const v = lower !== undefined && lower !== '' ? lower : env[name.toUpperCase()]
    return v === undefined || v === '' ? undefined : v
  }
  const out: { httpProxy?: string; httpsProxy?: string; noProxy?: string } = {}
  const http = pick('http_proxy')
  const https = pick('https_proxy')
  const no = pick('no_proxy')
  if (http !== undefined) out.httpProxy = http
  if (https !== undefined) out.httpsProxy = https
  if (no !== undefined) out.noProxy = no
  return out
}

interface Target {
  origin: string
  path: string
  url: string
}

const decoders: Record<string, (b: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
}

/** A failed attempt that may succeed later. Carried through p-retry as the thrown error. */
class TransientFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly detail: string,
    readonly retryAfterMs: number | undefined,
    /** Written and unanswered: the server may have stored it. */
    readonly unanswered: boolean,
  ) {
    super(detail)
  }
}

type Attempt = SendOutcome | TransientFailure

/** CA certificates for `--ca-file`: passing `ca` replaces Node's default store, so the bundled roots
 *  and NODE_EXTRA_CA_CERTS are added back (the private CA is trusted in addition, for the API only). */
function caBundle(caFile: string, env: NodeJS.ProcessEnv): string[] {
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'utf8')
    } catch (err) {
      throw Object.assign(new Error(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`), { name: 'UsageError' })
    }
  }
  const own = read(caFile, '--ca-file')
  if (!own.includes('-----BEGIN CERTIFICATE-----')) throw Object.assign(new Error(`--ca-file ${caFile}: no PEM certificate in it`), { name: 'UsageError' })
  const extra = env.NODE_EXTRA_CA_CERTS ? [read(env.NODE_EXTRA_CA_CERTS, 'NODE_EXTRA_CA_CERTS')] : []
  return [...rootCertificates, ...extra, own]
}

export function createHttpSink(o: HttpSinkOptions): EventSink {
  const targets = {} as Record<Endpoint, Target>
  for (const [endpoint, url] of Object.entries(endpointUrls(o.apiUrl)) as [Endpoint, string][]) {
    const u = new URL(url)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`--api-url must be http(s), got ${o.apiUrl}`)
    targets[endpoint] = { origin: u.origin, path: `${u.pathname}${u.search}`, url }
  }
  const env = o.env ?? process.env
  const timeoutMs = o.timeoutMs ?? 30_000
  const maxRetryTime = o.maxRetryTimeMs ?? 600_000
  // 0.25 s doubling up to 10 s (jittered): a short blip costs little, and after an outage every
  // slot is back within ~10 s of the API; over --max-retry-time that is still a light load.
  const minDelay = o.minRetryDelayMs ?? 250
  const maxDelay = o.maxRetryDelayMs ?? 10_000
  const sleep = o.sleep ?? abortableSleep
  const onRetry = o.onRetry
  const limiter: RateLimiter | undefined = o.rate !== undefined ? createRateLimiter({ rate: o.rate, sleep, ...(o.now ? { now: o.now } : {}) }) : undefined

  const tls = o.caFile !== undefined ? { ca: caBundle(o.caFile, env) } : {}
  const poolOptions = {
    connections: o.connections ?? 16,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect: { timeout: Math.min(timeoutMs, 10_000), ...tls },
  }
  const proxy = proxyEnv(env)
  const dispatchers: Dispatcher[] = []
  const watch = new AbortWatch()
  const dispatcherOf = {} as Record<Endpoint, Dispatcher>
  if (proxy.httpProxy !== undefined || proxy.httpsProxy !== undefined) {
    // EnvHttpProxyAgent: NO_PROXY matching, CONNECT tunnels for https, absolute-URI requests for
    // http (proxyTunnel: false, as curl does); the API's CA applies inside the tunnel (requestTls).
    const agent = envHttpProxyAgent({ ...poolOptions, ...proxy, noProxy: proxy.noProxy ?? '', requestTls: tls, proxyTunnel: false })
    dispatchers.push(agent)
    for (const endpoint of Object.keys(targets) as Endpoint[]) dispatcherOf[endpoint] = agent
  } else {
    // One Pool per origin (the three endpoints normally share one).
    const pools = new Map<string, PoolClass>()
    for (const endpoint of Object.keys(targets) as Endpoint[]) {
      const origin = targets[endpoint].origin
      let pool = pools.get(origin)
      if (!pool) {
        pool = new Pool(origin, poolOptions)
        pools.set(origin, pool)
        dispatchers.push(pool)
      }
      dispatcherOf[endpoint] = pool
    }
  }

  async function attempt(
    dispatcher: Dispatcher,
    target: Target,
    headers: string[],
    body: string,
    pid: string,
    attempts: number,
    unansweredBefore: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    if (limiter)
      await limiter.take(signal).catch(() => {
        throw new SendStoppedError(unansweredBefore)
      })
    const url = target.url
    const r = await dispatchAttempt(dispatcher, target, headers, body, signal, watch)
    if ('error' in r) {
      if (signal?.aborted) throw new SendStoppedError(r.written || unansweredBefore)
      const f = classifyFailure(r.error, r.written)
      if (f.kind === 'transient') return new TransientFailure(undefined, f.detail, undefined, f.written)
      if (f.kind === 'certificate') throw new CertificateError(certificateMessage(url, f.code, f.detail), f.code, url)
      const code = (r.error as { code?: unknown })?.code
      if (code === 'UND_ERR_INVALID_ARG') {
        // A request undici refuses to build (e.g. a header it considers invalid): this event never can be sent.
        return { kind: 'dead', status: 0, body: `request rejected by the HTTP client: ${(r.error as Error).message}`, attempts }
      }
      // Unknown failure: the run stops with it; if the request was written, the event stays uncertain.
      throw Object.assign(r.error instanceof Error ? r.error : new Error(String(r.error)), { maybeDelivered: r.written || unansweredBefore })
    }
    const res = r.answer
    const encoding = res.headers['content-encoding']
    const decode = typeof encoding === 'string' ? decoders[encoding.trim().toLowerCase()] : undefined
    // An undecodable body only loses the message; the status still classifies.
    const text = decode
      ? await decode(res.body).then(
          (b) => b.toString('utf8'),
          () => '',
        )
      : res.body.toString('utf8')
    const c = classifyAnswer({ status: res.status, headers: res.headers, text })
    switch (c.kind) {
      case 'accepted':
      case 'bot':
        return { kind: c.kind, status: c.status, attempts }
      case 'dead':
        return { kind: 'dead', status: c.status, body: c.body, attempts }
      case 'transient':
        return new TransientFailure(c.status, c.detail, c.retryAfterMs, false)
      case 'fatal':
        throw new FatalApiError(
          c.redirect
            ? `Swetrix API ${url} answered HTTP ${c.status} redirect${c.redirect.location ? ` to ${c.redirect.location}` : ''} for project ${pid || '(no pid)'}: use the final URL as --api-url`
            : `Swetrix API ${url} refused project ${pid || '(no pid)'}: HTTP ${c.status}${c.message ? ` ${c.message}` : ''}`,
          c.status,
          pid,
          url,
          unansweredBefore,
        )
    }
  }

  async function sendWithRetry(
    dispatcher: Dispatcher,
    target: Target,
    headers: string[],
    body: string,
    pid: string,
    first: TransientFailure,
    signal: AbortSignal | undefined,
    stopRetrying: AbortSignal | undefined,
  ): Promise<SendOutcome> {
    const started = performance.now()
    const url = target.url
    let last = first
    let attempts = 1
    let retriesConsumed = 0
    let delay = 0
    // Whether any attempt so far was written and unanswered, and how many retries followed one.
    let unanswered = first.unanswered
    let unansweredRetries = 0
    const waitSignal = stopRetrying && signal ? AbortSignal.any([signal, stopRetrying]) : (stopRetrying ?? signal)
    // Backoff before the next attempt: p-retry's formula (randomize, factor 2, min/max), raised to
    // Retry-After, never past the retry deadline (so the last attempt happens at about maxRetryTime).
    const plan = (failure: TransientFailure): void => {
      const backoff = Math.min(Math.round((Math.random() + 1) * minDelay * 2 ** retriesConsumed), maxDelay)
      retriesConsumed++
      const remaining = maxRetryTime - (performance.now() - started)
      delay = Math.max(0, Math.min(Math.max(backoff, failure.retryAfterMs ?? 0), remaining))
      const info: RetryInfo =
        failure.status !== undefined
          ? { attempt: attempts, status: failure.status, delayMs: delay }
          : { attempt: attempts, error: failure.detail, delayMs: delay }
      if (failure.unanswered) info.unanswered = true
      onRetry?.(info)
    }
    const giveUp = (): DeliveryError =>
      new DeliveryError(
        `Events API ${url} still failing after ${attempts} attempts over ${Math.round((performance.now() - started) / 1000)} s: ${last.detail}`,
        url,
        attempts,
        last.status,
        last.status === undefined ? last.detail : undefined,
        unanswered,
      )
    plan(first)
    // p-retry runs the loop (unbounded retries, maxRetryTime backstop, AbortError unwrapping, signal).
    // Its own timer is bypassed (shouldConsumeRetry: false) so the wait can honour Retry-After, be
    // reported through onRetry and use the injectable sleep.
    const outcome = await pRetry(
      async () => {
        let r: Attempt
        try {
          if (delay > 0) await sleep(delay, waitSignal)
          if (stopRetrying?.aborted || signal?.aborted) throw new SendStoppedError(unanswered, unansweredRetries)
          if (last.unanswered) unansweredRetries++
          attempts++
          r = await attempt(dispatcher, target, headers, body, pid, attempts, unanswered, signal)
        } catch (err) {
          // A stop during the wait; abort, fatal answers and unexpected errors end the loop unchanged.
          const e =
            (stopRetrying?.aborted || signal?.aborted) && !(err instanceof SendStoppedError) && !(err instanceof FatalApiError)
              ? new SendStoppedError(unanswered, unansweredRetries)
              : err
          throw new AbortError(e instanceof Error ? e : new Error(String(e)))
        }
        if (!(r instanceof TransientFailure)) return r
        last = r
        if (r.unanswered) unanswered = true
        if (performance.now() - started >= maxRetryTime) throw new AbortError(giveUp())
        throw r
      },
      {
        retries: Infinity,
        maxRetryTime: maxRetryTime + maxDelay,
        factor: 2,
        randomize: true,
        minTimeout: minDelay,
        maxTimeout: maxDelay,
        shouldConsumeRetry: () => false,
        onFailedAttempt: ({ error }) => {
          if (error instanceof TransientFailure) plan(error)
        },
      },
    ).catch((err: unknown) => {
      if (err instanceof TransientFailure) throw giveUp()
      throw err
    })
    return unansweredRetries > 0 ? { ...outcome, unansweredRetries } : outcome
  }

  return {
    async send(ev: OutgoingEvent, signal?: AbortSignal, control?: SendControl) {
      const target = targets[ev.endpoint]
      const headers = requestHeaders(ev.headers)
      if (typeof headers === 'string') {
        return {
          kind: 'dead',
          status: 0,
          body: `request rejected by the HTTP client: invalid value for header ${headers} (CR, LF, NUL or a character above U+00FF)`,
          attempts: 1,
        }
      }
      const body = JSON.stringify(ev.body)
      const pid = typeof ev.body.pid === 'string' ? ev.body.pid : ''
      const dispatcher = dispatcherOf[ev.endpoint]
      const r = await attempt(dispatcher, target, headers, body, pid, 1, false, signal)
      if (!(r instanceof TransientFailure)) return r
      return sendWithRetry(dispatcher, target, headers, body, pid, r, signal, control?.stopRetrying)
    },
    async close() {
      await Promise.all(dispatchers.map((d) => d.close()))
    },
  }
}
