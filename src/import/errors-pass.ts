// `--errors-via-api`: Data Import takes no error events, so after the import files and checkpoints
// are durable each input is read once more, into event delivery for its error events only, with
// checkpoints of their own (`errors:<file id>`), so a rerun never sends an error twice.
import type { CheckpointStore } from '../checkpoint/store.js'
import type { DeliveryStats } from '../delivery/engine.js'
import { deliveryDestination, emptyStats } from '../destinations/delivery.js'
import { runSession, type SessionEnv } from '../pipeline/session.js'
import { createDiscardSink } from '../sink/discard.js'
import { stateLogs } from '../runtime/appenders.js'
import { createEventSink, type SendSettings } from '../runtime/event-sink.js'
import type { CliIO } from '../runtime/io.js'
import type { PlannedInput } from './plan.js'

export interface ErrorsPassOptions {
  env: SessionEnv
  plan: readonly PlannedInput[]
  store: CheckpointStore | null
  stateDir: string
  send: SendSettings
  dryRun: boolean
  io: CliIO
}

/** Sends each input's error events live (counted only with `--dry-run`); resolves to what became of them. */
export async function sendErrorsViaApi(o: ErrorsPassOptions): Promise<DeliveryStats> {
  const stats = emptyStats()
  const logs = stateLogs(o.stateDir)
  // A dry run's stdout holds the summary: its error events are counted, not printed.
  const sink = o.dryRun ? createDiscardSink() : await createEventSink(o.send, { stdout: o.io.stdout, env: o.io.env, onRetry: () => stats.retries++ })
  const destination = deliveryDestination({
    store: o.store,
    keyOf: (id) => `errors:${id}`,
    fromStart: true,
    only: 'error',
    sink,
    concurrency: o.send.concurrency,
    signal: o.env.signal,
    totals: stats,
    logs,
    stateDir: o.stateDir,
    dryRun: o.dryRun,
    resendUncertain: false,
    now: o.io.now,
    note: (text) => o.env.note(text),
  })
  try {
    for (const item of o.plan) if (!o.env.signal.aborted) await runSession(o.env, item, destination)
  } finally {
    await sink.close().catch(() => {})
    await logs.close()
  }
  return stats
}
