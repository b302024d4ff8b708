// Event delivery: a session's events go through the delivery engine to a sink (the Events API, or
// stdout for a dry run), and the file's checkpoint records exact progress (acked, dispatched,
// doneAhead) so that a restart resumes without sending an event twice. Without a checkpoint store
// (stdin, a dry run on a fresh state dir) the same delivery runs with nothing recorded.
import { join } from 'node:path'
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import { deliver, type DeliveryBudget, type DeliveryItem, type DeliveryStats, type Progress } from '../delivery/engine.js'
import type { EventSink } from '../sink/contract.js'
import { hashBefore, sameFirstLine } from '../source/fingerprint.js'
import type { ProjectTally } from '../output/projects.js'
import { safeText } from '../output/safe-text.js'
import type { NdjsonLog } from '../runtime/appenders.js'
import type { EventKind, OutgoingEvent } from '../types.js'
import { scanLines, linesIn, type SessionBatch } from '../pipeline/line-loop.js'
import type { Destination, InputRead } from '../pipeline/session.js'

const TAIL_HASH_EVERY_MS = 1000
/** Lines a lease reaches beyond the line being read, within the batch read (CheckpointStore): after
 *  a power loss or kernel crash up to about this many lines may be reported uncertain; one synced
 *  write covers about half of them. */
const LEASE_LINES = 1024

export interface ProgressHooks {
  file(path: string, offset: number): void
  update(path: string, acked: number, sent: number): void
}

export interface DeliveryOptions {
  /** null: nothing is recorded (stdin; a dry run without state). */
  store: CheckpointStore | null
  /** The checkpoint key of a file id (default: the id; `--errors-via-api` keeps its own). */
  keyOf?: (id: string) => string
  /** A file without a checkpoint is sent from its start (backfill, --from-beginning). */
  fromStart: boolean
  /** Only events of this kind are sent; the others are done at once (`--errors-via-api`). */
  only?: EventKind
  sink: EventSink
  concurrency: number
  /** follow: one budget of undone events for all files of the process. */
  budget?: DeliveryBudget
  signal: AbortSignal
  /** Each file's delivery stats are added here when it ends. */
  totals: DeliveryStats
  logs: { deadLetter: NdjsonLog; uncertain: NdjsonLog; unansweredRetries?: NdjsonLog }
  stateDir: string
  dryRun: boolean
  resendUncertain: boolean
  now: () => number
  note(text: string): void
  projects?: ProjectTally | null
  progress?: ProgressHooks | null
  /** Live figures while an input is delivered (status lines, metrics): its stats so far. */
  onProgress?(read: InputRead, p: Progress, stats: DeliveryStats): void
  /** The input's stats were just added to `totals`. */
  onDone?(read: InputRead): void
}

export function deliveryDestination(o: DeliveryOptions): Destination {
  const keyOf = o.keyOf ?? ((id: string) => id)
  return {
    checkpoints: o.store === null ? null : { store: o.store, keyOf },
    fromStart: o.fromStart,
    readsWhole: false,
    consume: (read) => deliverInput(o, read),
  }
}

