// Broken log files against the built CLI and the test API: blocks of NUL bytes (what a file system
// leaves after a power loss), a 20 MB line, lines cut inside a UTF-8 sequence and invalid UTF-8 in
// fields. What a user relies on: every line counted with a reason, the rest of the file delivered
// once, memory bounded, and the run's exit status as the README's table says.
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useTestApi } from './helpers/test-api.js'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'
import { exactlyOnce, startFollow, until } from './helpers/follow.js'

const PROJECT = 'BROKENFILES1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const line = (path: string, ua = UA) => `198.51.100.7 - - [01/Nov/2026:10:00:00 +0000] "GET ${path} HTTP/1.1" 200 512 "-" "${ua}"\n`
const nuls = (n: number) => Buffer.alloc(n)
const bytes = (...parts: (string | Buffer)[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)))

interface Summary {
  files: {
    lines: number
    parsed: number
    rejected: number
    skipped: Record<string, number>
    rejectedReasons: Record<string, number>
    repaired?: Record<string, number>
  }[]
  totals: { delivery?: { accepted: number; uncertain: number } }
}

const shared = useTestApi([PROJECT])
const { pagesSince } = shared

const send = (dir: string, log: string, extra: string[] = []) =>
  runCli(['run', '--json', '--from-beginning', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', join(dir, 'state'), ...extra, log])

/** The peak RSS (MB) the preload in test/helpers/peak-rss.mjs recorded for a child. */
const peakEnv = (file: string) => ({ NODE_OPTIONS: `--import ${join(repoRoot, 'test/helpers/peak-rss.mjs')}`, PEAK_RSS_FILE: file })
const peakMb = async (file: string) => {
  const mb = Number(await readFile(file, 'utf8')) / 1024
  if (process.env.SHOW_PEAK_RSS) console.log(`${file}: peak RSS ${mb.toFixed(0)} MB`)
  return mb
}

describe('blocks of NUL bytes', () => {
  // A NUL block before a line, one inside a line (it joins the ends of two lines), a line of NULs only.
  const damaged = bytes(
    line('/nul/1'),
    nuls(4096),
    line('/nul/2'),
    line('/nul/3').slice(0, 40),
    nuls(4096),
    line('/nul/3').slice(40),
    nuls(100),
    '\n',
    line('/nul/4'),
  )

  it('run: the line after a NUL block is delivered, the damaged ones are counted as nul-bytes, exit 0', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, damaged)
      const before = shared.api.accepted().length
      const r = await send(dir, log)
      expect(r.code, r.stderr).toBe(0)
      const f = (JSON.parse(r.stdout) as Summary).files[0]!
      expect(f.lines).toBe(5)
      expect(f.skipped['nul-bytes']).toBe(1)
      expect(f.rejectedReasons).toEqual({ 'nul-bytes': 1 })
      expect(f.repaired).toEqual({ 'nul-bytes': 1 })
      expect(exactlyOnce(pagesSince(before), ['/nul/1', '/nul/2', '/nul/4'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('check: a file that starts with NUL blocks is still detected as its format', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, bytes(nuls(8192), '\n', nuls(4096), line('/a'), nuls(512), line('/b'), line('/c')))
      const r = await runCli(['check', log])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('(format: combined)')
      expect(r.stdout).toMatch(/events +pageview 3,/)
      expect(r.stdout).toMatch(/skipped +.*nul-bytes 1/)
      expect(r.stdout).toMatch(/repaired +nul-bytes 2/)
    })
  })

  it('follow: a file that ends in NULs waits; the line written after them is delivered', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, bytes(line('/tail/1'), nuls(64 * 1024)))
      const before = shared.api.accepted().length
      const f = startFollow([
        '--from-beginning',
        '-p',
        PROJECT,
        '--api-url',
        shared.api.url,
        '--state-dir',
        join(dir, 'state'),
        '--stats-interval',
        '0',
        '--poll-interval',
        '50ms',
        log,
      ])
      await until(() => pagesSince(before).includes('/tail/1'), 'the line before the NULs', 15_000)
      await appendFile(log, line('/tail/2'))
      await until(() => pagesSince(before).includes('/tail/2'), 'the line after the NULs', 15_000)
      f.child.kill('SIGTERM')
      const end = await f.exited
      expect(end.code, f.stderr()).toBe(0)
      expect(f.stderr()).toMatch(/repaired +nul-bytes 1/)
      expect(exactlyOnce(pagesSince(before), ['/tail/1', '/tail/2'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })
})

describe('a line of 20 MB', () => {
  const HUGE = 20 * 1024 * 1024
  const LIMIT_MB = 200
  const hugeFile = (log: string) => writeFile(log, bytes(line('/big/1'), line(`/big/${'x'.repeat(HUGE)}`), line('/big/3')))

  it('run and check: rejected as line-too-long, the lines around it delivered, peak RSS bounded', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await hugeFile(log)
      const before = shared.api.accepted().length
      const r = await runCli(['run', '--json', '--from-beginning', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', join(dir, 'state'), log], {
        env: peakEnv(join(dir, 'run.rss')),
      })
      expect(r.code, r.stderr).toBe(0)
      expect((JSON.parse(r.stdout) as Summary).files[0]!.rejectedReasons).toEqual({ 'line-too-long': 1 })
      expect(exactlyOnce(pagesSince(before), ['/big/1', '/big/3'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
      expect(await peakMb(join(dir, 'run.rss'))).toBeLessThan(LIMIT_MB)

      const c = await runCli(['check', '--json', log], { env: peakEnv(join(dir, 'check.rss')) })
      expect(c.code, c.stderr).toBe(0)
      const cf = (JSON.parse(c.stdout) as Summary).files[0]!
      expect([cf.lines, cf.rejected, cf.rejectedReasons]).toEqual([3, 1, { 'line-too-long': 1 }])
      expect(await peakMb(join(dir, 'check.rss'))).toBeLessThan(LIMIT_MB)
    })
  })

  it('backfill --via import: rejected as line-too-long, two rows written, peak RSS bounded', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await hugeFile(log)
      const r = await runCli(['backfill', '--json', '--no-progress', '--out', join(dir, 'out'), '--state-dir', join(dir, 'state'), log], {
        env: peakEnv(join(dir, 'import.rss')),
      })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain('"line-too-long":1')
      expect(r.stdout).toMatch(/"pageview":2/)
      expect(await peakMb(join(dir, 'import.rss'))).toBeLessThan(LIMIT_MB)
    })
  })

  it('follow: the line written while it runs is rejected, the next line delivered, peak RSS bounded', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, line('/live/1'))
      const before = shared.api.accepted().length
      const rss = join(dir, 'follow.rss')
      const f = startFollow(
        [
          '--from-beginning',
          '-p',
          PROJECT,
          '--api-url',
          shared.api.url,
          '--state-dir',
          join(dir, 'state'),
          '--stats-interval',
          '0',
          '--poll-interval',
          '50ms',
          log,
        ],
        peakEnv(rss),
      )
      await until(() => pagesSince(before).includes('/live/1'), 'the first line', 15_000)
      // Written in pieces, as a server writes a long line: the reader must not hold it whole.
      const piece = Buffer.alloc(1024 * 1024, 0x78)
      await appendFile(log, '198.51.100.7 - - [01/Nov/2026:10:00:00 +0000] "GET /live/')
      for (let i = 0; i < 20; i++) await appendFile(log, piece)
      await appendFile(log, bytes(` HTTP/1.1" 200 512 "-" "${UA}"\n`, line('/live/3')))
      await until(() => pagesSince(before).includes('/live/3'), 'the line after the long one', 15_000)
      f.child.kill('SIGTERM')
      const end = await f.exited
      expect(end.code, f.stderr()).toBe(0)
      expect(f.stderr()).toMatch(/rejected +line-too-long 1/)
      expect(exactlyOnce(pagesSince(before), ['/live/1', '/live/3'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
      expect(await peakMb(rss)).toBeLessThan(LIMIT_MB)
    })
  })
})

