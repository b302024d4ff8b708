// The lease bookkeeping of the checkpoint store (see store.ts for what a lease is): per file, the
// lease a completed synced record holds, the furthest one asked for, and which leases a durable save
// makes moot. No I/O: the store writes the records and tells this book what became durable.
import type { FileCheckpoint } from './schema.js'

/** How a reservation stands against its file's lease. */
export type LeaseStanding =
  /** Nothing is reserved beyond what is done or stopped: no lease is needed. */
  | 'released'
  /** Within the durable lease. */
  | 'covered'
  /** Within it, past its midpoint, and more was read beyond it: renew it in the background. */
  | 'renew'
  /** Beyond it: a lease record must be written first. */
  | 'uncovered'

/** What one lease record writes, as it was when the write started. */
export interface LeaseWrite {
  targets: Map<string, number>
  epochs: Map<string, number>
  /** Per file, its `dispatched` when the write started: the lease is renewed past its midpoint. */
  from: Map<string, number>
}

/** What a save() snapshot records of the leases. */
export interface SaveLeases {
  entries: Record<string, FileCheckpoint>
  /** Leases this save makes moot once durable: every event before them is done, or the file stopped. */
  moot: Map<string, number>
}

export class LeaseBook {
  /** Per file: the lease a completed synced record (or a completed save) holds. */
  private readonly held = new Map<string, number>()
  /** Per file: its `dispatched` when its lease was written. */
  private readonly heldFrom = new Map<string, number>()
  /** Per file: the furthest lease offered by saveProgress (all bytes before it read). */
  private readonly wanted = new Map<string, number>()
  /** Per file: bumped when its lease is dropped, so a lease write started before does not revive it. */
  private readonly epoch = new Map<string, number>()
  /** Files whose last progress reserved nothing beyond what is done or stopped: the next save()
   *  (durable, exact) drops their lease. Until then lease records keep it: delivered events whose
   *  acknowledgement is only in the page cache must stay covered. */
  private readonly released = new Set<string>()
  /** The leases the running lease write records (a save() made meanwhile records them too). */
  private writing: Map<string, number> | null = null

  /** A lease found in force on load: carried into this run's records (acknowledgements of the last
   *  run may be only in the page cache, and a power loss during this run must not uncover them). */
  carry(id: string, at: number, dispatched: number): void {
    this.held.set(id, at)
    this.heldFrom.set(id, dispatched)
  }

  /** Records a reservation (`cp` as saveProgress got it, `leaseTo` the furthest offset a lease may
   *  cover) and says how it stands against the durable lease. */
  offer(cp: FileCheckpoint, leaseTo: number): LeaseStanding {
    const id = cp.id
    if (cp.stoppedCleanly || cp.dispatched <= cp.acked) {
      // The next save() drops the lease, so a clean stop leaves none for the next boot to raise `dispatched` to.
      this.released.add(id)
      this.wanted.delete(id)
      return 'released'
    }
    this.released.delete(id)
    const wanted = Math.max(leaseTo, cp.dispatched, this.wanted.get(id) ?? 0)
    this.wanted.set(id, wanted)
    if (!this.covers(id, cp.dispatched)) return 'uncovered'
    const lease = this.held.get(id)!
    const from = this.heldFrom.get(id) ?? 0
    // Only a renewal that reaches further is worth a synced write: while reading has not gone past
    // the lease (the end of a read batch), rewriting it would only halve the distance to its end again.
    return wanted > lease && cp.dispatched - from > (lease - from) / 2 ? 'renew' : 'covered'
  }

  /** Whether a completed lease record covers `dispatched` for file `id`. */
  covers(id: string, dispatched: number): boolean {
    const lease = this.held.get(id)
    return lease !== undefined && dispatched <= lease
  }

  /** Starts a lease record: every lease held or wanted by a file the store has (the newest completed
   *  record alone must hold them all, since a torn write damages the slot with the older one). */
  beginWrite(files: ReadonlyMap<string, FileCheckpoint>): LeaseWrite {
    const targets = new Map(this.held)
    for (const [id, at] of this.wanted) if (files.has(id)) targets.set(id, Math.max(at, targets.get(id) ?? 0))
    const epochs = new Map([...targets.keys()].map((id) => [id, this.epoch.get(id) ?? 0]))
    const from = new Map([...targets.keys()].map((id) => [id, files.get(id)?.dispatched ?? 0]))
    this.writing = targets
    return { targets, epochs, from }
  }

  /** The record of `w` is durable: its leases are held (unless dropped since it started). */
  written(w: LeaseWrite): void {
    for (const [id, at] of w.targets) {
      if ((this.epoch.get(id) ?? 0) !== w.epochs.get(id)) continue
      if (at > (this.held.get(id) ?? -1)) {
        this.held.set(id, at)
        this.heldFrom.set(id, w.from.get(id)!)
      }
    }
  }

  /** The running lease write ended (written or failed). */
  endWrite(): void {
    this.writing = null
  }

  /** The entries of a save() snapshot: a lease in force (or being written) is recorded, since sends
   *  relying on it may follow this save. */
  forSave(files: ReadonlyMap<string, FileCheckpoint>): SaveLeases {
    const entries: Record<string, FileCheckpoint> = {}
    const moot = new Map<string, number>()
    for (const [id, cp] of files) {
      const leased = this.leaseOf(id)
      if (leased < 0) entries[id] = cp
      else if (this.released.has(id) || leased <= cp.acked) {
        entries[id] = cp
        moot.set(id, leased)
      } else entries[id] = leased > cp.dispatched ? { ...cp, leased } : cp
    }
    return { entries, moot }
  }

  /** The save holding `moot` is durable: drops the leases it made moot, unless renewed or needed since. */
  saved(moot: ReadonlyMap<string, number>, files: ReadonlyMap<string, FileCheckpoint>): void {
    for (const [id, leased] of moot) {
      if ((this.held.get(id) ?? -1) !== leased && (this.writing?.get(id) ?? -1) !== leased) continue // renewed meanwhile
      // Released at the snapshot but reserving again since: its sends may rely on this lease.
      if (!this.released.has(id) && leased > (files.get(id)?.acked ?? 0)) continue
      this.held.delete(id)
      this.heldFrom.delete(id)
      this.epoch.set(id, (this.epoch.get(id) ?? 0) + 1)
    }
  }

  private leaseOf(id: string): number {
    return Math.max(this.held.get(id) ?? -1, this.writing?.get(id) ?? -1)
  }
}
