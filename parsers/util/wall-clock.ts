// Wall-clock times without an offset (HAProxy's accept date, IIS `date-local`/`time-local`, an
// Apache `%{...}t` without `%z`) -> instants, in a named IANA zone (`--timezone`) or the machine's.
//
// A wall time a zone skips (the hour a DST change jumps over) reads with the offset before the
// change, so 02:30 on a spring-forward day in Europe/Berlin is 03:30 CEST; a wall time a zone
// repeats (the hour after a fall-back) reads as the earlier instant, 02:30 CEST. That is Temporal's
// "compatible" disambiguation, and what `new Date(y, m, d, ...)` does in the machine's zone.
//
// Converting is slow (Intl formatting, or the Date constructor's own zone lookup), and these are
// per-line paths: the offset is worked out once per wall-clock hour and cached. An hour in which
// the offset changes (a DST hour whose change is not on the hour) is converted line by line.

import { FormatError } from '../types.js'
import { daysFromCivil } from './clf-time.js'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000
/** Cached hours per clock; a log spans far fewer, so this only bounds memory on junk. */
const HOUR_CACHE_LIMIT = 1 << 14

export interface WallClock {
  /** The zone: the IANA name given, canonical, or the machine's zone as the runtime names it. */
  readonly timeZone: string
  /** True when no zone was given and the machine's zone is used. */
  readonly isMachineZone: boolean
  /** The instant (epoch ms) of a wall-clock time written as if it were UTC epoch ms: the fields of
   *  `2026-03-29 02:30:00` are `Date.UTC(2026, 2, 29, 2, 30, 0)`. */
  fromWall(wallMs: number): number
}

/** The name of an IANA zone, its case as the runtime spells it (`europe/berlin` -> `Europe/Berlin`),
 *  or a `FormatError` for a zone the runtime does not know. */
export function checkTimeZone(name: string): string {
  try {
    if (name.trim() !== name || name === '') throw new RangeError('blank')
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone
    // ICU names some zones by their old link (Asia/Kolkata -> Asia/Calcutta): keep the user's name.
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name
  } catch {
    throw new FormatError(`unknown time zone "${name}": use an IANA zone name such as Europe/Berlin, America/New_York or UTC`)
  }
}

/** The machine's zone as the runtime names it (`TZ`, else the system's setting). */
export function machineTimeZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone
}

/** A clock for `timeZone` (an IANA name; throws `FormatError` for an unknown one), or for the
 *  machine's zone when it is undefined. */
export function createWallClock(timeZone?: string): WallClock {
  if (timeZone === undefined) return new CachedWallClock(undefined, true, machineInstant)
  const canonical = checkTimeZone(timeZone)
  return new CachedWallClock(canonical, false, zoneInstant(offsetFinder(canonical)))
}

/** What `check` can print for the zone local times are read in. */
export function localTimeZoneLabel(timeZone?: string): string {
  return timeZone === undefined ? `${machineTimeZone()} (the machine's zone)` : checkTimeZone(timeZone)
}

class CachedWallClock implements WallClock {
  private readonly offsets = new Map<number, number>()
  private lastHour = Number.NaN
  /** The offset (wall - instant) of `lastHour`; NaN when the offset changes within that hour. */
  private lastOffset = Number.NaN

  constructor(
    /** undefined: the machine's, named when first asked (Intl's first use costs 10-90 ms of start-up). */
    private zone: string | undefined,
    readonly isMachineZone: boolean,
    private readonly instantOf: (wallMs: number) => number,
  ) {}

  get timeZone(): string {
    return (this.zone ??= machineTimeZone())
  }

  fromWall(wallMs: number): number {
    const hour = Math.floor(wallMs / HOUR_MS)
    if (hour !== this.lastHour) {
      this.lastOffset = this.hourOffset(hour)
      this.lastHour = hour
    }
    return Number.isNaN(this.lastOffset) ? this.instantOf(wallMs) : wallMs - this.lastOffset
  }

  private hourOffset(hour: number): number {
    const cached = this.offsets.get(hour)
    if (cached !== undefined) return cached
    const start = hour * HOUR_MS
    const end = start + HOUR_MS - 1000
    const atStart = start - this.instantOf(start)
    const offset = atStart === end - this.instantOf(end) ? atStart : Number.NaN
    if (this.offsets.size >= HOUR_CACHE_LIMIT) this.offsets.clear()
    this.offsets.set(hour, offset)
    return offset
  }
}

/** The machine's zone, exactly as the Date constructor reads local times. */
function machineInstant(wallMs: number): number {
  const w = new Date(wallMs)
  return new Date(w.getUTCFullYear(), w.getUTCMonth(), w.getUTCDate(), w.getUTCHours(), w.getUTCMinutes(), w.getUTCSeconds(), w.getUTCMilliseconds()).getTime()
}

/** A function giving the zone's offset (wall - instant, ms) at an instant. */
function offsetFinder(timeZone: string): (instant: number) => number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  })
  return (instant) => {
    const second = Math.floor(instant / 1000) * 1000
    const f = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 }
    for (const part of format.formatToParts(second)) {
      if (part.type in f) f[part.type as keyof typeof f] = Number(part.value)
    }
    return daysFromCivil(f.year, f.month, f.day) * DAY_MS + ((f.hour * 60 + f.minute) * 60 + f.second) * 1000 - second
  }
}

/** Wall time -> instant in a zone with the given offsets, "compatible" disambiguation: the offsets
 *  a day before and a day after bracket any change near the wall time (zones change at most once
 *  in two days). */
function zoneInstant(offsetAt: (instant: number) => number): (wallMs: number) => number {
  return (wallMs) => {
    const before = offsetAt(wallMs - DAY_MS)
    const after = offsetAt(wallMs + DAY_MS)
    if (before === after) return wallMs - before
    const withBefore = wallMs - before
    const withAfter = wallMs - after
    const beforeHolds = offsetAt(withBefore) === before
    const afterHolds = offsetAt(withAfter) === after
    if (beforeHolds && afterHolds) return Math.min(withBefore, withAfter) // repeated: the earlier
    if (afterHolds) return withAfter
    return withBefore // in the repeated hour with only the first valid, or skipped: the offset before
  }
}
