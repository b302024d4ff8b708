// The tool's clocks. Wall time (`now`) is for timestamps and comparisons with times stored by
// others (file mtimes, checkpoint times); elapsed time is measured on the monotonic clock, which a
// step of the system clock (NTP, an administrator, a VM resumed) does not move.
export interface Clock {
  /** Wall-clock time, ms since the epoch. */
  now(): number
  /** Monotonic time, ms from an arbitrary origin. */
  monotonic(): number
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() }

/** The two clocks read together, to tell later whether the wall clock was stepped since. */
export interface ClockBase {
  wall: number
  mono: number
}

export function clockBase(clock: Clock = systemClock): ClockBase {
  return { wall: clock.now(), mono: clock.monotonic() }
}

/** Wall-clock moves of up to this much against the monotonic clock are drift or slewing, not a step. */
export const STEP_TOLERANCE_MS = 2000

/** How far the wall clock was stepped since `base` (positive: forward), 0 within the tolerance. */
export function wallClockStep(base: ClockBase, clock: Clock = systemClock): number {
  const step = clock.now() - base.wall - (clock.monotonic() - base.mono)
  return Math.abs(step) > STEP_TOLERANCE_MS ? step : 0
}

/** This process's base, taken when the module is first loaded (at start-up). */
export const processClockBase: ClockBase = clockBase()
