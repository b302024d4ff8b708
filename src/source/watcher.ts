// Change notifications for the follower: fs.watch on the directories of the followed files, with
// a polling fallback (network file systems, bind mounts and missed events deliver nothing, so every
// wait also ends after `pollMs`). A wake-up only means "look again"; the follower decides by fstat.
import { watch, type FSWatcher } from 'node:fs'

export class ChangeNotifier {
  private readonly watchers = new Map<string, FSWatcher | null>()
  private readonly waiters = new Set<() => void>()

  constructor(readonly pollMs: number) {}

  /** Watches `dir` (once); a directory that cannot be watched is polled only. */
  watchDir(dir: string): void {
    if (this.watchers.has(dir)) return
    let w: FSWatcher | null = null
    try {
      w = watch(dir, { persistent: false }, () => this.wakeAll())
      w.on('error', () => {
        w?.close()
        this.watchers.set(dir, null)
      })
    } catch {
      w = null
    }
    this.watchers.set(dir, w)
  }

  /** Wakes every waiter now (SIGHUP, a test, a new file found). */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake()
  }

  /** Resolves on the next change in a watched directory, after `ms` (default pollMs), or on abort. */
  wait(signal: AbortSignal, ms = this.pollMs): Promise<void> {
    if (signal.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.waiters.delete(done)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, ms))
      this.waiters.add(done)
      signal.addEventListener('abort', done, { once: true })
    })
  }

  close(): void {
    for (const w of this.watchers.values()) w?.close()
    this.watchers.clear()
    this.wakeAll()
  }
}
