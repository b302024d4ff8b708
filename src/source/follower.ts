// The follower: one live path, followed through rotations. Every generation of the file is read
// through one pinned FileHandle (identify, verify and read through the same descriptor), so bytes
// are always attributed to the right file:
//   - rename + create: the old handle is read on until it has been quiet for `rotateWaitMs` (nginx
//     writes there until it reopens its logs), while the new file at the path is followed from 0;
//   - copytruncate / shrink to 0 / replaced content: the size drops below the position, or the
//     first line changed; the rest of the old content is taken from a rotated sibling that still
//     has its identity (the copy), then the file is read again from 0;
//   - delete: the old handle is drained like a rename; a file created again is read from 0;
//   - rotation while the process was down: rotated siblings with unread checkpointed bytes are
//     finished first (as `run` does), then the new file is read from its start.
import { open, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { identifyHandle, idOfHead, ID_HEAD_BYTES, type FileIdentity } from './fingerprint.js'
import { linkTarget } from './paths.js'
import { QuietWatch } from './quiet.js'
import { readLines, type LineBatch } from './reader.js'
import type { ChangeNotifier } from './watcher.js'

export type TailEnd = 'rotated' | 'deleted' | 'truncated' | 'shrunk' | 'stopped'

export interface TailOptions {
  notifier: ChangeNotifier
  /** How long a replaced (renamed or deleted) file must stay quiet before it is finished. */
  rotateWaitMs: number
  chunkSize: number
  /** Called once when the path no longer names this file (the next generation can start). */
  onReplaced?(): void
  /** The file is a rotated generation already: read it until quiet, then finish. */
  rotated?: boolean
}

/** Tails one open file: yields complete lines as they are appended, ends on rotation (after the
 *  quiet period), deletion, truncation or abort. `size` is the last size seen (bytes behind). */
export class FileTail {
  end: TailEnd | null = null
  size = 0
  position = 0
  /** With end 'shrunk': the size it was cut back to, when that was seen. */
  shrunkTo = 0

  constructor(
    private readonly fh: FileHandle,
    private readonly ident: FileIdentity,
    private readonly path: string,
    private readonly o: TailOptions,
  ) {
    this.size = ident.size
  }

  async *lines(from: number, signal: AbortSignal): AsyncGenerator<LineBatch> {
    let pos = from
    this.position = pos
    let notified = false
    const quiet = new QuietWatch(this.o.rotateWaitMs)
    for (;;) {
      if (signal.aborted) return this.finish('stopped')
      // Truncation is checked before reading: bytes written after a copytruncate must not be read
      // as the continuation of the old content.
      const cut = await this.cutBack(pos, (await this.fh.stat()).size)
      if (cut) return this.finish(cut)
      for await (const batch of readLines({ handle: this.fh }, { from: pos, final: false, chunkSize: this.o.chunkSize })) {
        // Checked after each read: while reading paused (backpressure) the file may have been
        // truncated and regrown past our position; such bytes are new content, not ours.
        if (await this.headChanged()) return this.finish('truncated')
        pos = batch.base + (batch.ends.at(-1) ?? 0)
        this.position = pos
        yield batch
        if (signal.aborted) return this.finish('stopped')
      }
      const st = await this.fh.stat()
      this.size = st.size
      const cutNow = await this.cutBack(pos, st.size)
      if (cutNow) return this.finish(cutNow)
      const atPath = this.o.rotated ? st : await stat(this.path).catch(() => null)
      const replaced = this.o.rotated === true || atPath === null || atPath.ino !== st.ino || atPath.dev !== st.dev
      if (replaced) {
        if (!notified) {
          notified = true
          this.o.onReplaced?.()
        }
        // Quiet = not written to for rotateWaitMs (the mtime says so also for a file that was
        // rotated long ago, e.g. a sibling finished after a restart, unless the clock was stepped).
        const left = quiet.left(st.size, st.mtimeMs)
        if (left <= 0) {
          // A last line without '\n' in a file nobody writes to any more is a line.
          for await (const batch of readLines({ handle: this.fh }, { from: pos, final: true, chunkSize: this.o.chunkSize })) {
            pos = batch.base + (batch.ends.at(-1) ?? 0)
            this.position = pos
            yield batch
          }
          return this.finish(atPath === null ? 'deleted' : 'rotated')
        }
        if (left > 0) await this.o.notifier.wait(signal, Math.min(left, this.o.notifier.pollMs))
        continue
      }
      await this.o.notifier.wait(signal)
    }
  }

  private finish(end: TailEnd): void {
    this.end = end
  }

  /** copytruncate followed by new writes beyond our position within one poll: the size alone does
   *  not show it, the first line does. */
  private async headChanged(): Promise<boolean> {
    const id = await this.headId()
    return this.ident.id !== null && id !== null && id !== this.ident.id
  }

  private async headId(): Promise<string | null> {
    const buf = Buffer.alloc(ID_HEAD_BYTES)
    const { bytesRead } = await this.fh.read(buf, 0, ID_HEAD_BYTES, 0)
    return idOfHead(buf.subarray(0, bytesRead))
  }

  /** How the file at our position was cut: 'truncated' (emptied or new content: copytruncate),
   *  'shrunk' (cut back in place to `size`, its first line unchanged: the bytes before `size` were
   *  read already), or null. */
  private async cutBack(pos: number, size: number): Promise<TailEnd | null> {
    if (size >= pos) return (await this.headChanged()) ? 'truncated' : null
    const id = await this.headId()
    if (id === null || id !== this.ident.id) return 'truncated'
    this.shrunkTo = size
    return 'shrunk'
  }
}

/** One generation of a followed path, ready to be read: its pinned handle and identity. */
export interface Generation {
  path: string
  fh: FileHandle
  ident: FileIdentity
  /** No checkpoint: read it from 0 (a later generation, or a file that appeared after start). */
  fromStart: boolean
  /** The same file, cut back in place while it was read, to this size: the bytes before it were
   *  read already (its checkpoint is past it); bytes after it are new. */
  shrunkTo?: number
  tail: FileTail
}

export interface FollowerHooks {
  notifier: ChangeNotifier
  rotateWaitMs: number
  chunkSize: number
  signal: AbortSignal
  note(msg: string): void
  /** Reads (and delivers) one generation until its tail ends or the stop signal. */
  follow(gen: Generation): Promise<void>
  /** Finishes rotated siblings of the path that still hold unread checkpointed lines; with `seen`,
   *  also reads from their start siblings whose identity is not in it (generations that came and
   *  were rotated away while the follower was behind). Returns the identities of all siblings. */
  drainSiblings(path: string, skipIno: Set<number>, seen: Set<string> | null): Promise<string[]>
  /** A checkpoint already names this path (a new file there is a later generation). */
  knownPath(path: string): boolean
}

/** Follows one path through all its generations until the stop signal. */
export class PathFollower {
  private readonly draining = new Map<number, Promise<void>>()

  constructor(
    readonly path: string,
    private readonly h: FollowerHooks,
    private readonly appearedLater: boolean,
    /** A glob's match (a pod's log link): once the path is gone, the follower ends (its last
     *  generation drained) instead of waiting for it; a later match starts a new one. */
    private readonly endWhenGone = false,
  ) {}

  async run(): Promise<void> {
    const { signal, notifier } = this.h
    notifier.watchDir(dirname(this.path))
    // A link's target is renamed where it lives (kubelet rotates under /var/log/pods).
    const target = await linkTarget(this.path)
    if (dirname(target) !== dirname(this.path)) notifier.watchDir(dirname(target))
    let waitingSaid = false
    let laterGeneration = this.appearedLater
    let shrunkTo: number | undefined
    /** Identities of this path's generations known so far (followed, or history at start). */
    const seen = new Set<string>()
    try {
      // Rotation while the process was down: the rotated generations come first, also when the
      // new file at the path is still empty or missing.
      for (const id of await this.h.drainSiblings(this.path, new Set(), null)) seen.add(id)
      while (!signal.aborted) {
        const fh = await open(this.path, 'r').catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err
          return null
        })
        if (fh === null) {
          if (this.endWhenGone) return
          if (!waitingSaid) this.h.note(`${this.path}: does not exist (yet); waiting for it`)
          waitingSaid = true
          laterGeneration = true
          await notifier.wait(signal)
          continue
        }
        if (waitingSaid) this.h.note(`${this.path}: appeared; reading it from its start`)
        waitingSaid = false
        const got = await this.identified(fh)
        if (got === null) {
          // Replaced before it had a first line (or stopping): any generation that came and went
          // meanwhile is among the rotated siblings.
          if (!signal.aborted) for (const id of await this.h.drainSiblings(this.path, new Set(this.draining.keys()), seen)) seen.add(id)
          continue
        }
        const ident = got.ident
        if (this.draining.has(ident.ino)) {
          // Still the generation being drained (the path points at it again): wait for that.
          await fh.close()
          await this.draining.get(ident.ino)
          continue
        }
        // A generation can come and go between the last look at the siblings and this open.
        for (const id of await this.h.drainSiblings(this.path, new Set([...this.draining.keys(), ident.ino]), seen)) seen.add(id)
        if (ident.id) seen.add(ident.id)
        // Content that arrived after we opened the file (it had no first line then) is new.
        const fromStart = laterGeneration || got.waited || this.h.knownPath(this.path)
        laterGeneration = true
        let replaced!: () => void
        const replacedNow = new Promise<void>((r) => (replaced = r))
        const tail = new FileTail(fh, ident, this.path, {
          notifier,
          rotateWaitMs: this.h.rotateWaitMs,
          chunkSize: this.h.chunkSize,
          onReplaced: () => replaced(),
        })
        const reading = this.h.follow({ path: this.path, fh, ident, fromStart, shrunkTo, tail }).finally(() => fh.close().catch(() => {}))
        shrunkTo = undefined
        const ended = await Promise.race([reading.then(() => true), replacedNow.then(() => false)])
        if (!ended) {
          // Renamed or deleted: the old handle drains in the background, the new file starts now,
          // after any generation that came and went while this one was being read.
          const ino = ident.ino
          this.draining.set(
            ino,
            reading.finally(() => this.draining.delete(ino)),
          )
          for (const id of await this.h.drainSiblings(this.path, new Set(this.draining.keys()), seen)) seen.add(id)
          continue
        }
        if (tail.end === 'shrunk') shrunkTo = tail.shrunkTo
        else if (tail.end === 'truncated') {
          this.h.note(`${this.path}: truncated or replaced in place (copytruncate?); finishing the copy if there is one, then reading it again from the start`)
          for (const id of await this.h.drainSiblings(this.path, new Set(this.draining.keys()), seen)) seen.add(id)
        } else if (tail.end === null) {
          // Nothing to tail (already complete, or a gzip file read whole): wait for the next file.
          await this.untilReplaced(ident.ino)
        }
      }
    } finally {
      await Promise.allSettled(this.draining.values())
    }
  }

  private async untilReplaced(ino: number): Promise<void> {
    while (!this.h.signal.aborted) {
      const atPath = await stat(this.path).catch(() => null)
      if (atPath === null || atPath.ino !== ino) return
      await this.h.notifier.wait(this.h.signal)
    }
  }

  /** Waits until the open file has a complete first line; null when the path moved on meanwhile
   *  (handle closed) or on stop. */
  private async identified(fh: FileHandle): Promise<{ ident: FileIdentity; waited: boolean } | null> {
    for (let waited = false; ; waited = true) {
      const ident = await identifyHandle(fh)
      if (ident.id !== null) return { ident, waited }
      const atPath = await stat(this.path).catch(() => null)
      if (this.h.signal.aborted || atPath === null || atPath.ino !== ident.ino) {
        // Lines may have come just before it was renamed: then it is a generation to read.
        const last = await identifyHandle(fh)
        if (last.id !== null && !this.h.signal.aborted) return { ident: last, waited: true }
        await fh.close()
        if (!this.h.signal.aborted && atPath === null) await this.h.notifier.wait(this.h.signal)
        return null
      }
      await this.h.notifier.wait(this.h.signal)
    }
  }
}
