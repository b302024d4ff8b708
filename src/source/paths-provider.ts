// Which live files `follow` watches: literal paths (waited for while missing) and globs, expanded
// again on SIGHUP and every few seconds so a file that appears later is picked up. Rotated
// generations (name.1, name.2.gz, name-YYYYMMDD) are never followed on their own: they belong to
// their live file (drained through its pinned handle, or as rotated siblings).
import { basename, resolve } from 'node:path'
import { glob, hasMagic, parseRotation } from './paths.js'

export interface FollowTarget {
  /** As given or matched (shown in messages, stored in checkpoints). */
  path: string
  /** Absolute, for de-duplication. */
  key: string
}

export class PathsProvider {
  constructor(private readonly patterns: string[]) {}

  /** Literal paths are kept whether they exist or not; globs give the live files they match now. */
  async expand(): Promise<FollowTarget[]> {
    const out: FollowTarget[] = []
    const seen = new Set<string>()
    const add = (p: string, fromGlob: boolean): void => {
      const key = resolve(p)
      if (seen.has(key)) return
      if (fromGlob && parseRotation(basename(p)).rotation.kind !== 'live') return
      seen.add(key)
      out.push({ path: p, key })
    }
    for (const pattern of this.patterns) {
      if (!hasMagic(pattern)) add(pattern, false)
      else for (const m of await glob(pattern).catch(() => [] as string[])) add(m, true)
    }
    return out
  }

  /** Directories to watch for changes: of each literal path, and of each glob's fixed part. */
  directories(): string[] {
    const dirs = new Set<string>()
    for (const pattern of this.patterns) {
      const segs = resolve(pattern).split('/')
      const firstMagic = segs.findIndex((s) => hasMagic(s))
      const fixed = firstMagic === -1 ? segs.slice(0, -1) : segs.slice(0, Math.min(firstMagic, segs.length - 1))
      dirs.add(fixed.join('/') || '/')
    }
    return [...dirs]
  }
}
