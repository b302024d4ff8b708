// A state directory that fills up, turns read-only or cannot be written, on real mounts: the built
// CLI as a child process against the test API. What a user relies on: one line naming the directory,
// exit 74 ("retry later") when the cause clears by itself or by freeing space, 2 when it is
// configuration, nothing sent that cannot be recorded, and after space is freed the next run sends
// every line exactly once. Needs mount(8) (root, or a container allowed to mount tmpfs); skipped
// with the reason otherwise.
import { execFileSync, spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, open, readdir, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { StateWriteError } from '../src/errors.js'
import { lazyAppender } from '../src/runtime/appenders.js'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { cliPath, collect, repoRoot, spawnCli, withTempDir, type CliResult } from './helpers/cli.js'

const PROJECT = 'STATEFAULTS1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const LINES = 2000

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}
function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
  }
}

/** Why tmpfs cannot be mounted here, or null when it can. */
function mountProblem(): string | null {
  const dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim()
  try {
    mount(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir])
    umount(dir)
    return null
  } catch (err) {
    return `mount -t tmpfs is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`
  } finally {
    execFileSync('rmdir', [dir])
  }
}
const cannotMount = mountProblem()
if (cannotMount) console.log(`state-dir-faults: skipped: ${cannotMount}`)

