// A rotated file made unreadable (chmod 000 on access.log.1) before `run` or `follow` drains it: one
// line naming the file, its remaining bytes counted as not read, the rest delivered, `follow` keeps
// running, and the exit status is 2 (the README's "unreadable file"); once it is readable again
// the next run reads it from its checkpoint, nothing twice. Permissions do not bite root, so as
// root the CLI runs as `nobody` through setpriv (util-linux); skipped with the reason otherwise.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { appendFile, chmod, chown, mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { useTestApi } from './helpers/test-api.js'
import { cliPath, collect, repoRoot, withTempDir } from './helpers/cli.js'
import { exactlyOnce, expected, startFollow, until } from './helpers/follow.js'

const PROJECT = 'UNREADABLE01'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const NOBODY = 65534
const lines = (from: number, to: number) => {
  let out = ''
  for (let i = from; i < to; i++) out += `198.51.100.9 - - [01/Nov/2026:10:00:00 +0000] "GET /r/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  return out
}

const asRoot = process.getuid?.() === 0
/** Why permissions cannot be made to bite here, or null. */
function cannotDropPrivileges(): string | null {
  if (!asRoot) return null
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true'], { stdio: 'ignore' })
    return null
  } catch (err) {
    return `running as root and setpriv cannot switch to nobody (${(err as Error).message})`
  }
}
const problem = cannotDropPrivileges()
if (problem) console.log(`unreadable-rotated: skipped: ${problem}`)

/** The CLI as a user that file permissions apply to. */
function spawnAsUser(args: string[]): ChildProcess {
  const node = [process.execPath, cliPath, ...args]
  const [cmd, ...argv] = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node
  return spawn(cmd!, argv, {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: '1', SWETRIX_PROJECT_ID: '', SWETRIX_API_URL: '', SWETRIX_INGEST_STATE_DIR: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

const shared = useTestApi([PROJECT])
const { pagesSince } = shared

/** A log read up to line 10 by a first run, then 10 more lines, rotated to access.log.1 (made
 *  unreadable), and a new access.log with lines 20..24. */
async function rotatedUnreadable(dir: string, run: (args: string[]) => Promise<{ code: number | null; stderr: string }>) {
  await chmod(dir, 0o755)
  const log = join(dir, 'access.log')
  const state = join(dir, 'state')
  await mkdir(state, { mode: 0o700 })
  if (asRoot) await chown(state, NOBODY, NOBODY)
  await writeFile(log, lines(0, 10), { mode: 0o644 })
  const first = await run(['run', '--from-beginning', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', state, log])
  expect(first.code, first.stderr).toBe(0)
  await appendFile(log, lines(10, 20))
  await rename(log, `${log}.1`)
  await chmod(`${log}.1`, 0o000)
  await writeFile(log, lines(20, 25), { mode: 0o644 })
  return { log, state }
}

const runAsUser = (args: string[]) => collect(spawnAsUser(args))

describe.skipIf(problem !== null)('a rotated file made unreadable before it is drained', () => {
  it('run: one line naming it, the new file delivered, exit 2; readable again, the next run sends its rest once', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const before = shared.api.accepted().length
      const { log, state } = await rotatedUnreadable(dir, runAsUser)
      const r = await runAsUser(['run', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', state, log])
      expect(r.code, r.stderr).toBe(2)
      const said = r.stderr.split('\n').filter((l) => l.includes(`${log}.1`))
      expect(said[0]).toMatch(/access\.log\.1: cannot be read \(EACCES, permission denied\): its last \d+ bytes, from offset \d+, are not read/)
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^swetrix-ingest: .*access\.log\.1: permission denied: \d+ bytes of rotated log not read/)
      expect(exactlyOnce(pagesSince(before), [...expected('r', 0, 10), ...expected('r', 20, 25)])).toEqual({ missing: [], duplicated: [], unexpected: [] })

      await chmod(`${log}.1`, 0o644)
      const again = await runAsUser(['run', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', state, log])
      expect(again.code, again.stderr).toBe(0)
      expect(exactlyOnce(pagesSince(before), expected('r', 0, 25))).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })

  it('follow: one line naming it, keeps following the new file; exit 2 at its stop; a later run sends the rest once', { timeout: 30_000 }, async () => {
    await withTempDir(async (dir) => {
      const before = shared.api.accepted().length
      const { log, state } = await rotatedUnreadable(dir, runAsUser)
      const f = startFollow([], {}, () =>
        spawnAsUser(['follow', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', state, '--stats-interval', '0', '--poll-interval', '50ms', log]),
      )
      await f.said(/access\.log\.1: cannot be read \(EACCES/)
      await until(() => pagesSince(before).includes('/r/24'), 'the new file', 15_000)
      await appendFile(log, lines(25, 30))
      await until(() => pagesSince(before).includes('/r/29'), 'lines written while it runs', 15_000)
      f.child.kill('SIGTERM')
      const end = await f.exited
      expect(end.code, f.stderr()).toBe(2)
      expect(f.stderr().match(/cannot be read/g)).toHaveLength(1)
      expect(f.stderr().trim().split('\n').at(-1)).toMatch(/access\.log\.1: permission denied: \d+ bytes of rotated log not read/)

      await chmod(`${log}.1`, 0o644)
      const r = await runAsUser(['run', '-p', PROJECT, '--api-url', shared.api.url, '--state-dir', state, log])
      expect(r.code, r.stderr).toBe(0)
      expect(exactlyOnce(pagesSince(before), expected('r', 0, 30))).toEqual({ missing: [], duplicated: [], unexpected: [] })
    })
  })
})
