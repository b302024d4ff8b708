// Reading the CLF time `dd/Mon/yyyy:HH:MM:SS +hhmm` (nginx `$time_local`, Apache `%t`) into
// epoch milliseconds. This runs once per line, so the slow part (calendar + zone) is cached per
// reader instance by day and zone text; only the clock digits are read on every line.

/** Length of `10/Oct/2000:13:55:36 -0700`. */
export const CLF_TIME_LENGTH = 26

const MS_PER_DAY = 86_400_000

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12); H. Hinnant's algorithm. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = month > 2 ? month - 3 : month + 9
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** Month number 1..12 of an English three-letter abbreviation at `s[i..i+3)` (any letter case),
 *  or 0. */
export function monthAt(s: string, i: number): number {
  const a = s.charCodeAt(i) | 0x20
  const b = s.charCodeAt(i + 1) | 0x20
  const c = s.charCodeAt(i + 2) | 0x20
  switch (a) {
    case 0x6a: // j
      if (b === 0x61 && c === 0x6e) return 1
      if (b === 0x75 && c === 0x6e) return 6
      if (b === 0x75 && c === 0x6c) return 7
      return 0
    case 0x66:
      return b === 0x65 && c === 0x62 ? 2 : 0
    case 0x6d:
      if (b === 0x61 && c === 0x72) return 3
      if (b === 0x61 && c === 0x79) return 5
      return 0
    case 0x61:
      if (b === 0x70 && c === 0x72) return 4
      if (b === 0x75 && c === 0x67) return 8
      return 0
    case 0x73:
      return b === 0x65 && c === 0x70 ? 9 : 0
    case 0x6f:
      return b === 0x63 && c === 0x74 ? 10 : 0
    case 0x6e:
      return b === 0x6f && c === 0x76 ? 11 : 0
    case 0x64:
      return b === 0x65 && c === 0x63 ? 12 : 0
    default:
      return 0
  }
}

/** Value of the two decimal digits at `s[i]`, `s[i+1]`, or -1. */
export function twoDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48
  const b = s.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** Epoch ms of midnight of the CLF day at `s[i..]` shifted by the zone at `s[i+21..]`, or NaN.
 *  Expects the separators to have been checked by the caller. */
function dayBase(s: string, i: number): number {
  const day = twoDigits(s, i)
  const month = monthAt(s, i + 3)
  const hi = twoDigits(s, i + 7)
  const lo = twoDigits(s, i + 9)
  const sign = s.charCodeAt(i + 21)
  const zh = twoDigits(s, i + 22)
  const zm = twoDigits(s, i + 24)
  if (day < 1 || month === 0 || hi < 0 || lo < 0 || zh < 0 || zm < 0 || zh > 23 || zm > 59) return Number.NaN
  if (s.charCodeAt(i + 2) !== 0x2f || s.charCodeAt(i + 6) !== 0x2f) return Number.NaN // '/'
  if (sign !== 0x2b && sign !== 0x2d) return Number.NaN // '+' '-'
  const year = hi * 100 + lo
  if (day > daysInMonth(year, month)) return Number.NaN
  const offsetMs = (zh * 60 + zm) * 60_000
  return daysFromCivil(year, month, day) * MS_PER_DAY - (sign === 0x2b ? offsetMs : -offsetMs)
}

/** Reads CLF times; remembers the last day and zone text so a run of lines from one day costs a
 *  few character comparisons. One instance per parser (never shared module-wide). */
export class ClfTimeReader {
  private day = '\u0000'
  private zone = '\u0000'
  private base = Number.NaN

  /** Epoch ms of the CLF time starting at `s[i]` (the character after `[`), or NaN when the
   *  text is not a valid `dd/Mon/yyyy:HH:MM:SS +hhmm`. */
  read(s: string, i: number): number {
    if (s.length < i + CLF_TIME_LENGTH) return Number.NaN
    if (!s.startsWith(this.day, i) || !s.startsWith(this.zone, i + 21)) {
      this.base = dayBase(s, i)
      this.day = s.slice(i, i + 11)
      this.zone = s.slice(i + 21, i + 26)
    }
    if (s.charCodeAt(i + 11) !== 0x3a || s.charCodeAt(i + 14) !== 0x3a || s.charCodeAt(i + 17) !== 0x3a || s.charCodeAt(i + 20) !== 0x20) return Number.NaN
    const hh = twoDigits(s, i + 12)
    const mm = twoDigits(s, i + 15)
    const ss = twoDigits(s, i + 18)
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60) return Number.NaN
    return this.base + ((hh * 60 + mm) * 60 + ss) * 1000
  }
}

/** One-off conversion of a CLF time text (no brackets) to epoch ms, or NaN. */
export function parseClfTime(text: string): number {
  return text.length === CLF_TIME_LENGTH ? new ClfTimeReader().read(text, 0) : Number.NaN
}
