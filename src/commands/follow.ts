// `follow`: a long-running service that forwards each new log line within a second, through
// rotations, restarts and API outages, without losing or repeating a line. The follower (rotation
// handling, pinned handles) lives in src/source/; each generation of each file is one session
// (src/pipeline/session.ts), the same one `run` and `backfill` use. All files share one budget of
// undone events, so at most --concurrency events are uncertain after a crash, per process.
import { open } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { CheckpointStore, type FileCheckpoint } from '../checkpoint/store.js'
import { acquireLock, type StateLock } from '../checkpoint/lock.js'
import { DeliveryBudget, deliver, type DeliveryItem, type DeliveryStats } from '../delivery/engine.js'
import { createHttpSink, type EventSink } from '../sink/http.js'
import { createStdoutSink } from '../sink/stdout.js'
import { identify, identifyHandle } from '../source/fingerprint.js'
import { FileTail, PathFollower, type Generation } from '../source/follower.js'
import { PathsProvider } from '../source/paths-provider.js'
import { parseRotation, rotatedSiblings } from '../source/paths.js'
import { readLines } from '../source/reader.js'
import { ChangeNotifier } from '../source/watcher.js'
import { detectFormat } from '../../parsers/detect.js'
import type { LogParser } from '../../parsers/types.js'
import { classifyLine, countOutcome } from '../pipeline/classify.js'
import { READ_CHUNK_BYTES } from '../pipeline/open-input.js'
import { addStats, runSession, type SessionContext } from '../pipeline/session.js'
import { buildPipeline, parseDuration, parsePositiveInt, validateProjectId } from '../options.js'
import { UsageError } from '../errors.js'
import { emptyCounters, type LineCounters } from '../types.js'
import { formatDelivery, formatFileReport } from '../output/report.js'
import { parseListenAddress, startMetricsServer, type FollowSnapshot } from '../output/metrics.js'
import { safeText } from '../output/safe-text.js'
import { lazyAppender, validateApiUrl, type DeliveryFlags } from './run.js'
import type { CliIO } from '../cli.js'

export interface FollowFlags extends DeliveryFlags {
  statsInterval: string
  metricsAddr?: string
  rotateWait: string
  pollInterval: string
}

interface LiveFile {
  path: string
  size: number
  acked: number
}

