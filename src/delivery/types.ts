// What the delivery engine takes and gives: items in file order, the progress it persists, its counts.
import type { OutgoingEvent } from '../types.js'
import type { EventSink, SendOutcome } from '../sink/contract.js'
import type { DeliveryBudget } from './budget.js'

export interface DeliveryItem {
  start: number
  end: number
  line: number
  /** Absent: the line is done at once (skipped, rejected or already delivered). */
  event?: OutgoingEvent
}

/** Three byte offsets in the file being read:
 *   acked       end of the longest prefix of items that are done (a watermark: never past an undone item)
 *   dispatched  persisted BEFORE any event ending beyond it is sent, so after a crash every event in
 *               [acked, dispatched) whose start is not in doneAhead is uncertain (maybe sent, maybe not)
 *               and every event at or beyond it was certainly never sent
 *   doneAhead   starts of events beyond acked that are already done, so a restart skips them */
export interface Progress {
  acked: number
  ackedLine: number
  dispatched: number
  doneAhead: number[]
  /** Set on the last save of a run that ended by a stop or a failure (not a crash): then
   *  [acked, dispatched) holds only sends that were written and left unanswered. */
  stoppedCleanly?: true
  /** With stoppedCleanly: starts of events in [acked, dispatched) that certainly did not reach the
   *  server (the next run sends them). */
  unsent?: number[]
}

export interface DeliveryStats {
  sent: number
  accepted: number
  botIgnored: number
  deadLettered: number
  retries: number
  /** Events sent whose outcome is unknown when the run ended (failure or aborted after the grace). */
  uncertain: number
  /** Retries that followed an attempt written and left unanswered (timeout, reset after the write):
   *  the one way an event can reach the API twice within a run. */
  unansweredRetries?: number
}

export type DeadOutcome = Extract<SendOutcome, { kind: 'dead' }>

export interface DeliveryOptions {
  /** Max events in flight, and max events in [acked, dispatched) that are not known done. */
  concurrency: number
  sink: EventSink
  /** Durable checkpoint write. Called in order, each with progress at least as new as the one
   *  before; up to `persistConcurrency` calls run at once, and each resolves once its own record
   *  survives a crash (a later one may resolve first; CheckpointStore.saveProgress says what covers
   *  a power loss). */
  persist(p: Progress): Promise<void>
  /** Persist calls that may run at once (default 1): with 2, a reservation does not wait behind a
   *  durable write already running, which is most of what a freed slot waits for otherwise. */
  persistConcurrency?: number
  onDeadLetter(item: DeliveryItem, outcome: DeadOutcome): Promise<void>
  /** A request written and left unanswered past its timeout (not sent again): record it as uncertain. */
  onUnanswered?(item: DeliveryItem): Promise<void>
  /** An event was retried `count` times after unanswered attempts (it may have been stored twice). */
  onUnansweredRetry?(item: DeliveryItem, count: number): void
  initial: { acked: number; ackedLine: number }
  /** Persist acked progress at least this often while running (default 1000 ms). */
  flushIntervalMs?: number
  /** Graceful stop: stop pulling, let in-flight sends finish within graceMs, persist, resolve stopped. */
  signal?: AbortSignal
  /** Default 10 s; sends still running then are aborted and stay uncertain. */
  graceMs?: number
  onProgress?(p: Progress, stats: DeliveryStats): void
  /** Shared by the engines of one process (follow: several files at once), so that at most
   *  `budget.limit` events are undone, hence uncertain after a crash, across all of them. */
  budget?: DeliveryBudget
}

export interface DeliveryResult {
  progress: Progress
  stats: DeliveryStats
  stopped: boolean
}
