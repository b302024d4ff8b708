// Times in W3C extended logs: `date` and `time` are UTC (`YYYY-MM-DD`, `HH:MM:SS[.fff]`);
// IIS's `date-local`/`time-local` are the server's local time; a `#Date:` directive gives the date
// for layouts that log a time but no date.

import { daysFromCivil, daysInMonth } from './clf-time.js'
import { digitsValue } from './fields.js'
import type { WallClock } from './wall-clock.js'

/** `YYYY-MM-DD` and `HH:MM:SS[.fff]` as epoch ms: UTC, or a local time in `zone`; NaN when either
 *  is malformed. */
export function readTime(date: string, time: string, zone: WallClock | null): number {
  if (date.length !== 10 || date.charCodeAt(4) !== 0x2d || date.charCodeAt(7) !== 0x2d) return Number.NaN
  const y = digitsValue(date, 0, 4)
  const mo = digitsValue(date, 5, 7)
  const d = digitsValue(date, 8, 10)
  if (time.length < 8 || time.charCodeAt(2) !== 0x3a || time.charCodeAt(5) !== 0x3a) return Number.NaN
  const h = digitsValue(time, 0, 2)
  const mi = digitsValue(time, 3, 5)
  const sec = digitsValue(time, 6, 8)
  let ms = 0
  if (time.length > 8) {
    if (time.charCodeAt(8) !== 0x2e || time.length > 18) return Number.NaN
    const frac = time.slice(9)
    if (!/^\d+$/.test(frac)) return Number.NaN
    ms = Number(frac.padEnd(3, '0').slice(0, 3)) + (frac.length > 3 ? Number('0.' + frac.slice(3)) : 0)
  }
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) {
    return Number.NaN
  }
  const wall = daysFromCivil(y, mo, d) * 86_400_000 + ((h * 60 + mi) * 60 + sec) * 1000
  return (zone === null ? wall : zone.fromWall(wall)) + ms
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** `2026-11-20 10:00:00` or the W3C draft's `20-Nov-2026 10:00:00` -> `2026-11-20`; null otherwise. */
export function directiveDateOf(text: string): string | null {
  let m = /^(\d{4})-(\d{2})-(\d{2})\b/.exec(text)
  if (m !== null) return `${m[1]}-${m[2]}-${m[3]}`
  m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})\b/.exec(text)
  if (m === null) return null
  const month = MONTHS.indexOf(m[2]!.toLowerCase()) + 1
  return month === 0 ? null : `${m[3]}-${String(month).padStart(2, '0')}-${m[1]!.padStart(2, '0')}`
}