export async function runFollow(inputs: string[], flags: FollowFlags, io: CliIO): Promise<number> {
  const pid = validateProjectId(flags.project, !flags.dryRun)
  const concurrency = parsePositiveInt(flags.concurrency, '--concurrency')
  const rate = flags.rate === undefined ? undefined : parsePositiveInt(flags.rate, '--rate')
  const maxRetryTimeMs = parseDuration(flags.maxRetryTime, '--max-retry-time')
  const statsMs = flags.statsInterval === '0' ? 0 : parseDuration(flags.statsInterval, '--stats-interval')
  const rotateWaitMs = parseDuration(flags.rotateWait, '--rotate-wait')
  const pollMs = Math.max(10, parseDuration(flags.pollInterval, '--poll-interval'))
  const metricsAddr = flags.metricsAddr === undefined ? null : parseListenAddress(flags.metricsAddr)
  if (flags.metricsAddr !== undefined && metricsAddr === null)
    throw new UsageError(`--metrics-addr ${flags.metricsAddr}: expected HOST:PORT, e.g. 127.0.0.1:9464`)
  const apiUrl = validateApiUrl(flags.apiUrl)
  const parts = await buildPipeline(flags, pid, io.now())
  const stdin = inputs.includes('-')
  if (stdin && inputs.length > 1) throw new UsageError('follow -: stdin cannot be combined with files')
  const dryRun = flags.dryRun === true

  const note = (msg: string) => io.stderr.write(`swetrix-ingest: ${safeText(msg)}\n`)
  const stopper = new AbortController()
  const onStop = () => {
    if (!stopper.signal.aborted) {
      note('stopping: reading stopped, finishing the requests in flight (signal again to stop at once)')
      stopper.abort()
    } else process.exit(130)
  }
  const totals: DeliveryStats = { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, retries: 0, uncertain: 0, unansweredRetries: 0 }
  const counters = emptyCounters()
  const live = new Map<object, LiveFile>()
  const liveStats = new Map<object, DeliveryStats>()
  let lastSendAt: number | null = null
  const startedAt = Date.now()
  const rawSink = dryRun
    ? createStdoutSink(io.stdout)
    : createHttpSink({
        apiUrl,
        connections: concurrency,
        maxRetryTimeMs,
        rate,
        onRetry: () => totals.retries++,
        env: io.env,
        ...(flags.caFile !== undefined ? { caFile: flags.caFile } : {}),
      })
  const sink: EventSink = {
    async send(ev, signal) {
      const outcome = await rawSink.send(ev, signal)
      if (outcome.kind !== 'dead') lastSendAt = Date.now()
      return outcome
    },
    close: () => rawSink.close(),
  }
  const snapshot = (): FollowSnapshot => {
    const delivery = { ...totals }
    for (const s of liveStats.values()) addStats(delivery, s)
    return {
      counters,
      delivery,
      behind: [...live.values()].map((f) => ({ path: f.path, bytes: Math.max(0, f.size - f.acked) })),
      lastSendAt,
      startedAt,
    }
  }

  let lock: StateLock | null = null
  let store: CheckpointStore | null = null
  const stateDir = flags.stateDir
  const deadLetter = lazyAppender(join(stateDir, 'dead-letter.ndjson'))
  const uncertain = lazyAppender(join(stateDir, 'uncertain.ndjson'))
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | null = null
  let statsTimer: NodeJS.Timeout | undefined
  const notifier = new ChangeNotifier(pollMs)
  let failure: { error: unknown } | null = null
  const fail = (err: unknown) => {
    failure ??= { error: err }
    stopper.abort()
  }
  const onHup = () => {
    note('SIGHUP: looking for new files matching the patterns')
    notifier.wakeAll()
    rescanNow?.()
  }
  let rescanNow: (() => void) | undefined

  process.on('SIGINT', onStop)
  process.on('SIGTERM', onStop)
  process.on('SIGHUP', onHup)
  try {
    if (!stdin && !dryRun) {
      lock = await acquireLock(stateDir) // creates the state dir; a StateWriteError if it cannot
      const held = lock
      process.once('exit', () => held.releaseSync())
      store = await CheckpointStore.open(stateDir)
    }
    if (metricsAddr) {
      metrics = await startMetricsServer(metricsAddr, snapshot)
      note(`metrics on ${metrics.url}/metrics, health on ${metrics.url}/health`)
    }
    if (statsMs > 0) {
      statsTimer = setInterval(() => note(statusLine(snapshot())), statsMs)
      statsTimer.unref()
    }
    const budget = new DeliveryBudget(concurrency)
    const ctx: SessionContext = {
      mode: 'follow',
      parts,
      store,
      sink,
      concurrency,
      budget,
      signal: stopper.signal,
      totals,
      deadLetter,
      uncertain,
      stateDir,
      dryRun,
      fromBeginning: flags.fromBeginning === true,
      resendUncertain: flags.resendUncertain === true,
      now: io.now,
      note,
    }
    if (stdin) {
      await followStdin(ctx, io.stdin, counters, flags.verbose === true)
    } else {
      const activeIds = new Set<string>()
      const followGeneration = async (gen: Generation): Promise<void> => {
        // One reader per file identity (a glob may name a file another path follows too).
        if (gen.ident.id && activeIds.has(gen.ident.id)) return
        if (gen.ident.id) activeIds.add(gen.ident.id)
        const key = {}
        const entry: LiveFile = { path: gen.path, size: gen.ident.size, acked: 0 }
        live.set(key, entry)
        // The size is looked at on its own: while sending waits (an outage), reading pauses and the
        // tail does not see the file grow.
        const sizeTimer = setInterval(() => {
          gen.fh.stat().then(
            (st) => (entry.size = st.size),
            () => {},
          )
        }, 1000)
        sizeTimer.unref()
        try {
          await runSession(ctx, {
            path: gen.path,
            finished: false,
            fromStart: gen.fromStart,
            handle: gen.fh,
            ident: gen.ident,
            counters,
            lines: (_fh, from, _final, signal) => gen.tail.lines(from, signal),
            completeWhenDone: () => gen.tail.end === 'rotated' || gen.tail.end === 'deleted',
            onProgress: (p, s) => {
              entry.acked = p.acked
              liveStats.set(key, { ...s })
            },
          })
        } finally {
          clearInterval(sizeTimer)
          liveStats.delete(key)
          live.delete(key)
          if (gen.ident.id) activeIds.delete(gen.ident.id)
        }
      }
      const drainSiblings = async (path: string, skipIno: Set<number>, seen: Set<string> | null): Promise<string[]> => {
        // While older generations are read, more rotations can happen: look again until a pass
        // finds nothing more to read.
        const all = new Set<string>()
        for (;;) {
          const pass = await drainOnce(path, skipIno, seen)
          for (const id of pass.ids) all.add(id)
          if (pass.ids.length > 0 && seen) for (const id of pass.ids) seen.add(id)
          if (pass.read === 0 || stopper.signal.aborted) return [...all]
          seen ??= new Set(pass.ids)
        }
      }
      const drainOnce = async (path: string, skipIno: Set<number>, seen: Set<string> | null): Promise<{ ids: string[]; read: number }> => {
        let read = 0
        const moved = new Set<string>()
        const found: { path: string; id: string; ino: number; gzip: boolean; mtimeMs: number }[] = []
        for (const sibling of await rotatedSiblings(path)) {
          const id = await identify(sibling).catch(() => null)
          if (id?.id) found.push({ path: sibling, id: id.id, ino: id.ino, gzip: id.gzip, mtimeMs: id.mtimeMs })
        }
        // At start (seen === null) a sibling without a checkpoint is history, unless it came and went
        // while the process was down: it is younger than a generation we checkpointed, or a plain file
        // last written after this path's newest checkpoint (a generation checkpointed before may be
        // gone: deleted, or rotated out of the names). Compressed files are not judged by their time:
        // compressing an old generation gives the copy a new one.
        let youngestKnown = -1
        let newestCheckpointMs = Infinity
        const known = seen === null ? checkpointsOf(path) : []
        if (known.length > 0) {
          found.forEach((f, i) => {
            if (store?.get(f.id)) youngestKnown = i
          })
          const times = known.map((c) => Date.parse(c.updatedAt)).filter((t) => !Number.isNaN(t))
          // No readable time: nothing is judged by it (Math.max() of none would take every file for new).
          if (times.length > 0) newestCheckpointMs = Math.max(...times)
        }
        for (const [i, f] of found.entries()) {
          if (stopper.signal.aborted) break
          if (skipIno.has(f.ino) || activeIds.has(f.id)) continue
          const cp = store?.get(f.id)
          if (cp?.complete) continue
          const missed = !cp && (seen === null ? (youngestKnown >= 0 && i > youngestKnown) || (!f.gzip && f.mtimeMs > newestCheckpointMs) : !seen.has(f.id))
          if (!cp && !missed) continue
          const fh = await open(f.path, 'r').catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err
            return null
          })
          // Rotated on between the listing and the open (renamed to the next name, or compressed and
          // removed; reading the generations before it can take seconds): not seen, so the next pass
          // looks for it under its new name. The name may hold another generation by now.
          const ident = fh === null ? null : await identifyHandle(fh)
          if (fh === null || ident === null || ident.ino !== f.ino || ident.id !== f.id) {
            await fh?.close()
            moved.add(f.id)
            read++
            continue
          }
          note(
            missed
              ? `${f.path}: a generation of ${path} that was rotated before it was read; reading it from its start`
              : `${f.path}: finishing a rotated generation of ${path} from its checkpoint`,
          )
          read++
          activeIds.add(f.id)
          try {
            if (ident.gzip) await runSession(ctx, { path: f.path, finished: true, handle: fh, counters })
            else {
              // A plain rotated file may still be written to (nginx until it reopens its logs): it is
              // read like a renamed live file, until it has been quiet for --rotate-wait.
              const tail = new FileTail(fh, ident, f.path, { notifier, rotateWaitMs, chunkSize: READ_CHUNK_BYTES, rotated: true })
              await runSession(ctx, {
                path: f.path,
                finished: false,
                fromStart: true,
                handle: fh,
                ident,
                counters,
                lines: (_fh, from, _final, signal) => tail.lines(from, signal),
                completeWhenDone: () => tail.end === 'rotated' || tail.end === 'deleted',
              })
            }
          } finally {
            activeIds.delete(f.id)
            await fh.close()
          }
        }
        return { ids: found.map((f) => f.id).filter((id) => !moved.has(id)), read }
      }
      // Checkpoints that name this path or one of its rotated names: a new file there is a later generation.
      const checkpointsOf = (path: string): FileCheckpoint[] => {
        const dir = dirname(resolve(path))
        const live = basename(path)
        return store?.all().filter((c) => dirname(resolve(c.path)) === dir && parseRotation(basename(c.path)).base === live) ?? []
      }
      const knownPath = (path: string): boolean => checkpointsOf(path).length > 0
      const hooks = {
        notifier,
        rotateWaitMs,
        chunkSize: READ_CHUNK_BYTES,
        signal: stopper.signal,
        note,
        follow: (gen: Generation) => followGeneration(gen).catch(fail),
        drainSiblings: (path: string, skip: Set<number>, seen: Set<string> | null) =>
          drainSiblings(path, skip, seen).catch((err: unknown) => {
            fail(err)
            return [] as string[]
          }),
        knownPath,
      }
      const provider = new PathsProvider(inputs)
      for (const dir of provider.directories()) notifier.watchDir(dir)
      const followers = new Map<string, Promise<void>>()
      const startFollowers = async (later: boolean) => {
        for (const t of await provider.expand()) {
          if (followers.has(t.key)) continue
          if (later) note(`${t.path}: new file matching the patterns; reading it from its start`)
          followers.set(t.key, new PathFollower(t.path, hooks, later).run().catch(fail))
        }
      }
      await startFollowers(false)
      if (followers.size === 0) note('no file matches the patterns yet; waiting for one')
      const hasGlob = inputs.some((p) => /[*?[]/.test(p))
      // Globs are expanded again on SIGHUP and after directory changes (at most twice a second).
      while (!stopper.signal.aborted && hasGlob) {
        await new Promise<void>((r) => {
          rescanNow = r
          void notifier.wait(stopper.signal, 5000).then(() => setTimeout(r, 500).unref())
        })
        if (!stopper.signal.aborted) await startFollowers(true).catch(fail)
      }
      await Promise.all(followers.values())
      // Followers started by the last rescan.
      await Promise.all(followers.values())
    }
  } finally {
    clearInterval(statsTimer)
    process.off('SIGINT', onStop)
    process.off('SIGTERM', onStop)
    process.off('SIGHUP', onHup)
    notifier.close()
    await sink.close().catch(() => {})
    await deadLetter.close()
    await uncertain.close()
    if (store) await store.save().catch(() => {})
    await store?.close()
    await metrics?.close()
    await lock?.release()
  }
  const s = snapshot()
  io.stderr.write(formatFileReport({ path: 'TOTAL', format: null, ...counters, firstRejected: {} }) + '\n')
  if (!dryRun) io.stderr.write(formatDelivery(s.delivery) + '\n')
  if (failure) throw (failure as { error: unknown }).error
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

