// `backfill --via import` (the default): historical logs become Swetrix Data Import files with the
// original dates (Simple Analytics CSV), optionally uploaded; with several sites one file set per
// project. Each input, oldest first, is one session into the import-rows destination; the files are
// made durable before any checkpoint moves (import/commit.ts), so a backfill stopped before that
// writes nothing a rerun would repeat. Then, with `--errors-via-api`, the error events go live
// (import/errors-pass.ts), and with `--upload` each project's files go to it (import/upload-step.ts).
import { resolve } from 'node:path'
import { expandInputs } from '../source/paths.js'
import { ImportLedger } from '../import/ledger.js'
import { countryLookupOf, loadCountryDatabase } from '../import/geo.js'
import { loadSalt, randomSalt } from '../import/salt.js'
import { importSettings, type ImportFlags } from '../import/settings.js'
import { oldestFirst } from '../import/plan.js'
import { outDirOf, outFiles } from '../import/out-files.js'
import { commitImport } from '../import/commit.js'
import { loadSessionSlot, MAX_CARRIED_SESSIONS, saveSessionSlot, sessionsOf, slotOf } from '../import/session-state.js'
import { runSession, type SessionEnv } from '../pipeline/session.js'
import { ImportRows, type GroupResult } from '../destinations/import-rows.js'
import { keepHttpParserOnBaseline } from '../sink/http-parser-tier.js'
import { createReferrerTally, selfReferrerHint } from '../mapper/referrer-hint.js'
import { safeText } from '../output/safe-text.js'
import { emptyCounters } from '../types.js'
import { printImportSummary, type ImportReport } from '../output/import-summary.js'
import type { ProgressView } from '../output/progress.js'
import type { DeliveryStats } from '../delivery/engine.js'
import { buildPipeline, validateProjectId } from '../options.js'
import { asUsage } from '../errors.js'
import { noter, type CliIO } from '../runtime/io.js'
import { stopOnSignals } from '../runtime/signals.js'
import { openStateDir } from '../runtime/state-dir.js'

export type { ImportFlags }

export async function runBackfillImport(files: string[], flags: ImportFlags, io: CliIO): Promise<number> {
  // Its HTTP answers are few (an upload, error events): the optimizing compile would only delay the exit.
  keepHttpParserOnBaseline()
  if (flags.undoImport !== undefined) return (await import('../import/undo.js')).runUndoImport(files, { ...flags, undoImport: flags.undoImport }, io)
  const s = await importSettings(flags, io.env)
  const startedAt = io.now()
  const parts = await buildPipeline(flags, s.projectId, startedAt, false)
  const sites = parts.sites.active ? parts.sites : null
  if (sites === null && s.projectId === null && s.needsProject) validateProjectId(undefined, true)
  const paths = await expandInputs(files).catch(asUsage)
  const countryDb = flags.geoip === false ? null : await loadCountryDatabase(typeof flags.geoip === 'string' ? flags.geoip : undefined)
  const outDir = resolve(flags.out ?? '.')
  const note = noter(io)
  const state = await openStateDir(flags.stateDir, { dryRun: s.dryRun })
  const ledger = s.dryRun ? null : await ImportLedger.open(flags.stateDir)
  const stop = stopOnSignals('stopping (signal again to stop at once)', note)
  const referrers = createReferrerTally()
  const env: SessionEnv = { parts, signal: stop.signal, verbose: flags.verbose === true, now: io.now, note, referrers }
  const reports: ImportReport[] = []
  let groups: GroupResult[]
  let uploaded = new Map<string, number>()
  let errorStats: DeliveryStats | undefined
  let progress: ProgressView | null = null
  const rows = new ImportRows({
    store: state.store,
    openSink: outFiles({ outDir, startedAt, maxBytes: s.maxFileBytes, dryRun: s.dryRun }),
    sites,
    mapper: parts.mapper,
    salt: s.dryRun ? randomSalt() : await loadSalt(flags.stateDir),
    country: countryDb === null ? null : countryLookupOf(countryDb),
    threads: s.threads,
    poolTask: { flags: { ...flags }, projectId: s.projectId, now: startedAt, countryDb },
    now: io.now,
  })
  // The sessions the previous backfill of these logs left open (import/session-state.ts).
  const carried = state.store === null ? null : await loadSessionSlot(flags.stateDir, state.store)
  rows.restoreSessions(sessionsOf(carried))
  try {
    const plan = await oldestFirst(paths, parts)
    for (const item of plan) parts.mapperFor(item.path) // [sites] a file two sites claim stops before anything is written
    if (flags.progress !== false && !s.dryRun) {
      const { ProgressView } = await import('../output/progress.js')
      progress = await ProgressView.start(
        plan.map((p) => p.path),
        io.stderr,
        'bytes',
      )
    }
    rows.progress = progress
    for (const item of plan) {
      if (stop.signal.aborted) break
      const r = await runSession(env, item, rows.destination)
      const report = r.report ?? { path: item.path, format: null, ...emptyCounters(), firstRejected: {} }
      reports.push({ ...report, ...rows.countsOf(item.path), skippedAsDone: r.alreadyComplete === true })
      if (r.alreadyComplete) progress?.file(item.path, Infinity)
    }
    if (stop.signal.aborted) {
      rows.abort()
      note('stopped: no import file or checkpoint was written; run the same command again')
      return 0
    }
    groups = rows.finish()
    progress?.stop()
    progress = null
    const sets = groups.map((g) => ({ dir: outDirOf(outDir, g.project), files: g.files, ...(g.project === null ? {} : { project: g.project }) }))
    const next = slotOf(rows.checkpoints(), rows.carriedSessions(MAX_CARRIED_SESSIONS))
    const beforeCheckpoints = () => saveSessionSlot(flags.stateDir, carried, next)
    if (ledger && state.store) await commitImport({ sets, ledger, store: state.store, checkpoints: rows.checkpoints(), beforeCheckpoints, now: io.now })
    if (s.errorsViaApi)
      errorStats = await (
        await import('../import/errors-pass.js')
      ).sendErrorsViaApi({ env, plan, store: state.store, stateDir: flags.stateDir, send: s.send!, dryRun: s.dryRun, io })
    if (s.upload && ledger) {
      // Without sites, the files of no particular project go to -p; with sites, each project's own.
      const projects =
        sites === null
          ? [{ projectId: s.projectId! }]
          : sites.projects().map((projectId) => ({ projectId, select: (f: { project?: string }) => f.project === projectId }))
      uploaded = await (
        await import('../import/upload-step.js')
      ).uploadPending({ send: s.send!, credentials: s.credentials!, ledger, projects, env: io.env, note, signal: stop.signal })
    }
  } catch (err) {
    rows.abort()
    throw err
  } finally {
    await rows.close()
    progress?.stop()
    stop.dispose()
    await state.close()
  }
  printImportSummary(
    io.stdout,
    {
      outDir,
      dryRun: s.dryRun,
      reports,
      groups,
      perDay: rows.perDay,
      errorsViaApi: errorStats,
      upload: s.upload,
      uploaded: sites === null ? new Map([['', [...uploaded.values()].reduce((a, b) => a + b, 0)]]) : uploaded,
      stateDir: flags.stateDir,
      projects: sites === null ? null : { tally: rows.projects!, sites },
    },
    flags.json === true,
  )
  const hint = selfReferrerHint(referrers, 'backfill')
  if (hint !== null) note(safeText(hint))
  return 0
}
