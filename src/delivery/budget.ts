// The undone-event budget several engines share (follow: several files at once), so that "at most
// --concurrency events uncertain after a crash" holds per process, and one engine's share of it.

/** A count of undone events shared by several engines. Each engine takes one unit per event it
 *  reserves and gives it back when the event is done, refused or left unknown at the end. */
export class DeliveryBudget {
  private used = 0
  private readonly waiters = new Set<() => void>()
  private readonly flushers = new Set<() => void>()
  /** Engines running on this budget now. */
  engines = 0
  /** An engine waits for a unit (set by starved(), cleared by the next give()). */
  starving = false

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`budget must be a positive integer, got ${limit}`)
  }
  get inUse(): number {
    return this.used
  }
  available(): boolean {
    return this.used < this.limit
  }
  take(n = 1): void {
    this.used += n
  }
  give(n = 1): void {
    this.used -= n
    this.starving = false
    for (const wake of [...this.waiters]) wake()
  }
  /** `wake` is called on every give() until the returned function removes it. */
  watch(wake: () => void): () => void {
    this.waiters.add(wake)
    return () => this.waiters.delete(wake)
  }
  /** `flush` is asked to make done events durable (so their units come back) when an engine waits. */
  onStarved(flush: () => void): () => void {
    this.flushers.add(flush)
    return () => this.flushers.delete(flush)
  }
  starved(): void {
    this.starving = true
    for (const f of [...this.flushers]) f()
  }
}

/** One engine's units of a shared budget: taken per reserved event, given back when the event is
 *  done — at once while the engine runs alone, otherwise once a durable record shows it done. */
export class BudgetShare {
  /** Units this engine holds. */
  private held = 0
  /** Events done since the last snapshot; their units come back when a record holding them is durable. */
  private doneUnpersisted = 0
  private readonly unwatch: () => void
  private readonly unwatchStarved: () => void

  /** `unitFreed`: another engine gave units back. `flushWanted`: an engine waits for a unit and
   *  this one's done events could free some (called only when it has any). */
  constructor(
    private readonly budget: DeliveryBudget,
    unitFreed: () => void,
    flushWanted: () => void,
  ) {
    budget.engines++
    this.unwatch = budget.watch(unitFreed)
    this.unwatchStarved = budget.onStarved(() => {
      if (this.doneUnpersisted > 0) flushWanted()
    })
  }

  /** Units free now (0: none; starve() tells the others). */
  free(): number {
    return this.budget.limit - this.budget.inUse
  }
  /** Asks every engine to make its done events durable. Returns whether this one has any. */
  starve(): boolean {
    const own = this.doneUnpersisted > 0
    this.budget.starved()
    return own
  }
  take(n: number): void {
    this.budget.take(n)
    this.held += n
  }
  /** An event is done. Returns true when its unit waits for a durable record while another engine
   *  starves (so a flush is wanted). */
  done(): boolean {
    // Alone on the budget, the engine's own window bounds what its latest record leaves uncertain,
    // so the unit comes back now rather than one record later (append-to-accept latency in follow).
    if (this.budget.engines <= 1) {
      this.give(1)
      return false
    }
    this.doneUnpersisted++
    return this.budget.starving
  }
  /** A record is being taken: the units of the done events it newly holds, to give() once it is durable. */
  snapshot(): number {
    const n = this.doneUnpersisted
    this.doneUnpersisted = 0
    return n
  }
  give(n: number): void {
    if (n <= 0) return
    this.held -= n
    this.budget.give(n)
  }
  /** The engine ends: unknown and refused events are outside its hands now, so every unit goes back. */
  leave(): void {
    this.budget.engines--
    this.unwatch()
    this.unwatchStarved()
    this.give(this.held)
  }
}
