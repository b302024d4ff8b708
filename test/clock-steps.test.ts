// The system clock stepped back an hour or forward a day, while `follow` runs and between two
// `run`s. What a user relies on: a rotated file is finished when it has been quiet for
// --rotate-wait as the follower saw it, not when a wall-clock age says so (a step forward would
// finish it while the server still writes to it, losing those lines; a step back would keep it open
// for the hour), and nothing is lost or sent twice across runs. The pure rule is tested with an
// injected clock; the CLI under libfaketime (FAKETIME_TIMESTAMP_FILE changes the time of the running
// process; the monotonic clock and file times stay real, as in a real step), skipped visibly without it.
import { existsSync } from 'node:fs'
import { appendFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useTestApi } from './helpers/test-api.js'
import { quietLeft, QuietWatch } from '../src/source/quiet.js'
import { wallClockStep, type Clock } from '../src/util/clock.js'
import { runCli, withTempDir } from './helpers/cli.js'
import { exactlyOnce, expected, startFollow, until } from './helpers/follow.js'

/** A clock whose wall time can be stepped apart from its monotonic time. */
function fakeClock(): Clock & { advance(ms: number): void; step(ms: number): void } {
  let mono = 1000
  let wall = Date.UTC(2026, 10, 1)
  return {
    now: () => wall,
    monotonic: () => mono,
    advance(ms) {
      mono += ms
      wall += ms
    },
    step(ms) {
      wall += ms
    },
  }
}

describe('the quiet-file rule', () => {
  it('without a step, an old mtime makes a file quiet at once (a generation rotated long ago)', () => {
    expect(quietLeft({ waitMs: 5000, mtimeMs: 0, seenQuietMs: 0, wallNow: 60_000, stepped: false })).toBeLessThanOrEqual(0)
    expect(quietLeft({ waitMs: 5000, mtimeMs: 58_000, seenQuietMs: 0, wallNow: 60_000, stepped: false })).toBe(3000)
  })

  it('a mtime in the future (clock stepped back) does not hold the file open: what was seen counts', () => {
    expect(quietLeft({ waitMs: 5000, mtimeMs: 3_600_000, seenQuietMs: 4000, wallNow: 0, stepped: false })).toBe(1000)
  })

  it('after a step forward, an old-looking mtime does not finish a file that was just written', () => {
    const clock = fakeClock()
    const base = { wall: clock.now(), mono: clock.monotonic() }
    const written = clock.now()
    clock.advance(100)
    clock.step(86_400_000)
    expect(wallClockStep(base, clock)).toBe(86_400_000)
    const w = new QuietWatch(5000, clock, base)
    expect(w.left(100, written)).toBe(5000)
    clock.advance(3000)
    expect(w.left(120, written + 3000)).toBe(5000) // written again: the wait starts over
    clock.advance(5000)
    expect(w.left(120, written + 3000)).toBe(0)
  })

  it('a step back after start leaves the wait to what was seen', () => {
    const clock = fakeClock()
    const base = { wall: clock.now(), mono: clock.monotonic() }
    clock.advance(10_000)
    const written = clock.now()
    clock.step(-3_600_000)
    const w = new QuietWatch(5000, clock, base)
    expect(w.left(10, written)).toBe(5000)
    clock.advance(5000)
    expect(w.left(10, written)).toBe(0)
  })
})

const LIBFAKETIME = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
].find((p) => existsSync(p))
if (!LIBFAKETIME) console.log('clock-steps: CLI tests skipped: libfaketime is not installed (apt-get install faketime)')

/** The environment that runs the CLI at the offset written in `file` (seconds, e.g. "-3600"). */
const fakeTimeEnv = (file: string) => ({
  LD_PRELOAD: LIBFAKETIME!,
  FAKETIME_TIMESTAMP_FILE: file,
  FAKETIME_NO_CACHE: '1',
  FAKETIME_DONT_FAKE_MONOTONIC: '1',
  NO_FAKE_STAT: '1',
})

