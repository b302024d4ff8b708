// `--client-ip-header NAME`: a self-hosted Swetrix reads the visitor's address from the header its
// `CLIENT_IP_HEADER` names (the example environment file sets `cf-connecting-ip`) before
// X-Forwarded-For; without that header it would record the CLI's own address for every event.

/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/** Headers every event already has (or the HTTP client sets), in lower case. */
const ALREADY_SENT = new Set([
  'user-agent',
  'x-client-ip-address',
  'x-forwarded-for',
  'origin',
  'accept',
  'accept-language',
  'accept-encoding',
  'content-type',
  'content-length',
  'host',
])

/** Connection-level headers: a proxy drops them, and HTTP clients refuse most of them. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
])

/** The header name as given (trimmed) when it can carry the visitor's address; otherwise throws
 *  one line saying why. */
export function checkClientIpHeader(name: string): string {
  const n = name.trim()
  const lower = n.toLowerCase()
  if (n === '') throw new Error('--client-ip-header: give the header name your Swetrix reads (its CLIENT_IP_HEADER), e.g. CF-Connecting-IP')
  if (!TOKEN.test(n)) throw new Error(`--client-ip-header ${name}: not a header name (letters, digits and - only, e.g. CF-Connecting-IP)`)
  if (lower === 'x-forwarded-for' || lower === 'x-client-ip-address')
    throw new Error(`--client-ip-header ${n}: every event already carries the visitor's address in ${n}; the option is for another header`)
  if (ALREADY_SENT.has(lower))
    throw new Error(`--client-ip-header ${n}: that header already carries something else; name the header Swetrix reads the address from`)
  if (HOP_BY_HOP.has(lower) || lower.startsWith('proxy-'))
    throw new Error(`--client-ip-header ${n}: a connection header, not delivered to Swetrix; name the header Swetrix reads the address from`)
  if (lower === 'authorization' || lower === 'cookie' || lower === 'x-api-key' || lower === 'x-password')
    throw new Error(`--client-ip-header ${n}: a credentials header; name the header Swetrix reads the address from`)
  return n
}