async function deliverInput(o: DeliveryOptions, read: InputRead): Promise<{ stopped: boolean }> {
  const cp = read.checkpoint
  const store = o.store
  const writes = store !== null && cp !== null && !o.dryRun
  const label = read.label
  const resumeEnd = cp?.dispatched ?? read.from
  const doneAhead = new Set(cp?.doneAhead ?? [])
  const unsent = new Set(cp?.unsent ?? [])
  const stoppedCleanly = cp?.stoppedCleanly === true
  const tailHash = writes && read.handle !== null && !cp.gzip ? tailHasher(read, cp) : null
  // Every byte before it was read: the furthest offset a lease may cover (lines not yet written to
  // a followed file must never fall inside one).
  let leaseTo = 0
  // Synchronous up to saveProgress: the engine may have two saves running, and each record must
  // hold progress at least as new as the one before it.
  const persist = (p: Progress): Promise<void> => {
    if (!writes) return Promise.resolve()
    tailHash?.refresh(p.acked)
    Object.assign(cp, {
      acked: p.acked,
      ackedLine: p.ackedLine,
      dispatched: p.dispatched,
      doneAhead: p.doneAhead,
      stoppedCleanly: p.stoppedCleanly,
      unsent: p.unsent,
      updatedAt: new Date(o.now()).toISOString(),
    })
    return store.saveProgress(cp, leaseTo)
  }

  const uncertainBefore = o.totals.uncertain
  /** Events found in flight from an earlier run (crash or unanswered stop). */
  let foundUncertain = 0
  async function* items(): AsyncGenerator<DeliveryItem> {
    for await (const b of read.batches) {
      const out: DeliveryItem[] = []
      const found: object[] = []
      scanLines(b, 'full', read.mapper, read.tally, (outcome, start, end, line) => {
        const event = outcome.kind === 'event' && (o.only === undefined || outcome.event.kind === o.only) ? outcome.event : undefined
        if (event === undefined || (doneAhead.size > 0 && doneAhead.has(start))) {
          // Not an event, or delivered (or dead-lettered) by an earlier run beyond its acknowledged offset.
          out.push({ start, end, line })
          return
        }
        if (start < resumeEnd && !unsent.has(start)) {
          // Between the acknowledged and the dispatched offset of an interrupted run.
          o.totals.uncertain++
          foundUncertain++
          o.projects?.uncertain(event)
          found.push(uncertainEntry(label, start, line, event))
          if (!o.resendUncertain) {
            out.push({ start, end, line })
            return
          }
        }
        out.push({ start, end, line, event })
      })
      for (const entry of found) await o.logs.uncertain.write(entry)
      const last = out.length - 1
      for (let k = 0; k <= last; k++) {
        leaseTo = out[k + LEASE_LINES < last ? k + LEASE_LINES : last]!.end
        yield out[k]!
      }
      o.progress?.file(label, endOf(b))
    }
  }

  if (uncertainBefore === o.totals.uncertain && cp !== null && resumeEnd > cp.acked && !o.dryRun && !stoppedCleanly) {
    o.note(`${safeText(label)}: the previous run stopped without a clean shutdown; checking ${resumeEnd - cp.acked} bytes that were in flight`)
  }
  /** Counts the file's figures into the totals and says what is uncertain; also after a failure,
   *  which is often why (an API that stopped answering). */
  const account = (stats: DeliveryStats): void => {
    addStats(o.totals, stats)
    o.onDone?.(read)
    if (foundUncertain > 0) {
      const why = stoppedCleanly
        ? `the previous run stopped while ${foundUncertain} request(s) were unanswered`
        : `${foundUncertain} event(s) were in flight when the previous run was killed`
      const what = o.resendUncertain ? 'sent again (--resend-uncertain)' : 'not sent again, to avoid duplicates'
      o.note(`${safeText(label)}: ${why}; ${what}: see ${safeText(join(o.stateDir, 'uncertain.ndjson'))}`)
    }
    if (stats.uncertain > 0)
      o.note(
        `${safeText(label)}: ${stats.uncertain} request(s) got no answer in time (the API may have stored them); not sent again, to avoid duplicates: see ${safeText(join(o.stateDir, 'uncertain.ndjson'))}`,
      )
  }
  /** The engine's figures (the same object at every report), for a delivery that fails. */
  let live: DeliveryStats | undefined
  let result
  try {
    result = await deliver(items(), {
      concurrency: o.concurrency,
      budget: o.budget,
      sink: o.sink,
      persist,
      persistConcurrency: store?.progressConcurrency ?? 1,
      onDeadLetter: (it, outcome) =>
        o.logs.deadLetter.write({
          file: label,
          offset: it.start,
          line: it.line,
          endpoint: it.event?.endpoint,
          body: it.event?.body,
          headers: it.event?.headers,
          status: outcome.status,
          response: outcome.body,
        }),
      onUnanswered: (it) => o.logs.uncertain.write({ ...uncertainEntry(label, it.start, it.line, it.event!), why: 'no answer within --request-timeout' }),
      onUnansweredRetry: (it, count) => {
        void o.logs.unansweredRetries?.write({
          file: label,
          offset: it.start,
          line: it.line,
          endpoint: it.event?.endpoint,
          retries: count,
          at: new Date(o.now()).toISOString(),
        })
      },
      initial: { acked: cp?.acked ?? read.from, ackedLine: cp?.ackedLine ?? read.linesBefore },
      signal: o.signal,
      onProgress: (p, s) => {
        live = s
        o.progress?.update(label, p.acked, o.totals.sent + s.sent)
        o.onProgress?.(read, p, s)
      },
    })
  } catch (err) {
    if (live) account(live)
    throw err
  } finally {
    await tailHash?.settled()
    // Fold the journal into state.json once per file (also after a failure: the progress is valid).
    if (writes) await store.save()
  }
  account(result.stats)
  if (!result.stopped && writes && read.completeWhenDone()) {
    store.set({ ...cp, complete: true, updatedAt: new Date(o.now()).toISOString() })
    await store.save()
  }
  return { stopped: result.stopped }
}

function uncertainEntry(file: string, offset: number, line: number, event: OutgoingEvent): object {
  return { file, offset, line, endpoint: event.endpoint, body: event.body, headers: event.headers }
}

function endOf(b: SessionBatch): number {
  const n = linesIn(b)
  if (b.framed) return n > 0 ? b.framed.ends[n - 1]! : 0
  return b.raw.base + (b.raw.ends.at(-1) ?? 0)
}

/** The tail hash that verifies a checkpoint only has to describe bytes the file had at some
 *  checkpoint; refreshing it about once a second, beside the saves, keeps a file read off the hot
 *  path. Its pair (hash, offset) lands in a later record, always at or before `acked`. */
function tailHasher(read: InputRead, cp: FileCheckpoint) {
  const fh = read.handle!
  const id = read.ident!.id!
  let hashedAt = -Infinity
  let busy = false
  let running: Promise<void> = Promise.resolve()
  return {
    refresh(at: number): void {
      const now = performance.now()
      if (busy || at <= 0 || at === cp.tailHashAt || now - hashedAt < TAIL_HASH_EVERY_MS) return
      hashedAt = now
      busy = true
      running = (async () => {
        try {
          const hash = await hashBefore(fh, at)
          // Read after the hash: if the file was truncated or replaced in place before the hash was
          // read (copytruncate), its first line differs now and the hash describes other bytes.
          if (await sameFirstLine(fh, id)) {
            cp.ackedTailHash = hash
            cp.tailHashAt = at
          }
        } catch {
          // A failed read leaves the previous hash, which still describes bytes before `acked`.
        } finally {
          busy = false
        }
      })()
    },
    settled: () => running,
  }
}

export function addStats(into: DeliveryStats, from: DeliveryStats): void {
  into.sent += from.sent
  into.accepted += from.accepted
  into.botIgnored += from.botIgnored
  into.deadLettered += from.deadLettered
  // Sends this run left unresolved (stopped after the grace period); the reader adds the uncertain
  // events it finds from an earlier crash. Retries are counted by the sink's callback.
  into.uncertain += from.uncertain
  into.unansweredRetries = (into.unansweredRetries ?? 0) + (from.unansweredRetries ?? 0)
}

export function emptyStats(): DeliveryStats {
  return { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, unansweredRetries: 0 }
}
