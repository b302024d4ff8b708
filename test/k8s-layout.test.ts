// The Kubernetes file layout, followed with the src/source pieces `follow` is made of (PathFollower,
// FileTail, rotatedSiblings, PathsProvider) on real temp dirs with real symlinks:
// /var/log/containers/<pod>_<ns>_<container>-<id>.log -> /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log,
// rotated by kubelet to <n>.log.YYYYMMDD-HHMMSS (a new <n>.log is opened), compressed later through
// a .tmp file to .gz. The harness below stands in for follow.ts: it reads every generation once, by
// identity, from a checkpoint per identity, and drains rotated siblings as follow.ts does.
import { appendFile, mkdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { identify } from '../src/source/fingerprint.js'
import { PathFollower, type FollowerHooks, type Generation } from '../src/source/follower.js'
import { PathsProvider } from '../src/source/paths-provider.js'
import { rotatedSiblings } from '../src/source/paths.js'
import { readLines, type LineBatch } from '../src/source/reader.js'
import { ChangeNotifier } from '../src/source/watcher.js'
import { withTempDir } from './helpers/cli.js'
import { until } from './helpers/follow.js'

const line = (tag: string) => `192.0.2.1 - - [07/Dec/2026:12:00:00 +0000] "GET /${tag} HTTP/1.1" 200 1 "-" "-"\n`
const lines = (...tags: string[]) => tags.map(line).join('')

interface Harness {
  read: string[]
  notes: string[]
  ended: string[]
  stop(): Promise<void>
}

/** Follows `path` as follow.ts does, with `checkpoints` (identity -> bytes read) from an earlier run. */
function follow(path: string, o: { checkpoints?: Map<string, number>; knownPath?: boolean } = {}): Harness {
  const stopper = new AbortController()
  const notifier = new ChangeNotifier(20)
  const checkpoints = o.checkpoints ?? new Map<string, number>()
  const complete = new Set<string>()
  const active = new Set<string>()
  const h: Harness = {
    read: [],
    notes: [],
    ended: [],
    async stop() {
      stopper.abort()
      await running
      notifier.close()
    },
  }
  const take = (id: string, b: LineBatch): void => {
    b.starts.forEach((s, i) => h.read.push(b.buf.toString('utf8', s, b.contentEnds[i])))
    checkpoints.set(id, b.base + b.ends.at(-1)!)
  }
  const hooks: FollowerHooks = {
    notifier,
    rotateWaitMs: 150,
    chunkSize: 64 * 1024,
    signal: stopper.signal,
    note: (m) => h.notes.push(m),
    async follow(gen: Generation) {
      const id = gen.ident.id!
      if (active.has(id) || complete.has(id)) return
      active.add(id)
      try {
        for await (const b of gen.tail.lines(checkpoints.get(id) ?? 0, stopper.signal)) take(id, b)
        if (gen.tail.end === 'rotated' || gen.tail.end === 'deleted') complete.add(id)
        h.ended.push(String(gen.tail.end))
      } finally {
        active.delete(id)
      }
    },
    async drainSiblings(p, skipIno, seen) {
      const ids: string[] = []
      for (const sibling of await rotatedSiblings(p)) {
        const ident = await identify(sibling).catch(() => null)
        if (!ident?.id) continue
        ids.push(ident.id)
        if (skipIno.has(ident.ino) || active.has(ident.id) || complete.has(ident.id)) continue
        // At start a sibling without a checkpoint is history; later, one not seen came and went.
        if (!checkpoints.has(ident.id) && (seen === null || seen.has(ident.id))) continue
        for await (const b of readLines({ path: sibling }, { from: checkpoints.get(ident.id) ?? 0, final: true })) take(ident.id, b)
        complete.add(ident.id)
      }
      return ids
    },
    knownPath: () => o.knownPath ?? false,
  }
  const running = new PathFollower(path, hooks, false).run()
  return h
}

/** A pod's log directory and its /var/log/containers link. */
async function pod(root: string, name: string, container = 'nginx'): Promise<{ dir: string; log: (n: number) => string; link: string }> {
  const dir = join(root, 'pods', `ingress_${name}_0b6c1e2a-5f1d-4c3e-9a7b-1d2e3f4a5b6c`, container)
  await mkdir(dir, { recursive: true })
  await mkdir(join(root, 'containers'), { recursive: true })
  const link = join(root, 'containers', `${name}_ingress_${container}-${'ab'.repeat(32)}.log`)
  return { dir, log: (n) => join(dir, `${n}.log`), link }
}

/** kubelet's rotation: rename <n>.log to <n>.log.<stamp>, the runtime opens a new <n>.log. */
async function kubeletRotate(log: string, stamp: string): Promise<string> {
  const rotated = `${log}.${stamp}`
  await rename(log, rotated)
  await writeFile(log, '')
  return rotated
}

/** kubelet's compression of an older generation: gzip to .tmp, rename to .gz, remove the plain file. */
async function kubeletCompress(rotated: string): Promise<void> {
  await writeFile(`${rotated}.tmp`, gzipSync(await readFile(rotated)))
  await rename(`${rotated}.tmp`, `${rotated}.gz`)
  await unlink(rotated)
}

const tagsOf = (read: string[]) => read.map((l) => /GET \/(\S+)/.exec(l)?.[1])

describe('Kubernetes layout', () => {
  it('rotation while the process was down: the rotated generation beside the link’s target is finished first, then the new file', async () => {
    await withTempDir(async (root) => {
      const p = await pod(root, 'ingress-nginx-controller-7d9f')
      await writeFile(p.log(0), lines('1', '2', '3'))
      await symlink(p.log(0), p.link)
      const id = (await identify(p.log(0))).id!
      const checkpoints = new Map([[id, Buffer.byteLength(lines('1', '2', '3'))]])
      // While down: two more lines, a rotation, lines in the new file, the old one compressed.
      await appendFile(p.log(0), lines('4', '5'))
      const rotated = await kubeletRotate(p.log(0), '20261207-120000')
      await appendFile(p.log(0), lines('6', '7'))
      await kubeletCompress(rotated)
      const h = follow(p.link, { checkpoints, knownPath: true })
      try {
        await until(() => h.read.length >= 4, 'lines 4-7 read', 10_000)
      } finally {
        await h.stop()
      }
      expect(tagsOf(h.read)).toEqual(['4', '5', '6', '7'])
    })
  })

  it('a live kubelet rotation through the link: the old file is read on until quiet, the new one from its start, each line once', async () => {
    await withTempDir(async (root) => {
      const p = await pod(root, 'web-1')
      await writeFile(p.log(0), lines('a1', 'a2'))
      await symlink(p.log(0), p.link)
      const h = follow(p.link)
      try {
        await until(() => h.read.length >= 2, 'first lines', 10_000)
        const rotated = await kubeletRotate(p.log(0), '20261207-120000')
        // Written through the runtime's old descriptor before it reopened.
        await appendFile(rotated, lines('a3'))
        await appendFile(p.log(0), lines('b1', 'b2'))
        await until(() => h.read.length >= 5, 'lines of both generations', 10_000)
        await until(() => h.ended.includes('rotated'), 'old generation finished', 10_000)
        // The next rotation compresses the older one: nothing is read again.
        await kubeletCompress(rotated)
        const again = await kubeletRotate(p.log(0), '20261207-130000')
        await appendFile(p.log(0), lines('c1'))
        await until(() => h.read.length >= 6, 'third generation', 10_000)
        expect(again).toMatch(/0\.log\.20261207-130000$/)
      } finally {
        await h.stop()
      }
      expect(tagsOf(h.read).sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'c1'])
    })
  })

  it('a deleted pod: lines written before the deletion are read through the open file; the link is no longer matched', async () => {
    await withTempDir(async (root) => {
      const p = await pod(root, 'web-2')
      await writeFile(p.log(0), lines('1', '2'))
      await symlink(p.log(0), p.link)
      const provider = new PathsProvider([join(root, 'containers', '*.log')])
      expect((await provider.expand()).map((t) => t.target)).toEqual([p.log(0)])
      const h = follow(p.link)
      try {
        await until(() => h.read.length >= 2, 'first lines', 10_000)
        await appendFile(p.log(0), lines('3'))
        await rm(join(p.dir, '..'), { recursive: true })
        await unlink(p.link)
        await until(() => h.ended.includes('deleted'), 'the deleted file finished', 10_000)
        // What follow.ts's follower does next (see the report): it waits for the path to come back.
        await until(() => h.notes.some((n) => n.includes('does not exist (yet)')), 'follower waiting', 10_000)
      } finally {
        await h.stop()
      }
      expect(tagsOf(h.read)).toEqual(['1', '2', '3'])
      expect(await provider.expand()).toEqual([])
    })
  })

  it('a link replaced by one to another file (the container restarted): the old file is finished, the new one read from its start; the same target again reads nothing twice', async () => {
    await withTempDir(async (root) => {
      const p = await pod(root, 'web-3')
      await writeFile(p.log(0), lines('a1', 'a2'))
      await symlink(p.log(0), p.link)
      const replaceLink = async (target: string) => {
        await symlink(target, `${p.link}.new`)
        await rename(`${p.link}.new`, p.link) // ln -sfn: atomic
      }
      const h = follow(p.link)
      try {
        await until(() => h.read.length >= 2, 'first lines', 10_000)
        await replaceLink(p.log(0)) // same target: not a new file
        await appendFile(p.log(0), lines('a3'))
        await until(() => h.read.length >= 3, 'a3', 10_000)
        await writeFile(p.log(1), lines('b1', 'b2'))
        await replaceLink(p.log(1))
        await until(() => h.read.length >= 5, 'the new file', 10_000)
        await until(() => h.ended.includes('rotated'), 'old file finished', 10_000)
      } finally {
        await h.stop()
      }
      expect(tagsOf(h.read)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2'])
    })
  })
})
