// `run` (cron) and `backfill --via api`: each file, and each rotated generation that still holds
// unread lines, is one session into event delivery, from its checkpoint to its current end.
import { basename } from 'node:path'
import type { CheckpointStore } from '../checkpoint/store.js'
import { keepHttpParserOnBaseline, OPTIMIZED_PARSER_FROM_BYTES } from '../sink/http-parser-tier.js'
import { expandInputs, parseRotation, rotatedSiblings } from '../source/paths.js'
import { identify } from '../source/fingerprint.js'
import { unreadError, unreadNote, unreadRest, type UnreadFile } from '../source/unreadable.js'
import { assertReadableFile, runSession } from '../pipeline/session.js'
import type { ProgressView } from '../output/progress.js'
import type { FileReport } from '../output/report.js'
import { asUsage } from '../errors.js'
import type { CliIO } from '../runtime/io.js'
import { printSummary } from '../runtime/summary.js'
import { startSending, type DeliveryFlags } from '../runtime/sending.js'

export type { DeliveryFlags }

interface FilePlan {
  path: string
  /** A rotated predecessor of a live file (or any rotated file in a backfill): read to its end,
   *  then marked complete. */
  finished: boolean
  /** A checkpoint already names this path: a new file here is the next generation of a log we
   *  follow (rotation), so it is read from its start, not from its end. */
  successor?: boolean
}

export async function runDelivery(mode: 'run' | 'backfill', files: string[], flags: DeliveryFlags, io: CliIO): Promise<number> {
  const paths = mode === 'backfill' ? await expandInputs(files).catch(asUsage) : files
  if (mode === 'run') for (const f of paths) await assertReadableFile(f)
  const s = await startSending(flags, io, { stopMessage: 'stopping after the requests in flight (signal again to stop at once)' })
  const reports: FileReport[] = []
  let progress: ProgressView | null = null
  try {
    const store = s.state.store
    if (mode === 'backfill') s.note('backfill --via api: the Events API stamps every event with the time it arrives, not the time in the log')
    const unread: UnreadFile[] = []
    const plan: FilePlan[] =
      mode === 'run' ? await planRun(paths, store, unread) : paths.map((path) => ({ path, finished: parseRotation(basename(path)).rotation.kind !== 'live' }))
    for (const u of unread) s.note(unreadNote(u))
    // [sites] a file claimed by two sites stops before anything is sent
    for (const item of plan) s.parts.mapperFor(item.path)
    if (mode === 'backfill' && flags.progress !== false && !s.settings.dryRun) {
      // Loaded here: the bar is drawn only for a backfill (loading cli-progress cost `run` 7 ms of start-up).
      const { ProgressView } = await import('../output/progress.js')
      progress = await ProgressView.start(
        plan.map((p) => p.path),
        io.stderr,
      )
    }
    const fromStart = mode === 'backfill' || flags.fromBeginning === true
    if (!s.settings.dryRun && !(await readsAtLeast(OPTIMIZED_PARSER_FROM_BYTES, plan, store, fromStart))) keepHttpParserOnBaseline()
    const destination = s.destination({ fromStart, progress })
    for (const item of plan) {
      if (s.stop.signal.aborted) break
      await runSession(s.env, { path: item.path, finished: item.finished, fromStart: item.successor === true }, destination, { reports })
    }
    if (unread.length > 0 && !s.stop.signal.aborted) throw unreadError(unread)
  } catch (err) {
    throw s.explain(err)
  } finally {
    progress?.stop()
    await s.close()
    printSummary(
      s.settings.dryRun ? io.stderr : io.stdout, // NDJSON requests own stdout in a dry run
      { reports, delivery: s.totals, projects: s.projects, sites: s.parts.sites },
      { json: flags.json === true, files: 'each', dryRun: s.settings.dryRun },
    )
    s.referrerHint(mode)
  }
  return 0
}

/** For each live file: rotated siblings that still hold unread lines of a known file, oldest first,
 *  then the file. Such a sibling that cannot be opened goes to `unread`. */
async function planRun(paths: string[], store: CheckpointStore | null, unread: UnreadFile[]): Promise<FilePlan[]> {
  const plan: FilePlan[] = []
  for (const path of paths) {
    for (const sibling of await rotatedSiblings(path)) {
      const id = await identify(sibling).catch(async (err: unknown) => {
        const rest = store ? await unreadRest(sibling, err, store.all()) : null
        if (rest) unread.push(rest)
        return null
      })
      const cp = id?.id ? store?.get(id.id) : undefined
      if (cp && !cp.complete) plan.push({ path: sibling, finished: true })
    }
    plan.push({ path, finished: false, successor: store?.all().some((c) => c.path === path) ?? false })
  }
  return plan
}

/** Whether the plan has at least `bytes` to read: each file's size less what its checkpoint
 *  acknowledged (a file without one is read from its start only when `fromStart` or it is a rotated
 *  or next generation). Stops identifying files once the answer is known. */
async function readsAtLeast(bytes: number, plan: FilePlan[], store: CheckpointStore | null, fromStart: boolean): Promise<boolean> {
  let total = 0
  for (const item of plan) {
    const ident = await identify(item.path).catch(() => null)
    if (ident === null) continue
    const cp = ident.id === null ? undefined : store?.get(ident.id)
    // A compressed generation holds several times its size in text.
    const size = ident.gzip ? ident.size * 8 : ident.size
    if (cp !== undefined) total += cp.complete ? 0 : Math.max(0, size - cp.acked)
    else if (fromStart || item.finished || item.successor === true) total += size
    if (total >= bytes) return true
  }
  return false
}