/** `follow -`: a pipe has no position to go back to, so nothing is checkpointed; lines read but not
 *  yet sent when the process stops are lost (stated in the README). */
async function followStdin(ctx: SessionContext, input: NodeJS.ReadableStream, counters: LineCounters, _verbose: boolean): Promise<void> {
  let parser: LogParser | null = ctx.parts.format === 'auto' ? null : ctx.parts.format
  async function* items(): AsyncGenerator<DeliveryItem> {
    let lineNo = 0
    for await (const batch of readLines({ stream: input }, { final: true, signal: ctx.signal, chunkSize: 64 * 1024 })) {
      const { buf, base, starts, contentEnds, ends, truncated } = batch
      if (parser === null) {
        const sample = starts
          .map((s, i) => Buffer.from(buf.subarray(s, contentEnds[i])))
          .filter((b) => b.length > 0)
          .slice(0, 200)
        const detected = detectFormat(sample, ctx.parts.candidates)
        if (!detected.ok) throw new UsageError(`stdin: no known log format matches (tried ${detected.tried.join(', ')}); name it with --format`)
        parser = detected.parser
      }
      for (let i = 0; i < starts.length; i++) {
        lineNo++
        const outcome = classifyLine(parser, ctx.parts.mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
        countOutcome(counters, outcome)
        yield { start: base + starts[i]!, end: base + ends[i]!, line: lineNo, event: outcome.kind === 'event' ? outcome.event : undefined }
      }
    }
  }
  const result = await deliver(items(), {
    concurrency: ctx.concurrency,
    budget: ctx.budget,
    sink: ctx.sink,
    persist: async () => {},
    initial: { acked: 0, ackedLine: 0 },
    signal: ctx.signal,
    onDeadLetter: async (it, outcome) => {
      await ctx.deadLetter.write({
        file: '-',
        offset: it.start,
        line: it.line,
        endpoint: it.event?.endpoint,
        body: it.event?.body,
        headers: it.event?.headers,
        status: outcome.status,
        response: outcome.body,
      })
    },
  }).catch((err: unknown) => {
    if ((err as Error)?.name === 'AbortError') return null
    throw err
  })
  if (result) addStats(ctx.totals, result.stats)
}
