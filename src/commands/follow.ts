// `follow`: a long-running service that forwards each new log line within a second, through
// rotations, restarts and API outages, without losing or repeating a line. Files go through
// pipeline/follow-files.ts (each generation one session); stdin is one session without checkpoints.
// All sessions share one budget of undone events, so at most --concurrency events are uncertain
// after a crash, per process.
import { DeliveryBudget, type DeliveryStats } from '../delivery/engine.js'
import { ChangeNotifier } from '../source/watcher.js'
import { emptyCounters } from '../types.js'
import { parseListenAddress, startMetricsServer, type FollowSnapshot } from '../output/metrics.js'
import { followFiles, type FollowFiles } from '../pipeline/follow-files.js'
import { runSession, type InputRead } from '../pipeline/session.js'
import { addStats } from '../destinations/delivery.js'
import { parseDuration } from '../options.js'
import { UsageError } from '../errors.js'
import { unreadError } from '../source/unreadable.js'
import type { CliIO } from '../runtime/io.js'
import { printSummary } from '../runtime/summary.js'
import { startSending, type DeliveryFlags } from '../runtime/sending.js'

export interface FollowFlags extends DeliveryFlags {
  statsInterval: string
  metricsAddr?: string
  rotateWait: string
  pollInterval: string
}

export async function runFollow(inputs: string[], flags: FollowFlags, io: CliIO): Promise<number> {
  const statsMs = flags.statsInterval === '0' ? 0 : parseDuration(flags.statsInterval, '--stats-interval')
  const rotateWaitMs = parseDuration(flags.rotateWait, '--rotate-wait')
  const pollMs = Math.max(10, parseDuration(flags.pollInterval, '--poll-interval'))
  const metricsAddr = flags.metricsAddr === undefined ? null : parseListenAddress(flags.metricsAddr)
  if (flags.metricsAddr !== undefined && metricsAddr === null)
    throw new UsageError(`--metrics-addr ${flags.metricsAddr}: expected HOST:PORT, e.g. 127.0.0.1:9464`)
  const stdin = inputs.includes('-')
  if (stdin && inputs.length > 1) throw new UsageError('follow -: stdin cannot be combined with files')
  let files: FollowFiles | null = null
  const s = await startSending(flags, io, {
    stopMessage: 'stopping: reading stopped, finishing the requests in flight (signal again to stop at once)',
    onHup: () => {
      s.note('SIGHUP: looking for new files matching the patterns')
      files?.rescan()
    },
    stateless: stdin,
  })
  const counters = emptyCounters()
  const live = new Map<object, { path: string; size: number }>()
  // Each session's figures while it runs; added to the totals (and removed here) when it ends.
  const running = new Map<InputRead, { stats: DeliveryStats; acked: number; path: string }>()
  const startedMs = performance.now()
  let lastAcceptAt: number | null = null
  const snapshot = (): FollowSnapshot => {
    const delivery = { ...s.totals }
    for (const r of running.values()) addStats(delivery, r.stats)
    const acked = new Map([...running.values()].map((r) => [r.path, r.acked]))
    const behind = [...live.values()].map((f) => ({ path: f.path, bytes: Math.max(0, f.size - (acked.get(f.path) ?? f.size)) }))
    return { counters, delivery, behind, lastSendAt: lastAcceptAt, uptimeMs: performance.now() - startedMs }
  }
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | null = null
  let statsTimer: NodeJS.Timeout | undefined
  const notifier = new ChangeNotifier(pollMs)
  let failure: { error: unknown } | null = null
  const fail = (err: unknown) => {
    failure ??= { error: err }
    s.stop.stop()
  }
  try {
    if (metricsAddr) {
      metrics = await startMetricsServer(metricsAddr, snapshot)
      s.note(`metrics on ${metrics.url}/metrics, health on ${metrics.url}/health`)
    }
    if (statsMs > 0) {
      statsTimer = setInterval(() => s.note(statusLine(snapshot())), statsMs)
      statsTimer.unref()
    }
    const destination = s.destination({
      fromStart: flags.fromBeginning === true,
      budget: new DeliveryBudget(s.settings.concurrency),
      onProgress: (read, p, stats) => {
        if (stats.accepted > (running.get(read)?.stats.accepted ?? 0)) lastAcceptAt = io.now()
        running.set(read, { stats: { ...stats }, acked: p.acked, path: read.label })
      },
      onDone: (read) => running.delete(read),
    })
    if (stdin) await runSession(s.env, { stream: io.stdin, label: '-' }, destination, { counters })
    else {
      files = followFiles({ patterns: inputs, env: s.env, destination, store: s.state.store, notifier, rotateWaitMs, counters, live, fail })
      await files.done
    }
  } catch (err) {
    fail(s.explain(err))
  } finally {
    clearInterval(statsTimer)
    notifier.close()
    await s.close()
    await metrics?.close()
  }
  const final = snapshot()
  printSummary(
    io.stderr,
    { reports: [{ path: 'TOTAL', format: null, ...counters, firstRejected: {} }], delivery: final.delivery },
    {
      json: false,
      files: 'total',
      dryRun: s.settings.dryRun,
    },
  )
  if (failure) throw (failure as { error: unknown }).error
  const unread = files?.unread() ?? []
  if (unread.length > 0) throw unreadError(unread)
  return 0
}

function statusLine(s: FollowSnapshot): string {
  const c = s.counters
  const skipped = Object.values(c.skipped).reduce((a, b) => a + b, 0)
  const behind = s.behind.reduce((a, b) => a + b.bytes, 0)
  const d = s.delivery
  return (
    `status: ${c.lines} lines, events pageview ${c.events.pageview} error ${c.events.error} custom ${c.events.custom}, skipped ${skipped}, rejected ${c.rejected}, ` +
    `${behind} bytes behind, sent ${d.sent}, accepted ${d.accepted}, retries ${d.retries}, uncertain ${d.uncertain}`
  )
}