/** No lone surrogate: a lone one does not survive a UTF-8 round trip. */
const wellFormed = (v: string) => Buffer.from(v, 'utf8').toString('utf8') === v

describe('lines cut inside a UTF-8 sequence, and invalid UTF-8 in fields', () => {
  it('run: every event is sent with well-formed strings (U+FFFD for the broken bytes in the body), nothing throws', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(
        log,
        bytes(
          line('/u/1'),
          line('/caf\xc3'), // a path cut after the first byte of "é"
          line('/u/3', `${UA} \xff\xfe\xc3`), // bytes that are no UTF-8 in the User-Agent
          `198.51.100.7 - - [01/Nov/2026:10:00:00 +0000] "GET /u/4 HTTP/1.1" 200 512 "https://ex\xe9.example/" "${UA}"\n`,
          `198.51.100.7 - - [01/Nov/2026:10:00:00 +0000] "GET /u/5 HTTP/1.1" 200 512 "-" "Mozilla/5.0 caf\xc3`, // cut mid-sequence, mid-line
          '\n',
          line('/u/6'),
        ),
      )
      const before = shared.api.accepted().length
      const r = await send(dir, log)
      expect(r.code, r.stderr).toBe(0)
      const f = (JSON.parse(r.stdout) as Summary).files[0]!
      expect(f.lines).toBe(6)
      // The cut line lacks its closing quote: rejected with a reason, not thrown on.
      expect(f.parsed + f.rejected).toBe(6)
      const got = shared.api.accepted().slice(before)
      expect(got.length).toBe(f.parsed)
      for (const e of got) {
        for (const v of [e.ua, ...Object.values(e.body)]) if (typeof v === 'string') expect(wellFormed(v), JSON.stringify(v)).toBe(true)
      }
      expect(got.map((e) => String(e.body.pg))).toContain('/caf\uFFFD')
      // The User-Agent header carries the logged bytes as they are (obs-text), as the API gets them from a browser.
      expect(got.find((e) => e.body.pg === '/u/3')?.ua).toBe(`${UA} \xff\xfe\xc3`)
      expect(new Set(got.map((e) => String(e.body.pg))).size).toBe(got.length)
    })
  })
})
