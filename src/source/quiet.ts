// Whether a replaced (renamed or deleted) file has been quiet long enough to be finished: not
// written to for `waitMs`. What the follower has seen itself is measured on the monotonic clock;
// the file's mtime (wall clock) can only shorten the wait while the wall clock has not been stepped
// (a step forward would make a file written a moment ago look old, and finish it while the server
// still writes to it; a step back makes its mtime lie in the future). Pure but for the clock.
import { processClockBase, systemClock, wallClockStep, type Clock, type ClockBase } from '../util/clock.js'

export interface QuietInput {
  waitMs: number
  /** The file's mtime (wall clock). */
  mtimeMs: number
  /** How long the follower itself has seen the file unchanged (monotonic). */
  seenQuietMs: number
  /** The wall-clock time now. */
  wallNow: number
  /** The wall clock was stepped since the process started. */
  stepped: boolean
}

/** Milliseconds left until the file counts as quiet; <= 0: quiet now. */
export function quietLeft(q: QuietInput): number {
  const age = q.wallNow - q.mtimeMs
  if (!q.stepped && age >= 0) return q.waitMs - Math.max(age, q.seenQuietMs)
  return q.waitMs - q.seenQuietMs
}

/** Follows one file's size and mtime between looks, and says how long until it is quiet. */
export class QuietWatch {
  private last: { size: number; mtimeMs: number; since: number } | null = null

  constructor(
    private readonly waitMs: number,
    private readonly clock: Clock = systemClock,
    private readonly base: ClockBase = processClockBase,
  ) {}

  left(size: number, mtimeMs: number): number {
    const mono = this.clock.monotonic()
    if (this.last === null || this.last.size !== size || this.last.mtimeMs !== mtimeMs) this.last = { size, mtimeMs, since: mono }
    return quietLeft({
      waitMs: this.waitMs,
      mtimeMs,
      seenQuietMs: mono - this.last.since,
      wallNow: this.clock.now(),
      stepped: wallClockStep(this.base, this.clock) !== 0,
    })
  }
}
