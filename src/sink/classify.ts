// Classification of one Events API answer (the statuses and messages of Swetrix's source, see
// docs/delivery.md, "Answers of the API") and of one failed attempt, as pure
// functions: the HTTP sink does the I/O and the retry loop, these decide what an answer means.
import { safeText } from '../output/safe-text.js'
import { REQUEST_TIMEOUT_CODE } from './http-attempt.js'

/** What one answered attempt means for its event. */
export type AnswerClass =
  | { kind: 'accepted'; status: number }
  | { kind: 'bot'; status: number }
  /** This one event is refused for good: dead-letter it. */
  | { kind: 'dead'; status: number; body: string }
  /** The whole project or URL is refused: stop the run. `redirect`: a 3xx (with its Location, if
   *  any); otherwise `message` is the server's message as one line. */
  | { kind: 'fatal'; status: number; message: string; redirect?: { location: string | undefined } }
  /** Worth retrying (408/429/5xx): the API did not store it. */
  | { kind: 'transient'; status: number; detail: string; retryAfterMs: number | undefined }
  /** A 2xx whose body is not one Swetrix sends (a captive portal, a proxy's own page, --api-url
   *  pointing at something else): not stored by Swetrix; retried like a 5xx, never counted accepted. */
  | { kind: 'foreign'; status: number; detail: string }

export interface Answer {
  status: number
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>
  /** The decoded body text ('' when it could not be decoded). */
  text: string
}

const BOT_MESSAGE = 'Bot traffic detected'
/** Server messages that mean the project (not this event) is refused: the run stops. */
const FATAL_MESSAGES = ['The provided Project ID (pid) is incorrect', 'Incoming analytics is disabled for this project', 'This origin is prohibited']
/** Dead-letter bodies are bounded: an HTML error page should not bloat the dead-letter file. */
const DEAD_BODY_MAX = 2000

/** Swetrix's own success bodies: `{}` (recorded) and the bot message. */
const RECORDED = '{}'

export function classifyAnswer(a: Answer, nowMs = Date.now()): AnswerClass {
  const { status, text } = a
  if (status >= 200 && status < 300) {
    if (text === RECORDED) return { kind: 'accepted', status }
    const own = swetrixSuccess(text)
    if (own !== undefined) return { kind: own, status }
    return { kind: 'foreign', status, detail: foreignDetail(status, text) }
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      kind: 'transient',
      status,
      detail: `HTTP ${status} ${serverMessage(text)}`.trimEnd(),
      retryAfterMs: parseRetryAfter(a.headers['retry-after'], nowMs),
    }
  }
  if (status >= 300 && status < 400) {
    // A redirect means --api-url is not the API itself (e.g. http -> https): every event would fail alike.
    const location = a.headers.location
    return { kind: 'fatal', status, message: '', redirect: { location: location ? String(location) : undefined } }
  }
  const msg = serverMessage(text)
  if (
    status === 401 ||
    status === 402 ||
    (status === 400 && FATAL_MESSAGES.some((m) => text.includes(m))) ||
    (status === 404 && (/Project .* was not found/.test(text) || text.includes('Cannot POST')))
  ) {
    // Events carry `Origin: https://<the line's site host>` so Swetrix stores their hostname.
    if (text.includes('This origin is prohibited'))
      return { kind: 'fatal', status, message: `${msg}: add the site's host names to the project's allowed origins in Swetrix, or keep only them with --host` }
    return { kind: 'fatal', status, message: msg }
  }
  return { kind: 'dead', status, body: text.length > DEAD_BODY_MAX ? `${text.slice(0, DEAD_BODY_MAX)}…` : text }
}

/** Which Swetrix answer a 2xx body is: JSON `{}` (recorded; whitespace allowed) or an object whose
 *  `message` is the bot message (ignored); undefined for any other body (HTML, other JSON, empty). */
export function swetrixSuccess(text: string): 'accepted' | 'bot' | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined
  const message = (parsed as { message?: unknown }).message
  if (typeof message === 'string' && message.includes(BOT_MESSAGE)) return 'bot'
  return Object.keys(parsed).length === 0 ? 'accepted' : undefined
}

/** One line for a foreign 2xx: what came back (escaped, short) and what it usually is. */
function foreignDetail(status: number, text: string): string {
  const sample = text.trim() === '' ? 'an empty body' : `"${safeText(oneLine(text, 60))}"`
  return `HTTP ${status} with ${sample}, not an answer of the Swetrix API (a captive portal, a proxy's own page, or --api-url pointing elsewhere); nothing was recorded`
}

