// Fault schedule of the test API: a seeded PRNG and a pure "which fault does this request get" rule,
// so a schedule is reproducible from its seed and the order in which requests arrive.

export interface Faults {
  /** Fraction of event requests answered 500/502/503 without recording. */
  errorRate?: number
  /** Fraction answered 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitRate?: number
  /** `Retry-After` value for injected 429s, in seconds (default 1). */
  retryAfterSeconds?: number
  /** Fraction whose connection is destroyed without a response, BEFORE recording. */
  resetRate?: number
  /** Fraction recorded and THEN reset ("stored but the answer was lost"); creates duplicates on retry. */
  resetAfterStoreRate?: number
  /** Fraction read but never answered and NOT recorded; the connection stays open until the client gives up. */
  hangRate?: number
  /** Fraction recorded, then never answered ("stored but the answer never came"): the client must count it uncertain. */
  hangAfterStoreRate?: number
  /** Fraction recorded, then answered with the headers at once and the body `{}` one byte per `slowBodyByteMs`. */
  slowBodyRate?: number
  /** Delay before each byte of a slow body, in ms (default 1000). */
  slowBodyByteMs?: number
  /** Fraction answered `200 text/html` with a login page, not recorded (a captive portal in the way). */
  portalRate?: number
  /** Fraction answered `200 application/json {"ok":true}`, not recorded (a proxy that is not Swetrix). */
  proxyOkRate?: number
  /** Delay of every event response after its request arrived, in ms (on average: timer lateness is
   *  compensated, so a single answer may come up to 2 ms early). */
  latencyMs?: number
  /** Extra uniform random delay in [0, latencyJitterMs] ms. */
  latencyJitterMs?: number
  /** Start an outage of this many seconds now (an action, not a stored setting); 0 ends a running outage. */
  outageSeconds?: number
}

/** The stored fault settings: every field set, `outageSeconds` excluded. */
export interface FaultSettings {
  errorRate: number
  rateLimitRate: number
  retryAfterSeconds: number
  resetRate: number
  resetAfterStoreRate: number
  hangRate: number
  hangAfterStoreRate: number
  slowBodyRate: number
  slowBodyByteMs: number
  portalRate: number
  proxyOkRate: number
  latencyMs: number
  latencyJitterMs: number
}

export type FaultKind = 'none' | 'serverError' | 'rateLimit' | 'reset' | 'resetAfterStore' | 'hang' | 'hangAfterStore' | 'slowBody' | 'portal' | 'proxyOk'

export const NO_FAULTS: Readonly<FaultSettings> = Object.freeze({
  errorRate: 0,
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  resetRate: 0,
  resetAfterStoreRate: 0,
  hangRate: 0,
  hangAfterStoreRate: 0,
  slowBodyRate: 0,
  slowBodyByteMs: 1000,
  portalRate: 0,
  proxyOkRate: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
})

/** The rates in the order they slice [0, 1); new kinds go at the end so an old seed keeps its schedule. */
const RATE_KINDS = [
  ['errorRate', 'serverError'],
  ['rateLimitRate', 'rateLimit'],
  ['resetRate', 'reset'],
  ['resetAfterStoreRate', 'resetAfterStore'],
  ['hangRate', 'hang'],
  ['hangAfterStoreRate', 'hangAfterStore'],
  ['slowBodyRate', 'slowBody'],
  ['portalRate', 'portal'],
  ['proxyOkRate', 'proxyOk'],
] as const
const RATE_KEYS = RATE_KINDS.map(([key]) => key)
const NON_NEGATIVE_KEYS = ['retryAfterSeconds', 'slowBodyByteMs', 'latencyMs', 'latencyJitterMs', 'outageSeconds'] as const
const KNOWN_KEYS = new Set<string>([...RATE_KEYS, ...NON_NEGATIVE_KEYS])

/** Validates `f` (also untrusted JSON from the admin endpoint) and fills defaults.
 *  Throws RangeError/TypeError with a readable message. */
export function normalizeFaults(f: unknown): FaultSettings {
  if (f === undefined || f === null) return { ...NO_FAULTS }
  if (typeof f !== 'object' || Array.isArray(f)) throw new TypeError('faults must be an object')
  const input = f as Record<string, unknown>
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) throw new RangeError(`unknown fault setting "${key}"`)
  }
  const out: FaultSettings = { ...NO_FAULTS }
  let sum = 0
  for (const key of RATE_KEYS) {
    const v = input[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new RangeError(`${key} must be a number between 0 and 1`)
    }
    out[key] = v
    sum += v
  }
  // The rates partition one uniform draw, so together they cannot exceed 1.
  if (sum > 1 + 1e-9) throw new RangeError(`the fault rates (${RATE_KEYS.join(' + ')}) must add up to <= 1`)
  for (const key of NON_NEGATIVE_KEYS) {
    const v = input[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${key} must be a number >= 0`)
    if (key !== 'outageSeconds') out[key] = v
  }
  return out
}

/** Maps one uniform draw `u` in [0, 1) to a fault: the rates are consecutive slices of [0, 1). */
export function pickFault(u: number, f: FaultSettings): FaultKind {
  let edge = 0
  for (const [key, kind] of RATE_KINDS) {
    edge += f[key]
    if (u < edge) return kind
  }
  return 'none'
}

/** mulberry32: tiny, fast, good enough for fault schedules; same seed -> same sequence. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