const PROJECT = 'CLOCKSTEPS01'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const lines = (tag: string, from: number, to: number) => {
  let out = ''
  for (let i = from; i < to; i++) out += `198.51.100.13 - - [01/Nov/2026:10:00:00 +0000] "GET /${tag}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  return out
}

describe.skipIf(!LIBFAKETIME)('clock steps against the CLI (libfaketime)', () => {
  const shared = useTestApi([PROJECT])
  const { pagesSince } = shared
  const follow = (dir: string, log: string, rotateWait: string) =>
    startFollow(
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
        '--rotate-wait',
        rotateWait,
        log,
      ],
      fakeTimeEnv(join(dir, 'faketime')),
    )

  it('follow, clock forward a day: lines the server still writes to the renamed file are read', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(join(dir, 'faketime'), '+0\n')
      await writeFile(log, lines('f', 0, 5))
      const before = shared.api.accepted().length
      const f = follow(dir, log, '3s')
      await until(() => pagesSince(before).includes('/f/4'), 'the first lines', 15_000)
      await writeFile(join(dir, 'faketime'), '+86400\n')
      await rename(log, `${log}.1`)
      await writeFile(log, lines('g', 0, 1))
      await until(() => pagesSince(before).includes('/g/0'), 'the new file', 15_000)
      // nginx writes to the renamed file until it reopens its logs.
      await appendFile(`${log}.1`, lines('f', 5, 10))
      await until(() => pagesSince(before).includes('/f/9'), 'the lines written to the renamed file after the step', 15_000)
      f.child.kill('SIGTERM')
      expect((await f.exited).code, f.stderr()).toBe(0)
      expect(exactlyOnce(pagesSince(before), [...expected('f', 0, 10), '/g/0'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('follow, clock back an hour: the renamed file is finished after --rotate-wait, not an hour later', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(join(dir, 'faketime'), '+0\n')
      await writeFile(log, lines('b', 0, 5))
      const before = shared.api.accepted().length
      const f = follow(dir, log, '500ms')
      await until(() => pagesSince(before).includes('/b/4'), 'the first lines', 15_000)
      await writeFile(join(dir, 'faketime'), '-3600\n')
      // A last line without '\n' is read only once the renamed file is finished.
      await appendFile(log, lines('b', 5, 6).trimEnd())
      await rename(log, `${log}.1`)
      await writeFile(log, lines('c', 0, 1))
      await until(() => pagesSince(before).includes('/b/5'), 'the last line of the renamed file', 15_000)
      await until(() => pagesSince(before).includes('/c/0'), 'the new file', 15_000)
      f.child.kill('SIGTERM')
      expect((await f.exited).code, f.stderr()).toBe(0)
      expect(exactlyOnce(pagesSince(before), [...expected('b', 0, 6), '/c/0'])).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('run, clock back an hour and then forward a day between runs, with rotations: every line once', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      const clock = join(dir, 'faketime')
      const run = async (offset: string) => {
        await writeFile(clock, `${offset}\n`)
        const r = await runCli(['run', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', join(dir, 'state'), log], { env: fakeTimeEnv(clock) })
        expect(r.code, r.stderr).toBe(0)
      }
      const before = shared.api.accepted().length
      await writeFile(log, lines('r', 0, 5))
      await runCli(['run', '--from-beginning', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', join(dir, 'state'), log])
      await appendFile(log, lines('r', 5, 10))
      await rename(log, `${log}.1`)
      await writeFile(log, lines('r', 10, 15))
      await run('-3600')
      await appendFile(log, lines('r', 15, 20))
      await rename(`${log}.1`, `${log}.2`)
      await rename(log, `${log}.1`)
      await writeFile(log, lines('r', 20, 25))
      await run('+86400')
      expect(exactlyOnce(pagesSince(before), expected('r', 0, 25))).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })
})
