// `follow` on files: every path (and every file a glob matches, now or later) is followed through
// its generations (src/source/follower.ts); each generation, and each rotated sibling still holding
// unread lines, is one session into the same destination. One reader per file identity: a glob may
// name a file another path follows too, and a link may be replaced by one to the same file.
import { open } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import { identify, identifyHandle } from '../source/fingerprint.js'
import { FileTail, PathFollower, type Generation } from '../source/follower.js'
import { PathsProvider } from '../source/paths-provider.js'
import { parseRotation, rotatedSiblings } from '../source/paths.js'
import type { ChangeNotifier } from '../source/watcher.js'
import type { LineCounters } from '../types.js'
import { safeText } from '../output/safe-text.js'
import { isPermissionError, unreadNote, unreadRest, type UnreadFile } from '../source/unreadable.js'
import { READ_CHUNK_BYTES, runSession, type Destination, type SessionEnv } from './session.js'

export interface FollowFilesOptions {
  patterns: string[]
  env: SessionEnv
  destination: Destination
  store: CheckpointStore | null
  notifier: ChangeNotifier
  rotateWaitMs: number
  /** The process's line counters (every session adds into them). */
  counters: LineCounters
  /** A file being read now, for `bytes behind` (its size is watched apart from the reading). */
  live: Map<object, { path: string; size: number }>
  /** The first failure stops the process (the caller aborts the signal). */
  fail: (err: unknown) => void
}

export interface FollowFiles {
  /** Resolves when every follower has stopped. */
  done: Promise<void>
  /** SIGHUP: look for new files matching the globs now. */
  rescan(): void
  /** Rotated files holding unread lines of ours that could not be opened (permissions), as of now. */
  unread(): UnreadFile[]
}

