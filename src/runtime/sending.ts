// The start-up every sending command shares (run, backfill --via api, follow, --errors-via-api):
// the flags checked, the pipeline built, the state directory locked and its checkpoints opened,
// signals taken, the sink created; and, at the end, everything closed in order.
import type { DeliveryStats } from '../delivery/engine.js'
import type { EventSink } from '../sink/contract.js'
import { buildPipeline, projectIdOf, type PipelineFlags, type PipelineParts } from '../options.js'
import { explainRefusedProject } from '../mapper/sites.js'
import { ProjectTally } from '../output/projects.js'
import { safeText } from '../output/safe-text.js'
import { createReferrerTally, selfReferrerHint } from '../mapper/referrer-hint.js'
import type { SessionEnv } from '../pipeline/session.js'
import { deliveryDestination, emptyStats, type DeliveryOptions } from '../destinations/delivery.js'
import type { Destination } from '../pipeline/session.js'
import { stateLogs, type StateLogs } from './appenders.js'
import { createEventSink, sendSettings, type SendFlags, type SendSettings } from './event-sink.js'
import { noter, type CliIO } from './io.js'
import { stopOnSignals, type StopSignals } from './signals.js'
import { openStateDir, type StateDir } from './state-dir.js'

/** The options of every sending command (commander's parsed values). */
export interface DeliveryFlags extends PipelineFlags, SendFlags {
  project?: string
  stateDir: string
  resendUncertain?: boolean
  json?: boolean
  fromBeginning?: boolean
  progress?: boolean
}

export interface Sending {
  parts: PipelineParts
  settings: SendSettings
  state: StateDir
  logs: StateLogs
  sink: EventSink
  totals: DeliveryStats
  projects: ProjectTally
  stop: StopSignals
  env: SessionEnv
  note(text: string): void
  /** The delivery destination for this command's sessions. */
  destination(o: Pick<DeliveryOptions, 'fromStart'> & Partial<DeliveryOptions>): Destination
  /** The "most referrers are the site" hint, once, at the end (null: nothing to say). */
  referrerHint(command: 'run' | 'backfill' | 'follow'): void
  /** A refused project named by its site entry (several sites). */
  explain(err: unknown): unknown
  close(): Promise<void>
}

export interface SendingOptions {
  /** What the first SIGINT/SIGTERM says it does. */
  stopMessage: string
  onHup?: () => void
  /** No state directory, no lock (follow -: a pipe has no position to keep). */
  stateless?: boolean
}

export async function startSending(flags: DeliveryFlags, io: CliIO, o: SendingOptions): Promise<Sending> {
  const settings = sendSettings(flags)
  // -p is the default project; with --site/config sites it may be left out; a dry run needs neither.
  const parts = await buildPipeline(flags, projectIdOf(flags), io.now(), !settings.dryRun)
  const note = noter(io)
  const state: StateDir = o.stateless
    ? { dir: flags.stateDir, store: null, close: async () => {} }
    : await openStateDir(flags.stateDir, { dryRun: settings.dryRun })
  if (!settings.dryRun) state.store?.prepareJournals()
  const stop = stopOnSignals(o.stopMessage, note, o.onHup)
  const totals = emptyStats()
  const projects = new ProjectTally(parts.sites.projects())
  const sink = projects.wrapSink(await createEventSink(settings, { stdout: io.stdout, env: io.env, onRetry: () => totals.retries++ }))
  const logs = stateLogs(flags.stateDir)
  const referrers = createReferrerTally()
  const env: SessionEnv = { parts, signal: stop.signal, verbose: flags.verbose === true, now: io.now, note, projects, referrers }
  return {
    parts,
    settings,
    state,
    logs,
    sink,
    totals,
    projects,
    stop,
    env,
    note,
    destination: (d) =>
      deliveryDestination({
        store: state.store,
        sink,
        concurrency: settings.concurrency,
        signal: stop.signal,
        totals,
        logs,
        stateDir: flags.stateDir,
        dryRun: settings.dryRun,
        resendUncertain: flags.resendUncertain === true,
        now: io.now,
        note,
        projects,
        ...d,
      }),
    referrerHint(command) {
      const hint = selfReferrerHint(referrers, command)
      if (hint !== null) note(safeText(hint))
    },
    explain(err) {
      const e = err as { name?: string; pid?: string; status?: number; message: string }
      if (e?.name === 'FatalApiError' && typeof e.pid === 'string') e.message = explainRefusedProject(parts.sites, e.pid, e.message, e.status)
      return err
    },
    async close() {
      stop.dispose()
      try {
        await sink.close().catch(() => {})
        await logs.close()
      } finally {
        await state.close({ save: state.store !== null && !settings.dryRun })
      }
    },
  }
}
