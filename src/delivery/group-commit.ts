// Group commit of progress records: durable writes one at a time (a second beside it only once the
// running one is slow), reservations made once per event-loop turn so that every answer and line that
// arrived in the turn shares one write, and progress reported only forward although a later write
// may land first.
import type { Progress } from './types.js'

/** A second durable write starts only once the running one has taken this long: one write at a time
 *  costs less CPU per event (CPU bounds the rate on loopback), two at once keep freed slots from
 *  waiting out a slow disk. */
export const SECOND_PERSIST_AFTER_MS = 0.5

export interface GroupCommitHooks {
  /** A record landed and no record started after it had landed before: report it. */
  reported(p: Progress): void
  /** A write failed: nothing its reservation covers may be sent. */
  failed(err: unknown): void
  /** Something changed that may allow the next step (a write ended, one turned slow, a turn ended). */
  changed(): void
}

/** `persist` as a promise even if it throws synchronously. */
export function callPersist(persist: (p: Progress) => Promise<void>, p: Progress): Promise<void> {
  try {
    return persist(p)
  } catch (err) {
    return Promise.reject(err)
  }
}

export class GroupCommit {
  /** Writes running now. */
  private running = 0
  /** The running write has taken SECOND_PERSIST_AFTER_MS: another may start beside it. */
  private slow = false
  private slowTimer: ReturnType<typeof setTimeout> | undefined
  /** Numbers writes in start order, so progress is reported only forward. */
  private started = 0
  private reportedUpTo = 0
  private turn: NodeJS.Immediate | undefined
  private turnEnded = false
  /** A record of acked progress is wanted (flush interval, a starving budget). */
  flushWanted = false

  constructor(
    private readonly persist: (p: Progress) => Promise<void>,
    private readonly maxRunning: number,
    private readonly hooks: GroupCommitHooks,
  ) {}

  get idle(): boolean {
    return this.running === 0
  }

  /** Another write may start now: none runs, or the running one is slow and two are allowed. */
  canStart(): boolean {
    return this.running < (this.slow ? this.maxRunning : 1)
  }

  /** True once the event-loop turn in which reserveLater() was called has ended: reserve now. */
  takeTurn(): boolean {
    if (!this.turnEnded) return false
    this.turnEnded = false
    return true
  }

  /** Ask for a changed() call at the end of this event-loop turn (once, however often asked). */
  reserveLater(): void {
    this.turn ??= setImmediate(this.onTurn)
  }

  /** Starts a durable write of `p`; `landed` runs once it is durable, before it is reported. */
  start(p: Progress, landed: () => void): void {
    this.running++
    if (this.running === 1 && this.maxRunning > 1) this.armSlow()
    this.flushWanted = false
    const number = ++this.started
    callPersist(this.persist, p).then(
      () => {
        this.ended()
        landed()
        if (number > this.reportedUpTo) {
          this.reportedUpTo = number
          this.hooks.reported(p)
        }
        this.hooks.changed()
      },
      (err: unknown) => {
        this.ended()
        this.hooks.failed(err)
        this.hooks.changed()
      },
    )
  }

  close(): void {
    clearTimeout(this.slowTimer)
    if (this.turn) clearImmediate(this.turn)
    this.turn = undefined
  }

  /** A write ended: the one still running (if any) is timed from now. */
  private ended(): void {
    this.running--
    if (this.running > 0 && this.maxRunning > 1) this.armSlow()
    else {
      this.slow = false
      clearTimeout(this.slowTimer)
    }
  }

  private armSlow(): void {
    this.slow = false
    clearTimeout(this.slowTimer)
    this.slowTimer = setTimeout(this.onSlow, SECOND_PERSIST_AFTER_MS)
  }

  private readonly onSlow = (): void => {
    this.slowTimer = undefined
    this.slow = true
    this.hooks.changed()
  }

  private readonly onTurn = (): void => {
    this.turn = undefined
    this.turnEnded = true
    this.hooks.changed()
  }
}
