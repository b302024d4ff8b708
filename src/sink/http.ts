// The Swetrix Events API sink: one POST per event through undici (a keep-alive Pool per origin, or
// EnvHttpProxyAgent when a proxy is configured), classified by ./classify.ts, retried on transient
// failures by p-retry (its backoff; a Retry-After wait replaces it). Each attempt (./http-attempt.ts)
// has one deadline for the whole request and records whether its request was written, so a failure
// says truthfully whether the server may have it; after a written request runs out of time the
// circuit (./circuit.ts) holds new attempts until the API answers again. The first attempt runs
// without p-retry (the common case is a single 201): the hot path is one `dispatch` and one body read.
import { readFileSync } from 'node:fs'
import { rootCertificates } from 'node:tls'
import { brotliDecompress, gunzip, inflate } from 'node:zlib'
import { promisify } from 'node:util'
import pRetry, { AbortError } from 'p-retry'
import type { Dispatcher, Pool as PoolClass } from 'undici'
import type { Endpoint, OutgoingEvent } from '../types.js'
import { abortableSleep, createRateLimiter } from './rate.js'
import { envHttpProxyAgent, Pool } from './undici.js'
import { AbortWatch, AttemptDeadlines, dispatchAttempt } from './http-attempt.js'
import { Circuit } from './circuit.js'
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
  /** The wait the server asked for (Retry-After), which replaces the backoff for this retry. */
  retryAfterMs?: number
  /** The failed attempt's request was written and got no answer: the next attempt may duplicate. */
  unanswered?: boolean
}

export interface HttpSinkOptions {
  /** Events API base, e.g. https://api.swetrix.com/log ('/log' -> it, '/log/custom' -> it + '/custom'). */
  apiUrl: string
  /** Keep-alive connections per origin (default 16; pass the delivery concurrency). */
  connections?: number
  /** Deadline of one attempt: connect, write, headers and the whole body (default 10 s; connect at
   *  most 10 s). A request written and left unanswered this long may have been stored. */
  requestTimeoutMs?: number
  /** Give up with DeliveryError after retrying this long (default 10 min). */
  maxRetryTimeMs?: number
  /** Max requests per second, all attempts included (optional). */
  rate?: number
  /** Backoff bounds (defaults 250 ms and 10 s), for retries and for probes of a hung API; a
   *  Retry-After header replaces the backoff for that retry (at least the lower bound). */
  minRetryDelayMs?: number
  maxRetryDelayMs?: number
  /** Past `connections` in doubt, the cooldown before one more trial (30 s, doubling to 5 min). */
  retrialMinDelayMs?: number
  retrialMaxDelayMs?: number
  onRetry?: (info: RetryInfo) => void
  /** PEM file with CA certificates trusted for the API (in addition to the system's). */
  caFile?: string
  /** Where HTTP_PROXY, HTTPS_PROXY, NO_PROXY (and lower-case forms) and NODE_EXTRA_CA_CERTS are read
   *  (default process.env). */
  env?: NodeJS.ProcessEnv
  /** Injectable sleep for Retry-After waits and rate limiting; must reject when `signal` aborts. */
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

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** The probe: a POST to the event route whose body Swetrix refuses before anything is stored (no
 *  pid: a 400 from its validation). It goes the way events go, so a proxy that answers other
 *  requests itself, or an API that holds its event routes, does not pass for one that answers. */
const PROBE_HEADERS: string[] = ['content-type', 'application/json', 'accept-encoding', 'identity']
const PROBE_BODY = '{}'

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
  // 10 s: Swetrix answers from an asynchronous insert, in milliseconds; ten seconds without a
  // complete answer means the API (or a hop before it) is stuck, not slow, and a cron run must end
  // within --max-retry-time plus about one of these.
  const requestTimeoutMs = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const maxRetryTime = o.maxRetryTimeMs ?? 600_000
  // 0.25 s doubling up to 10 s (jittered): a short blip costs little, and after an outage every
  // slot is back within ~10 s of the API; over --max-retry-time that is still a light load.
  const minDelay = o.minRetryDelayMs ?? 250
  const maxDelay = o.maxRetryDelayMs ?? 10_000
  const sleep = o.sleep ?? abortableSleep
  const onRetry = o.onRetry
  const limiter: RateLimiter | undefined = o.rate !== undefined ? createRateLimiter({ rate: o.rate, sleep, ...(o.now ? { now: o.now } : {}) }) : undefined
  const deadlines = new AttemptDeadlines(requestTimeoutMs)