export function followFiles(o: FollowFilesOptions): FollowFiles {
  const { env, notifier, store } = o
  const signal = env.signal
  const activeIds = new Set<string>()
  /** By `dev:ino`: each is noted once, and forgotten once it could be opened. */
  const unread = new Map<string, UnreadFile>()
  const cannotOpen = async (path: string, err: unknown): Promise<null> => {
    const rest = await unreadRest(path, err, store?.all() ?? [])
    if (rest === null) {
      if (isPermissionError(err)) return null // history that is not ours to read
      throw err
    }
    const key = `${rest.dev}:${rest.ino}`
    if (!unread.has(key)) env.note(unreadNote(rest))
    unread.set(key, rest)
    return null
  }

  const followGeneration = async (gen: Generation): Promise<void> => {
    if (gen.ident.id && activeIds.has(gen.ident.id)) return
    if (gen.ident.id) activeIds.add(gen.ident.id)
    const key = {}
    const entry = { path: gen.path, size: gen.ident.size }
    o.live.set(key, entry)
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
      const input = {
        path: gen.path,
        fromStart: gen.fromStart,
        ...(gen.shrunkTo === undefined ? {} : { shrunkTo: gen.shrunkTo }),
        handle: gen.fh,
        ident: gen.ident,
        tail: (from: number, s: AbortSignal) => gen.tail.lines(from, s),
        completeWhenDone: () => gen.tail.end === 'rotated' || gen.tail.end === 'deleted',
      }
      await runSession(env, input, o.destination, { counters: o.counters })
    } finally {
      clearInterval(sizeTimer)
      o.live.delete(key)
      if (gen.ident.id) activeIds.delete(gen.ident.id)
    }
  }

  /** Each followed path's target (a symlink's: its drained generations are checkpointed there). */
  const targetOf = new Map<string, string>()
  // Checkpoints that name this path (or its link's target) or one of their rotated names: a new file
  // there is a later generation.
  const checkpointsOf = (path: string): FileCheckpoint[] => {
    const names = [resolve(path), targetOf.get(resolve(path)) ?? resolve(path)].map((p) => ({ dir: dirname(p), live: basename(p) }))
    const named = (c: FileCheckpoint) => {
      const at = resolve(c.path)
      return names.some((n) => dirname(at) === n.dir && parseRotation(basename(at)).base === n.live)
    }
    return store?.all().filter(named) ?? []
  }

  const drainSiblings = async (path: string, skipIno: Set<number>, seen: Set<string> | null): Promise<string[]> => {
    // While older generations are read, more rotations can happen: look again until a pass finds
    // nothing more to read.
    const all = new Set<string>()
    for (;;) {
      const pass = await drainOnce(path, skipIno, seen)
      for (const id of pass.ids) all.add(id)
      if (pass.ids.length > 0 && seen) for (const id of pass.ids) seen.add(id)
      if (pass.read === 0 || signal.aborted) return [...all]
      seen ??= new Set(pass.ids)
    }
  }

  const drainOnce = async (path: string, skipIno: Set<number>, seen: Set<string> | null): Promise<{ ids: string[]; read: number }> => {
    let read = 0
    const moved = new Set<string>()
    const found: { path: string; id: string; ino: number; gzip: boolean; mtimeMs: number }[] = []
    for (const sibling of await rotatedSiblings(path)) {
      const id = await identify(sibling).catch((err: unknown) => cannotOpen(sibling, err).catch(() => null))
      if (id === null) continue
      unread.delete(`${id.dev}:${id.ino}`)
      if (id.id) found.push({ path: sibling, id: id.id, ino: id.ino, gzip: id.gzip, mtimeMs: id.mtimeMs })
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
      if (signal.aborted) break
      if (skipIno.has(f.ino) || activeIds.has(f.id)) continue
      const cp = store?.get(f.id)
      if (cp?.complete) continue
      const missed = !cp && (seen === null ? (youngestKnown >= 0 && i > youngestKnown) || (!f.gzip && f.mtimeMs > newestCheckpointMs) : !seen.has(f.id))
      if (!cp && !missed) continue
      const fh = await open(f.path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null
        return cannotOpen(f.path, err).then(() => 'unreadable' as const)
      })
      if (fh === 'unreadable') continue
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
      env.note(
        missed
          ? `${safeText(f.path)}: a generation of ${safeText(path)} that was rotated before it was read; reading it from its start`
          : `${safeText(f.path)}: finishing a rotated generation of ${safeText(path)} from its checkpoint`,
      )
      read++
      activeIds.add(f.id)
      try {
        if (ident.gzip) await runSession(env, { path: f.path, finished: true, handle: fh, ident }, o.destination, { counters: o.counters })
        else {
          // A plain rotated file may still be written to (nginx until it reopens its logs): it is
          // read like a renamed live file, until it has been quiet for --rotate-wait.
          const tail = new FileTail(fh, ident, f.path, { notifier, rotateWaitMs: o.rotateWaitMs, chunkSize: READ_CHUNK_BYTES, rotated: true })
          const input = {
            path: f.path,
            fromStart: true,
            handle: fh,
            ident,
            tail: (from: number, s: AbortSignal) => tail.lines(from, s),
            completeWhenDone: () => tail.end === 'rotated' || tail.end === 'deleted',
          }
          await runSession(env, input, o.destination, { counters: o.counters })
        }
      } finally {
        activeIds.delete(f.id)
        await fh.close()
      }
    }
    return { ids: found.map((f) => f.id).filter((id) => !moved.has(id)), read }
  }

  const hooks = {
    notifier,
    rotateWaitMs: o.rotateWaitMs,
    chunkSize: READ_CHUNK_BYTES,
    signal,
    note: (text: string) => env.note(safeText(text)),
    follow: (gen: Generation) => followGeneration(gen).catch(o.fail),
    drainSiblings: (path: string, skip: Set<number>, seen: Set<string> | null) =>
      drainSiblings(path, skip, seen).catch((err: unknown) => {
        o.fail(err)
        return [] as string[]
      }),
    knownPath: (path: string) => checkpointsOf(path).length > 0,
  }

  const provider = new PathsProvider(o.patterns)
  for (const dir of provider.directories()) notifier.watchDir(dir)
  const followers = new Map<string, Promise<void>>()
  /** Targets followed now: a second link to one of them is the same file (one reader). */
  const followedTargets = new Set<string>()
  const startFollowers = async (later: boolean): Promise<void> => {
    for (const t of await provider.expand()) {
      if (followers.has(t.key) || followedTargets.has(t.target)) continue
      if (later) env.note(`${safeText(t.path)}: new file matching the patterns; reading it from its start`)
      targetOf.set(t.key, t.target)
      followedTargets.add(t.target)
      const run = new PathFollower(t.path, hooks, later, t.fromGlob)
        .run()
        .catch(o.fail)
        .finally(() => {
          // A glob's match whose file is gone: forgotten, so a file there later is followed anew.
          followers.delete(t.key)
          followedTargets.delete(t.target)
        })
      followers.set(t.key, run)
    }
  }
  let rescanNow: (() => void) | undefined
  const done = (async () => {
    await startFollowers(false)
    if (followers.size === 0) env.note('no file matches the patterns yet; waiting for one')
    const hasGlob = o.patterns.some((p) => /[*?[]/.test(p))
    // Globs are expanded again on SIGHUP and after directory changes (at most twice a second).
    while (!signal.aborted && hasGlob) {
      await new Promise<void>((r) => {
        rescanNow = r
        // Not unref'd: with no file matched yet this timer is all that keeps the process alive.
        void notifier.wait(signal, 5000).then(() => (signal.aborted ? r() : setTimeout(r, 500)))
      })
      if (!signal.aborted) await startFollowers(true).catch(o.fail)
    }
    // Followers started by the last rescan, too.
    await Promise.all(followers.values())
    await Promise.all(followers.values())
  })()
  return {
    done,
    rescan: () => {
      notifier.wakeAll()
      rescanNow?.()
    },
    unread: () => [...unread.values()],
  }
}