/** What one attempt that got no answer means. */
export type FailureClass =
  /** Retry. `written`: the request had been written, so the server may have stored it.
   *  `timedOut`: the attempt ran out of time (no answer in time), as opposed to a refusal or a reset. */
  | { kind: 'transient'; code: string; detail: string; written: boolean; timedOut: boolean }
  /** The server's certificate is not trusted: stop the run (nothing was written). */
  | { kind: 'certificate'; code: string; detail: string }
  /** Neither: a bug or something this tool does not know; the run stops with it. */
  | { kind: 'unexpected' }

/** OpenSSL / Node codes of certificate verification failures (node:tls, X509_V_ERR_*). */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
])

/** Codes of failures worth retrying: the API is unreachable, or its answer was lost or garbled. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EPROTO',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTCONN',
  // undici's own codes: socket closed, timeouts, a malformed answer, a proxy that refused the tunnel.
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_STATUS',
  'HPE_INVALID_HEADER_TOKEN',
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_HEADER_OVERFLOW',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
  'UND_ERR_ABORTED',
  'UND_ERR_PRX_TLS',
  REQUEST_TIMEOUT_CODE,
])

/** Codes of attempts that ran out of time. */
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', REQUEST_TIMEOUT_CODE])

/** Certificate failure descriptions for the one-line message (the rest use Node's own text). */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'chains to a self-signed CA this machine does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'is signed by a CA this machine does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'is signed by a CA this machine does not trust',
  CERT_HAS_EXPIRED: 'has expired',
  CERT_NOT_YET_VALID: 'is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'does not name this host',
  HOSTNAME_MISMATCH: 'does not name this host',
}

/** Classifies a failed attempt. `written`: the HTTP client had started writing the request. */
export function classifyFailure(err: unknown, written: boolean): FailureClass {
  const codes = errorCodes(err)
  const cert = codes.find((c) => CERTIFICATE_CODES.has(c))
  if (cert !== undefined) return { kind: 'certificate', code: cert, detail: errorMessage(err, cert) }
  const transient = codes.find((c) => TRANSIENT_CODES.has(c))
  if (transient !== undefined) {
    const detail = `${transient}: ${oneLine(errorMessage(err, transient), 120)}`
    return { kind: 'transient', code: transient, detail, written, timedOut: codes.some((c) => TIMEOUT_CODES.has(c)) }
  }
  return { kind: 'unexpected' }
}

/** The one-line message of a certificate failure: problem and remedy. */
export function certificateMessage(url: string, code: string, detail: string): string {
  const problem = CERTIFICATE_PROBLEMS[code] ?? `failed verification (${code}: ${oneLine(detail, 100)})`
  const remedy =
    code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
      ? "renew the certificate on the server (or fix this machine's clock)"
      : code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH'
        ? 'use the host name the certificate names in --api-url, or fix the certificate'
        : 'trust its CA with --ca-file <pem> (or NODE_EXTRA_CA_CERTS), or install a certificate from a public CA'
  return `TLS certificate of ${url} ${problem} (${code}); nothing was sent: ${remedy}`
}

/** Codes on the error and its cause chain (undici wraps connect errors), outermost first. */
function errorCodes(err: unknown): string[] {
  const out: string[] = []
  let e: unknown = err
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') out.push(code)
    e = (e as { cause?: unknown }).cause
  }
  return out
}

function errorMessage(err: unknown, code: string): string {
  let e: unknown = err
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    if ((e as { code?: unknown }).code === code) {
      const m = (e as { message?: unknown }).message
      return typeof m === 'string' ? m : code
    }
    e = (e as { cause?: unknown }).cause
  }
  const m = (err as { message?: unknown } | null)?.message
  return typeof m === 'string' ? m : code
}

/** Retry-After as milliseconds from now (delta-seconds or HTTP-date), undefined if absent/invalid. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v === undefined || v === '') return undefined
  const trimmed = v.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs)
}

export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/** The `message` of a NestJS error body, else the body itself, as one short line. */
export function serverMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body)
    if (parsed !== null && typeof parsed === 'object' && 'message' in parsed) {
      const m = (parsed as { message: unknown }).message
      return oneLine(Array.isArray(m) ? m.join('; ') : String(m))
    }
  } catch {
    // not JSON: fall through
  }
  return oneLine(body)
}