  const tls = o.caFile !== undefined ? { ca: caBundle(o.caFile, env) } : {}
  const poolOptions = {
    connections: o.connections ?? 16,
    // undici's own per-phase timeouts stay as a backstop; the attempt's deadline is the rule.
    headersTimeout: requestTimeoutMs,
    bodyTimeout: requestTimeoutMs,
    connect: { timeout: Math.min(requestTimeoutMs, 10_000), ...tls },
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

  // Probes ask the '/log' origin; every endpoint normally shares it.
  const probeTarget = targets['/log']
  const probeDispatcher = dispatcherOf['/log']
  const circuit = new Circuit({
    minDelayMs: minDelay,
    maxDelayMs: maxDelay,
    // As many as the engine may have in flight: at most those are in doubt, plus one trial, plus one
    // per cooldown while the API answers probes and never an event.
    maxInDoubt: o.connections ?? 16,
    retrialMinDelayMs: o.retrialMinDelayMs ?? 30_000,
    retrialMaxDelayMs: o.retrialMaxDelayMs ?? 300_000,
    async probe(signal) {
      if (limiter) await limiter.take(signal).catch(() => undefined)
      if (signal.aborted) return false
      const r = await dispatchAttempt(probeDispatcher, probeTarget, 'POST', PROBE_HEADERS, PROBE_BODY, signal, watch, deadlines)
      return 'answer' in r
    },
  })

  /** One attempt. `trial`: the circuit let it go first after a probe; every path tells the circuit
   *  how it ended (answered, timed out after the write, or otherwise). */
  async function attempt(
    dispatcher: Dispatcher,
    target: Target,
    headers: string[],
    body: string,
    pid: string,
    attempts: number,
    unansweredBefore: boolean,
    signal: AbortSignal | undefined,
    trial: boolean,
  ): Promise<Attempt> {
    if (limiter)
      await limiter.take(signal).catch(() => {
        circuit.ended(trial)
        throw new SendStoppedError(unansweredBefore)
      })
    const url = target.url
    const r = await dispatchAttempt(dispatcher, target, 'POST', headers, body, signal, watch, deadlines)
    if ('error' in r) {
      const f = signal?.aborted ? undefined : classifyFailure(r.error, r.written)
      if (f?.kind === 'transient' && f.timedOut && f.written) circuit.timedOut(trial)
      else circuit.ended(trial)
      if (f === undefined) throw new SendStoppedError(r.written || unansweredBefore)
      // Written and unanswered past the deadline: it may be stored; a retry could store it twice.
      if (f.kind === 'transient' && f.timedOut && f.written) return { kind: 'unanswered', status: 0, attempts }
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
    if (!circuit.closed) circuit.answered()
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
      case 'foreign':
        // Answered, but not by Swetrix: judged not to have reached it (see classify.ts).
        return new TransientFailure(c.status, c.detail, undefined, false)
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

  /** The retries of one event, after a first attempt that failed transiently (`first`), or from the
   *  start when the circuit was open (`first` undefined). p-retry runs the loop and waits the backoff;
   *  a Retry-After replaces the backoff for that retry. An attempt waits for the circuit too, never
   *  past the retry deadline. */
  async function sendWithRetry(
    dispatcher: Dispatcher,
    target: Target,
    headers: string[],
    body: string,
    pid: string,
    first: TransientFailure | undefined,
    signal: AbortSignal | undefined,
    stopRetrying: AbortSignal | undefined,
  ): Promise<SendOutcome> {
    const started = performance.now()
    const deadline = started + maxRetryTime
    const url = target.url
    let last = first
    let attempts = first ? 1 : 0
    // Whether any attempt so far was written and unanswered, and how many retries followed one.
    let unanswered = first?.unanswered ?? false
    let unansweredRetries = 0
    const waitSignal = stopRetrying && signal ? AbortSignal.any([signal, stopRetrying]) : (stopRetrying ?? signal)
    // p-retry's signal ends a backoff wait. It is aborted only between attempts: p-retry also checks
    // it after an attempt succeeded and would then drop an answer already received.
    const backoff = new AbortController()
    let inAttempt = false
    const onStop = (): void => {
      if (!inAttempt) backoff.abort()
    }
    waitSignal?.addEventListener('abort', onStop, { once: true })
    const stopped = (): SendStoppedError => new SendStoppedError(unanswered, unansweredRetries)
    const giveUp = (): DeliveryError =>
      new DeliveryError(
        last
          ? `Events API ${url} still failing after ${attempts} attempts over ${Math.round((performance.now() - started) / 1000)} s: ${last.detail}`
          : `Events API ${url} answered no request for ${Math.round((performance.now() - started) / 1000)} s (requests time out after ${requestTimeoutMs} ms)`,
        url,
        attempts,
        last?.status,
        last?.status === undefined ? (last?.detail ?? 'no answer') : undefined,
        unanswered,
      )
    try {
      const outcome = await pRetry(
        async (n) => {
          if (n === 1 && first) throw first
          let trial = false
          if (!circuit.closed) {
            const admission = await circuit.admit(waitSignal, deadline)
            if (admission === 'stopped') throw new AbortError(stopped())
            if (admission === 'deadline') throw new AbortError(giveUp())
            trial = admission === 'trial'
          }
          if (waitSignal?.aborted) {
            circuit.ended(trial)
            throw new AbortError(stopped())
          }
          if (last?.unanswered) unansweredRetries++
          attempts++
          let r: Attempt
          inAttempt = true
          try {
            r = await attempt(dispatcher, target, headers, body, pid, attempts, unanswered, signal, trial)
          } catch (err) {
            // Fatal answers, certificate and unexpected errors, a stop on the wire: not retried.
            throw new AbortError(err instanceof SendStoppedError ? new SendStoppedError(err.maybeDelivered || unanswered, unansweredRetries) : (err as Error))
          } finally {
            inAttempt = false
          }
          if (!(r instanceof TransientFailure)) return r
          last = r
          if (r.unanswered) unanswered = true
          // A stop while this attempt ran: no further attempt.
          if (waitSignal?.aborted) throw new AbortError(stopped())
          throw r
        },
        {
          retries: Infinity,
          maxRetryTime,
          factor: 2,
          randomize: true,
          minTimeout: minDelay,
          maxTimeout: maxDelay,
          signal: backoff.signal,
          // The server's own wait replaces the backoff (and does not grow it).
          shouldConsumeRetry: ({ error }) => !(error instanceof TransientFailure && error.retryAfterMs !== undefined),
          onFailedAttempt: async ({ error }) => {
            if (!(error instanceof TransientFailure)) return
            const info: RetryInfo = error.status !== undefined ? { attempt: attempts, status: error.status } : { attempt: attempts, error: error.detail }
            if (error.retryAfterMs !== undefined) info.retryAfterMs = error.retryAfterMs
            if (error.unanswered) info.unanswered = true
            onRetry?.(info)
            if (error.retryAfterMs !== undefined) {
              const remaining = deadline - performance.now()
              await sleep(Math.max(0, Math.min(Math.max(error.retryAfterMs, minDelay), remaining)), backoff.signal)
            }
          },
        },
      )
      return unansweredRetries > 0 ? { ...outcome, unansweredRetries } : outcome
    } catch (err) {
      // p-retry rethrows the last failure once maxRetryTime is spent.
      if (err instanceof TransientFailure) throw giveUp()
      // A stop during a backoff wait rejects with the signal's reason.
      if (backoff.signal.aborted && !(err instanceof SendStoppedError) && !(err instanceof FatalApiError)) throw stopped()
      throw err
    } finally {
      waitSignal?.removeEventListener('abort', onStop)
    }
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
      // While the API does not answer, even a first attempt waits for the circuit.
      if (!circuit.closed) return sendWithRetry(dispatcher, target, headers, body, pid, undefined, signal, control?.stopRetrying)
      const r = await attempt(dispatcher, target, headers, body, pid, 1, false, signal, false)
      if (!(r instanceof TransientFailure)) return r
      return sendWithRetry(dispatcher, target, headers, body, pid, r, signal, control?.stopRetrying)
    },
    async close() {
      circuit.close()
      deadlines.close()
      await Promise.all(dispatchers.map((d) => d.close()))
    },
  }
}
