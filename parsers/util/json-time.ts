// Times in JSON logs: ISO 8601 (no zone = UTC), CLF `10/Oct/2000:13:55:36 -0700`, or epoch
// seconds/ms/µs/ns as a number or digits.

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/
const CLF_TIME = /^\[?(\d{1,2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:\s*([+-]\d{4}))?\]?$/
const EPOCH = /^(\d{1,19})(?:\.(\d{1,9}))?$/

function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0
  const sign = zone.charCodeAt(0) === 0x2d ? -1 : 1
  const digits = zone.length === 3 ? zone.slice(1) + '00' : zone.slice(1).replace(':', '')
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000
}

/** Fractional-second digits as milliseconds: exact to the millisecond, finer digits kept as a fraction. */
function fractionMs(digits: string | undefined): number {
  if (digits === undefined) return 0
  if (digits.length <= 3) return Number(digits.padEnd(3, '0'))
  return Number(digits.slice(0, 3)) + Number('0.' + digits.slice(3))
}

function civilToMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number | null {
  if (mo < 0 || mo > 11 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60) return null
  return Date.UTC(y, mo, d, h, mi, s)
}

/** Epoch seconds/milliseconds/microseconds/nanoseconds, told apart by magnitude. */
function epochToMs(n: number): number | null {
  if (!Number.isFinite(n) || n <= 0) return null
  if (n < 1e11) return n * 1000
  if (n < 1e14) return n
  if (n < 1e17) return n / 1000
  return n / 1e6
}

/** Reads a logged time: ISO 8601 (no zone = UTC), CLF `10/Oct/2000:13:55:36 -0700`, or epoch
 *  seconds/ms/µs/ns as a number or digits. Returns epoch ms, keeping sub-millisecond fractions. */
export function timeValue(v: unknown): number | null {
  if (typeof v === 'number') return epochToMs(v)
  if (typeof v !== 'string' || v.length < 4 || v.length > 40) return null
  const c0 = v.charCodeAt(0)
  let m = EPOCH.exec(v)
  if (m !== null) {
    // Seconds with a fraction (nginx $msec): compute exactly to the millisecond.
    if (m[2] !== undefined && m[1]!.length <= 11) {
      const seconds = Number(m[1])
      return seconds > 0 ? seconds * 1000 + fractionMs(m[2]) : null
    }
    return epochToMs(Number(v))
  }
  if (c0 >= 0x30 && c0 <= 0x39 && v.charCodeAt(4) === 0x2d) {
    m = ISO_TIME.exec(v)
    if (m === null) return null
    const base = civilToMs(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0))
    return base === null ? null : base + fractionMs(m[7]) - zoneOffsetMs(m[8])
  }
  m = CLF_TIME.exec(v)
  if (m === null) return null
  const month = MONTHS[m[2]!]
  if (month === undefined) return null
  const base = civilToMs(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  return base === null ? null : base + fractionMs(m[7]) - zoneOffsetMs(m[8])
}
