// A file truncated to a shorter length while `follow` reads it: copytruncate in the middle of the
// reading (the rest of the old content comes from the copy), and a cut back in place to a length
// inside what was already read (reading goes on from the new end). What a user relies on: said once,
// every line delivered once, none twice (docs/follow.md, "copytruncate", "cut back in place").
import { appendFile, copyFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { withTempDir } from './helpers/cli.js'
import { countsOf, exactlyOnce, expected, startFollow, until } from './helpers/follow.js'

const PROJECT = 'TRUNCATION01'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const lines = (tag: string, from: number, to: number) => {
  let out = ''
  for (let i = from; i < to; i++) out += `198.51.100.11 - - [01/Nov/2026:10:00:00 +0000] "GET /${tag}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  return out
}

let api: TestApi | null = null
afterEach(async () => {
  await api?.close()
  api = null
})
const pages = () => api!.accepted().map((e) => String(e.body.pg))
const follow = (dir: string, log: string) =>
  startFollow([
    '--from-beginning',
    '-p',
    PROJECT,
    '--api-url',
    api!.url,
    '--state-dir',
    join(dir, 'state'),
    '--stats-interval',
    '0',
    '--poll-interval',
    '50ms',
    '--rotate-wait',
    '300ms',
    '--concurrency',
    '4',
    log,
  ])

describe('follow: a file truncated while it is read', () => {
  it('copytruncate in the middle of the reading: the rest comes from the copy, the new content from 0, each line once', { timeout: 30_000 }, async () => {
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 3 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, lines('old', 0, 600))
      const f = follow(dir, log)
      await until(() => pages().length >= 100, 'part of the old content', 15_000)
      await copyFile(log, `${log}.1`)
      await truncate(log, 0)
      await appendFile(log, lines('new', 0, 50))
      await until(() => pages().includes('/new/49') && pages().includes('/old/599'), 'the old content and the new', 20_000)
      f.child.kill('SIGTERM')
      expect((await f.exited).code, f.stderr()).toBe(0)
      expect(f.stderr().match(/truncated or replaced in place/g), f.stderr()).toHaveLength(1)
      expect(exactlyOnce(pages(), [...expected('old', 0, 600), ...expected('new', 0, 50)])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('cut back in place to the middle of a line already read: reading goes on from the new end, nothing twice', { timeout: 30_000 }, async () => {
    api = await startTestApi({ projects: [PROJECT] })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, lines('a', 0, 100))
      const f = follow(dir, log)
      await until(() => pages().includes('/a/99'), 'the file', 15_000)
      await truncate(log, Buffer.byteLength(lines('a', 0, 50)) + 20)
      await f.said(/cut back in place/)
      await appendFile(log, lines('b', 0, 10))
      await until(() => pages().includes('/b/9'), 'the lines written after the cut', 15_000)
      f.child.kill('SIGTERM')
      expect((await f.exited).code, f.stderr()).toBe(0)
      expect(f.stderr().match(/cut back in place/g)).toHaveLength(1)
      expect(f.stderr()).not.toMatch(/reading it again from the start/)
      expect(exactlyOnce(pages(), [...expected('a', 0, 100), ...expected('b', 0, 10)])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('cut back in place while the reading is ahead of the sending: no line twice, the lines before the cut all delivered', { timeout: 30_000 }, async () => {
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 3 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, lines('c', 0, 600))
      const f = follow(dir, log)
      await until(() => pages().length >= 150, 'part of the file', 15_000)
      await truncate(log, Buffer.byteLength(lines('c', 0, 100)))
      // Lines appended within one poll of the cut cannot be told from the cut length (docs/follow.md).
      await f.said(/cut back in place/)
      await appendFile(log, lines('d', 0, 10))
      await until(() => pages().includes('/d/9'), 'the lines written after the cut', 20_000)
      f.child.kill('SIGTERM')
      expect((await f.exited).code, f.stderr()).toBe(0)
      const got = pages()
      expect([...countsOf(got)].filter(([, n]) => n > 1)).toEqual([])
      // What was read before the cut is delivered (a prefix of the old lines), then the new lines.
      const old = got.filter((p) => p.startsWith('/c/')).map((p) => Number(p.slice(3)))
      expect(old.length).toBeGreaterThanOrEqual(150)
      expect(Math.max(...old)).toBe(old.length - 1)
      expect(got.filter((p) => p.startsWith('/d/'))).toHaveLength(10)
    })
  })
})
