// Which live files `follow` watches: literal paths (waited for while missing) and globs, expanded
// again on SIGHUP and every few seconds so a file that appears later is picked up. Rotated
// generations (name.1, name.2.gz, name-YYYYMMDD, kubelet's 0.log.YYYYMMDD-HHMMSS) are never followed
// on their own: they belong to their live file (drained through its pinned handle, or as rotated
// siblings). A symlink (`/var/log/containers/*.log` -> `/var/log/pods/.../0.log`) is followed to its
// target, which is what identifies it.
import { basename, resolve } from 'node:path'
import { glob, hasMagic, isRotationTemp, linkTarget, parseRotation } from './paths.js'

export interface FollowTarget {
  /** As given or matched (shown in messages, stored in checkpoints). */
  path: string
  /** Absolute, for de-duplication of paths. */
  key: string
  /** Absolute path of the file `path` names after following symlinks: `key` for a plain file, the
   *  link's target for a symlink (also when it dangles: a pod's link outliving its log). Two targets
   *  with the same `target` are one file. */
  target: string
  /** Matched by a glob (not named literally): forgotten once its file is gone. */
  fromGlob: boolean
}

export class PathsProvider {
  constructor(private readonly patterns: string[]) {}

  /** Literal paths are kept whether they exist or not; globs give the live files they match now
   *  (a match whose target another target already names is left out; dangling links match nothing). */
  async expand(): Promise<FollowTarget[]> {
    const out: FollowTarget[] = []
    const seenKeys = new Set<string>()
    const seenTargets = new Set<string>()
    const add = async (p: string, fromGlob: boolean): Promise<void> => {
      const key = resolve(p)
      if (seenKeys.has(key)) return
      if (fromGlob && !isLiveName(basename(p))) return
      const target = resolve(await linkTarget(p))
      // A link whose target is a rotated name points at history, not at a live log.
      if (fromGlob && (seenTargets.has(target) || !isLiveName(basename(target)))) return
      seenKeys.add(key)
      seenTargets.add(target)
      out.push({ path: p, key, target, fromGlob })
    }
    for (const pattern of this.patterns) {
      if (!hasMagic(pattern)) await add(pattern, false)
      else for (const m of await glob(pattern).catch(() => [] as string[])) await add(m, true)
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

function isLiveName(name: string): boolean {
  return parseRotation(name).rotation.kind === 'live' && !isRotationTemp(name)
}