function logLines(): string {
  let out = ''
  for (let i = 0; i < LINES; i++) out += `198.51.100.${(i % 250) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /f/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  return out
}

/** Fills the file system of `dir` with one ballast file; returns its path. */
async function fill(dir: string): Promise<string> {
  const ballast = join(dir, 'ballast')
  const fh = await open(ballast, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  try {
    for (;;) await fh.write(chunk)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await fh.close()
  }
  return ballast
}

/** The one line the CLI printed on stderr, and that it is the only one. */
function oneLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter(Boolean)
  expect(lines, r.stderr).toHaveLength(1)
  return lines[0]!
}

function expectEveryLineOnce(api: TestApi): void {
  const pages = api.accepted().map((e) => String(e.body.pg))
  const counts = new Map<string, number>()
  for (const p of pages) counts.set(p, (counts.get(p) ?? 0) + 1)
  expect(
    [...counts].filter(([, n]) => n > 1),
    'sent twice',
  ).toEqual([])
  expect(counts.size).toBe(LINES)
}

describe.skipIf(cannotMount !== null)('a state directory on a real mount that fills up, turns read-only or cannot be written', () => {
  let api: TestApi
  beforeEach(async () => {
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 2 } })
  })
  afterEach(async () => {
    await api.close()
  })

  /** A temp dir with the log and an empty `state` dir; `tmpfs` mounts one there (unmounted after). */
  const scenario = (fn: (s: { log: string; state: string; tmpfs: (options: string) => void; unmountLast: () => void }) => Promise<void>) =>
    withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, logLines())
      const state = join(dir, 'state')
      await mkdir(state)
      const mounts: string[] = []
      try {
        await fn({
          log,
          state,
          tmpfs: (options) => {
            mount(['-t', 'tmpfs', '-o', options, 'tmpfs', state])
            mounts.push(state)
          },
          unmountLast: () => umount(mounts.pop()!),
        })
      } finally {
        for (const m of mounts.reverse()) umount(m)
      }
    })
  const run = (log: string, state: string) =>
    spawnCli(['run', '--from-beginning', '-p', PROJECT, '--api-url', api.url, '--state-dir', state, '--concurrency', '8', log])
  const untilRequests = async (n: number, child: ReturnType<typeof spawnCli>) => {
    for (let i = 0; i < 2000 && api.stats().requests < n && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 5))
    expect(api.stats().requests).toBeGreaterThanOrEqual(n)
  }

  it('fills up mid-run: exit 74 naming the directory; after space is freed the next run sends the rest, nothing twice', { timeout: 30_000 }, async () => {
    await scenario(async ({ log, state, tmpfs }) => {
      tmpfs('size=1m')
      const child = run(log, state)
      const first = collect(child)
      await untilRequests(300, child)
      const ballast = await fill(state)
      const r1 = await first
      expect(r1.code, r1.stderr).toBe(74)
      expect(oneLine(r1)).toMatch(
        new RegExp(
          `^swetrix-ingest: state directory ${state}: no space left on device \\(ENOSPC\\) while .*; nothing more is sent until progress can be recorded; free space and run again$`,
        ),
      )
      await unlink(ballast)
      const r2 = await collect(run(log, state))
      expect(r2.code, r2.stderr).toBe(0)
      expectEveryLineOnce(api)
    })
  })

  it('too full for the journal at start: nothing is sent, exit 74; after it grows every line is sent once', { timeout: 30_000 }, async () => {
    await scenario(async ({ log, state, tmpfs }) => {
      tmpfs('size=96k') // the lock and state.json fit, a 192 KiB journal does not
      const r1 = await collect(run(log, state))
      expect(r1.code, r1.stderr).toBe(74)
      expect(oneLine(r1)).toMatch(
        new RegExp(`^swetrix-ingest: state directory ${state}: no space left on device \\(ENOSPC\\) while saving (a lease|progress) to progress\\.`),
      )
      expect(api.stats().requests).toBe(0)
      mount(['-o', 'remount,size=4m', state])
      const r2 = await collect(run(log, state))
      expect(r2.code, r2.stderr).toBe(0)
      expectEveryLineOnce(api)
    })
  })

  it('already full at start: exit 74 before anything is sent, and no empty lock file is left', { timeout: 30_000 }, async () => {
    await scenario(async ({ log, state, tmpfs }) => {
      tmpfs('size=64k')
      await fill(state)
      const r = await collect(run(log, state))
      expect(r.code, r.stderr).toBe(74)
      expect(oneLine(r)).toBe(
        `swetrix-ingest: state directory ${state}: no space left on device (ENOSPC) while creating the lock file; nothing was sent; free space and run again`,
      )
      expect(api.stats().requests).toBe(0)
      expect(await readdir(state)).toEqual(['ballast'])
    })
  })

  it('turns read-only mid-run: exit 74; once writable again the next run sends the rest, nothing twice', { timeout: 30_000 }, async () => {
    // `mount -o remount,ro` refuses (EBUSY) while the journal is open for writing, as it would for an
    // administrator; the kernel's own errors=remount-ro is what happens under a running process. A
    // read-only tmpfs mounted over the state dir stands in: every file opened from then on (the
    // state.json save) gets EROFS, as after such a remount.
    await scenario(async ({ log, state, tmpfs, unmountLast }) => {
      tmpfs('size=4m')
      const child = run(log, state)
      const first = collect(child)
      await untilRequests(300, child)
      tmpfs('ro,size=64k')
      const r1 = await first
      expect(r1.code, r1.stderr).toBe(74)
      expect(oneLine(r1)).toMatch(
        new RegExp(
          `^swetrix-ingest: state directory ${state}: read-only file system \\(EROFS\\) while saving state\\.json; nothing more is sent until progress can be recorded; .*remount it read-write and run again$`,
        ),
      )
      unmountLast()
      const r2 = await collect(run(log, state))
      expect(r2.code, r2.stderr).toBe(0)
      expectEveryLineOnce(api)
    })
  })

  it('read-only at start: configuration, exit 2, nothing sent', { timeout: 30_000 }, async () => {
    await scenario(async ({ log, state, tmpfs }) => {
      tmpfs('ro,size=64k')
      const r = await collect(run(log, state))
      expect(r.code, r.stderr).toBe(2)
      expect(oneLine(r)).toBe(
        `swetrix-ingest: state directory ${state}: read-only file system (EROFS) while creating the lock file; nothing was sent; choose a --state-dir on a writable file system (systemd: StateDirectory=)`,
      )
      expect(api.stats().requests).toBe(0)
    })
  })
})

// EACCES needs a user that permissions stop: root is not one.
const setprivProblem = (() => {
  if (process.getuid?.() !== 0) return 'not root (cannot switch to nobody)'
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true'])
    return null
  } catch (err) {
    return `setpriv cannot switch to nobody (${(err as Error).message})`
  }
})()
if (setprivProblem) console.log(`state-dir-faults: EACCES test skipped: ${setprivProblem}`)

describe.skipIf(setprivProblem !== null)('a state directory this user may not write', () => {
  it('is configuration: exit 2 before anything is sent, naming the directory', { timeout: 30_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    const dir = await mkdtemp(join(tmpdir(), 'swx-'))
    try {
      await chmod(dir, 0o755)
      const log = join(dir, 'access.log')
      await writeFile(log, logLines(), { mode: 0o644 })
      const state = join(dir, 'state')
      await mkdir(state, { mode: 0o700 }) // root's
      const asNobody = (stateDir: string) =>
        collect(
          spawn(
            'setpriv',
            [
              '--reuid=65534',
              '--regid=65534',
              '--clear-groups',
              process.execPath,
              cliPath,
              'run',
              '--from-beginning',
              '-p',
              PROJECT,
              '--api-url',
              api.url,
              '--state-dir',
              stateDir,
              log,
            ],
            { cwd: repoRoot, env: { PATH: process.env.PATH, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] },
          ),
        )
      const r = await asNobody(state)
      expect(r.code, r.stderr).toBe(2)
      expect(oneLine(r)).toBe(
        `swetrix-ingest: state directory ${state}: permission denied (EACCES) while creating the lock file; nothing was sent; make it writable by the user swetrix-ingest runs as, or choose another --state-dir`,
      )
      const nested = await asNobody(join(state, 'sub'))
      expect(nested.code, nested.stderr).toBe(2)
      expect(oneLine(nested)).toContain(`state directory ${join(state, 'sub')}: permission denied (EACCES) while creating it; nothing was sent;`)
      expect(api.stats().requests).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
      await api.close()
    }
  })
})

describe('the state directory NDJSON files (dead letters, uncertain events)', () => {
  it('a failed append is a StateWriteError naming the directory and the file (exit 74 in the CLI), not an unexpected error', async () => {
    await withTempDir(async (dir) => {
      // A file where the directory should be: ENOTDIR, as root too (permissions would not bite).
      await writeFile(join(dir, 'state'), '')
      const log = lazyAppender(join(dir, 'state', 'uncertain.ndjson'))
      const err = (await log.write({ why: 'test' }).catch((e: unknown) => e)) as StateWriteError
      expect(err).toBeInstanceOf(StateWriteError)
      expect(err.transient).toBe(true)
      expect(err.message).toContain(join(dir, 'state'))
      expect(err.message).toContain('writing uncertain.ndjson')
    })
  })
})
