// `follow` as a service: real files in temp dirs, a real writer process that rotates the log the
// way logrotate and nginx do, the real CLI as a child process, and the bundled test API recording
// what it accepts. Independent scenarios run concurrently (each has its own API, dirs and state).
import { appendFile, copyFile, readFile, rename, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startTestApi } from '../src/testapi/server.js'
import { repoRoot, withTempDir } from './helpers/cli.js'
import { exactlyOnce, expected, pathsOf, runWriter, startFollow, uncertainPaths, until } from './helpers/follow.js'
import { spawn } from 'node:child_process'
import { gzipSync } from 'node:zlib'

const PROJECT = 'FOLLOWPROJ01'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0'
const line = (tag: string, i: number) => `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /${tag}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
const lines = (tag: string, from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(tag, from + k)).join('')
const base = (api: { url: string }, state: string) => [
  '-p',
  PROJECT,
  '--api-url',
  api.url,
  '--state-dir',
  state,
  '--rotate-wait',
  '300ms',
  '--stats-interval',
  process.env.FOLLOW_TEST_STATS ?? '0',
]

describe.concurrent('follow', () => {
  it('rename + create rotations under load (2,000 lines/s, 6 rotations, one gzipped): every line exactly once', { timeout: 60_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        const state = join(dir, 'state')
        const f = startFollow([...base(api, state), log])
        await f.said(/does not exist \(yet\); waiting/)
        const N = 8000
        const w = runWriter({
          path: log,
          count: N,
          rate: 2500,
          tag: 'a',
          reopenTicks: 3,
          rotate: { 900: 'rename', 2100: 'rename-gzip', 3300: 'rename', 4500: 'rename', 5700: 'rename', 6900: 'rename' },
        })
        const { ms } = await w.done
        const secs = ms / 1000
        await until(() => api.accepted().length >= N, `all ${N} lines accepted`).catch((err: Error) => {
          throw new Error(`${err.message} (got ${api.accepted().length}); follow said:\n${f.stderr()}`)
        })
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        const r = exactlyOnce(pathsOf(api), expected('a', 0, N))
        expect(r).toEqual({ missing: [], duplicated: [], unexpected: [] })
        expect(N / secs).toBeGreaterThan(2000) // the writer really wrote that fast
        expect(await uncertainPaths(state)).toEqual([])
      })
    } finally {
      await api.close()
    }
  })

  it('SIGKILL, rotation while down (once gzipped), restart: no duplicates, missing lines only among the reported uncertain', { timeout: 60_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 3, latencyJitterMs: 4 } })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        const state = join(dir, 'state')
        const args = [...base(api, state), '--concurrency', '8', log]
        const PER = 2000
        let kills = 0
        let said = ''
        for (let phase = 0; phase < 3; phase++) {
          const f = startFollow(args)
          void f.exited.then(() => (said += `--- phase ${phase}\n${f.stderr()}`))
          if (phase === 0) await f.said(/waiting for it/)
          const before = api.accepted().length
          const w = runWriter({ path: log, from: phase * PER, count: PER, rate: 2000, tag: 'k' })
          if (phase < 2) {
            await until(() => api.accepted().length >= before + 300, 'some lines of this phase sent')
            f.child.kill('SIGKILL')
            kills++
            await f.exited
            await w.done
            // Rotation while down: access.log -> .1 (the older .1 becomes .2.gz), a new empty file.
            if (phase === 1) {
              await writeFile(`${log}.2.gz`, gzipSync(await readFile(`${log}.1`)))
              await unlink(`${log}.1`)
            }
            await rename(log, `${log}.1`)
            await writeFile(log, '')
          } else {
            await w.done
            const uncertain = await uncertainPaths(state)
            void uncertain
            await until(
              async () => new Set([...pathsOf(api), ...(await uncertainPaths(state))]).size >= 3 * PER,
              'every line sent or reported uncertain',
            ).catch((err: Error) => {
              throw new Error(
                `${err.message}; follow said:\n${said}\n${f.stderr()}\nuncertain: ${uncertain.join(' ')}\nmissing: ${exactlyOnce(
                  pathsOf(api),
                  expected('k', 0, 3 * PER),
                )
                  .missing.slice(0, 10)
                  .join(' ')}`,
              )
            })
            f.child.kill('SIGTERM')
            expect((await f.exited).code, f.stderr()).toBe(0)
          }
        }
        const got = pathsOf(api)
        const uncertain = await uncertainPaths(state)
        const r = exactlyOnce(got, expected('k', 0, 3 * PER))
        expect(r.duplicated).toEqual([])
        expect(r.unexpected).toEqual([])
        expect(r.missing.filter((p) => !uncertain.includes(p))).toEqual([])
        expect(uncertain.length).toBeLessThanOrEqual(kills * 8)
      })
    } finally {
      await api.close()
    }
  })

  it(
    'runs as the systemd unit says (its ExecStart line); SIGTERM + restart while a writer appends: nothing lost, repeated or uncertain',
    { timeout: 60_000 },
    async () => {
      const unit = await readFile(join(repoRoot, 'contrib/swetrix-ingest.service'), 'utf8')
      expect(unit).toMatch(/^Restart=on-failure$/m)
      expect(unit).toMatch(/^StateDirectory=swetrix-ingest$/m)
      expect(unit).toMatch(/^SupplementaryGroups=adm$/m)
      const exec = /^ExecStart=(.+)$/m.exec(unit)![1]!.trim().split(/\s+/)
      expect(exec[0]).toBe('/usr/bin/swetrix-ingest')
      const api = await startTestApi({ projects: [PROJECT] })
      try {
        await withTempDir(async (dir) => {
          const log = join(dir, 'access.log')
          const state = join(dir, 'state')
          // The unit's command with the machine's paths swapped for the test's.
          const argv = exec.slice(1).map((a) => a.replace('${STATE_DIRECTORY}', state).replace('/var/log/nginx/access.log', log))
          const env = { ...process.env, NO_COLOR: '1', SWETRIX_PROJECT_ID: PROJECT, SWETRIX_API_URL: api.url, STATE_DIRECTORY: state }
          const launch = () =>
            startFollow([], {}, () => spawn(process.execPath, [join(repoRoot, 'bin/swetrix-ingest.js'), ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] }))
          let f = launch()
          await f.said(/waiting for it/)
          const N = 4000
          const w = runWriter({ path: log, count: N, rate: 1000, tag: 's' })
          for (let restart = 0; restart < 2; restart++) {
            await until(() => api.accepted().length >= (restart + 1) * 1000, 'progress before systemctl restart')
            f.child.kill('SIGTERM')
            expect((await f.exited).code, f.stderr()).toBe(0)
            f = launch()
          }
          await w.done
          await until(() => api.accepted().length >= N, 'all lines accepted')
          f.child.kill('SIGTERM')
          expect((await f.exited).code, f.stderr()).toBe(0)
          expect(exactlyOnce(pathsOf(api), expected('s', 0, N))).toEqual({ missing: [], duplicated: [], unexpected: [] })
          expect(await uncertainPaths(state)).toEqual([])
        })
      } finally {
        await api.close()
      }
    },
  )

  it(
    'a generation written and rotated away while follow was down, after the checkpointed one was deleted, is read from its start; older history is not',
    { timeout: 60_000 },
    async () => {
      const api = await startTestApi({ projects: [PROJECT] })
      try {
        await withTempDir(async (dir) => {
          const log = join(dir, 'access.log')
          const state = join(dir, 'state')
          const args = [...base(api, state), '--poll-interval', '100ms', log]
          await writeFile(`${log}.2`, lines('h', 0, 5)) // rotated before follow ever ran: history
          let f = startFollow(args)
          await f.said(/waiting for it/) // a file that appears later is read from its start
          await writeFile(log, lines('a', 0, 10))
          await until(() => api.accepted().length >= 10, 'the first generation sent')
          f.child.kill('SIGTERM')
          expect((await f.exited).code, f.stderr()).toBe(0)
          // While it is down: the checkpointed generation is deleted, a new one is written and rotated.
          await unlink(log)
          await writeFile(log, lines('b', 0, 20))
          await rename(log, `${log}.1`)
          await writeFile(log, '')
          f = startFollow(args)
          await until(() => api.accepted().length >= 30, 'the generation written while down sent')
          await appendFile(log, lines('c', 0, 5))
          await until(() => api.accepted().length >= 35, 'the new live file sent')
          f.child.kill('SIGTERM')
          expect((await f.exited).code, f.stderr()).toBe(0)
          const want = [...expected('a', 0, 10), ...expected('b', 0, 20), ...expected('c', 0, 5)]
          expect(exactlyOnce(pathsOf(api), want)).toEqual({ missing: [], duplicated: [], unexpected: [] })
        })
      } finally {
        await api.close()
      }
    },
  )

  it('copytruncate at a quiet moment, delete + re-create, shrink to 0 and regrow: no loss, no duplicates', { timeout: 60_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        const state = join(dir, 'state')
        await writeFile(log, lines('c', 0, 200))
        const f = startFollow([...base(api, state), '--from-beginning', log])
        const accepted = (n: number) => until(() => api.accepted().length >= n, `${n} accepted`)
        await accepted(200)
        // copytruncate: copy, then truncate in place; then the writer goes on in the same file.
        await copyFile(log, `${log}.1`)
        await truncate(log, 0)
        await appendFile(log, lines('c', 200, 400))
        await accepted(400)
        // delete and create again
        await unlink(log)
        await writeFile(log, lines('c', 400, 500))
        await accepted(500)
        // shrink to 0, regrow
        await truncate(log, 0)
        await appendFile(log, lines('c', 500, 650))
        await accepted(650)
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        expect(exactlyOnce(pathsOf(api), expected('c', 0, 650))).toEqual({ missing: [], duplicated: [], unexpected: [] })
        expect(f.stderr()).toMatch(/copytruncate/)
      })
    } finally {
      await api.close()
    }
  })

  it('copytruncate under writes: lines are lost only between the copy and the truncation', { timeout: 60_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        const state = join(dir, 'state')
        const f = startFollow([...base(api, state), log])
        await f.said(/waiting for it/)
        // The writer copies at line 1500 and truncates right after: no line falls in between, so
        // with the copy finished from the checkpoint nothing is lost here either.
        const N = 3000
        await runWriter({ path: log, count: N, rate: 2000, tag: 't', rotate: { 1500: 'copytruncate' } }).done
        await until(() => api.accepted().length >= N, 'all accepted')
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        const r = exactlyOnce(pathsOf(api), expected('t', 0, N))
        expect(r.duplicated.length, f.stderr()).toBe(0)
        expect(r.missing).toEqual([])
      })
    } finally {
      await api.close()
    }
  })

  it('several files and a glob at once; a file that appears later is read from its start; metrics and health', { timeout: 60_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const state = join(dir, 'state')
        await writeFile(join(dir, 'a.access.log'), lines('a', 0, 50))
        await writeFile(join(dir, 'b.access.log'), lines('b', 0, 50))
        await writeFile(join(dir, 'other.log'), lines('o', 0, 10))
        const f = startFollow([...base(api, state), '--metrics-addr', '127.0.0.1:0', join(dir, '*.access.log')])
        await f.said(/metrics on (http:\/\/\S+)\/metrics/)
        const url = /metrics on (http:\/\/\S+)\/metrics/.exec(f.stderr())![1]!
        await f.said(/a\.access\.log: first run, starting at its end/)
        await f.said(/b\.access\.log: first run, starting at its end/)
        await appendFile(join(dir, 'a.access.log'), lines('a', 50, 150))
        await appendFile(join(dir, 'b.access.log'), lines('b', 50, 150))
        await writeFile(join(dir, 'c.access.log'), lines('c', 0, 100))
        await f.said(/c\.access\.log: new file matching the patterns/)
        await until(() => api.accepted().length >= 300, 'a, b and c accepted')
        let metrics = ''
        // Bytes behind fall to 0 once the acknowledged positions are checkpointed (within ~1 s).
        await until(
          async () => /swetrix_ingest_bytes_behind\{path="[^"]*a\.access\.log"\} 0\n/.test((metrics = await (await fetch(`${url}/metrics`)).text())),
          'a.access.log 0 bytes behind',
        )
        expect(metrics).toMatch(/swetrix_ingest_events_total\{kind="pageview"\} 300/)
        expect(metrics).toMatch(/swetrix_ingest_last_send_timestamp_seconds [1-9]/)
        const health = (await (await fetch(`${url}/health`)).json()) as { status: string; lastSendAt: string | null }
        expect(health.status).toBe('ok')
        expect(health.lastSendAt).not.toBeNull()
        f.child.kill('SIGINT')
        expect((await f.exited).code, f.stderr()).toBe(0)
        const want = [...expected('a', 50, 150), ...expected('b', 50, 150), ...expected('c', 0, 100)]
        expect(exactlyOnce(pathsOf(api), want)).toEqual({ missing: [], duplicated: [], unexpected: [] })
        // No visitor data in the tool's own lines without --verbose.
        expect(f.stderr()).not.toMatch(/203\.0\.113\.|Firefox/)
      })
    } finally {
      await api.close()
    }
  })

  it('a 30 s API outage: reading pauses, memory stays flat, every line is delivered once after it', { timeout: 90_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        const state = join(dir, 'state')
        const f = startFollow([...base(api, state), '--metrics-addr', '127.0.0.1:0', log])
        await f.said(/waiting for it/)
        const url = /metrics on (http:\/\/\S+)\/metrics/.exec(f.stderr())![1]!
        const N = 12_000
        const w = runWriter({ path: log, count: N, rate: 400, tag: 'o' })
        await until(() => api.accepted().length >= 200, 'first lines accepted')
        const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${f.child.pid}/status`, 'utf8'))![1]) / 1024
        api.startOutage(30)
        const atStart = await rss()
        let peak = atStart
        let behind = 0
        const sampling = (async () => {
          while (api.stats().outage.active) {
            peak = Math.max(peak, await rss())
            const m = /swetrix_ingest_bytes_behind\{[^}]*\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())
            behind = Math.max(behind, Number(m?.[1] ?? 0))
            await new Promise((r) => setTimeout(r, 250))
          }
        })()
        await api.whenUp()
        await sampling
        await w.done
        await until(() => api.accepted().length >= N, `all ${N} accepted after the outage`, 45_000)
        f.child.kill('SIGTERM')
        expect((await f.exited).code, f.stderr()).toBe(0)
        expect(exactlyOnce(pathsOf(api), expected('o', 0, N))).toEqual({ missing: [], duplicated: [], unexpected: [] })
        // ~12,000 lines (2.3 MB) were written during the outage; they wait in the file, not in memory.
        expect(behind).toBeGreaterThan(1_000_000)
        expect(peak - atStart, `RSS ${atStart.toFixed(0)} -> ${peak.toFixed(0)} MB`).toBeLessThan(40)
      })
    } finally {
      await api.close()
    }
  })

  it('follow - reads stdin (no checkpoint) and ends with it', { timeout: 30_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const f = startFollow(['-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '-'])
        f.child.stdin!.end(lines('i', 0, 120))
        expect((await f.exited).code, f.stderr()).toBe(0)
        expect(exactlyOnce(pathsOf(api), expected('i', 0, 120))).toEqual({ missing: [], duplicated: [], unexpected: [] })
      })
    } finally {
      await api.close()
    }
  })
})
