// `run` end to end: the built CLI as a child process, a real state dir, and the Swetrix-compatible
// test API on loopback. These are the guarantees a user relies on: exactly once across restarts,
// rotations, faults and outages; cron overlap refused; permanent errors dead-lettered.
import { appendFile, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { collect, runCli, spawnCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'

/** Lines whose paths are all distinct, so "no path twice" means "no event twice". */
function pageLines(from: number, count: number, prefix = 'p'): string {
  let out = ''
  for (let i = from; i < from + count; i++) {
    const ip = `198.51.100.${(i % 250) + 1}`
    out += `${ip} - - [01/Nov/2026:10:00:${String(i % 60).padStart(2, '0')} +0000] "GET /${prefix}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  }
  return out
}

function pathsOf(api: TestApi): string[] {
  return api.accepted().map((e) => String(e.body.pg))
}

function expectEachOnce(paths: string[], expected: string[]) {
  const counts = new Map<string, number>()
  for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1)
  const dupes = [...counts].filter(([, n]) => n > 1)
  expect(dupes, 'paths received more than once').toEqual([])
  expect(new Set(paths)).toEqual(new Set(expected))
}

const expectedPaths = (from: number, count: number, prefix = 'p') => Array.from({ length: count }, (_, i) => `/${prefix}/${from + i}`)

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ projects: [PROJECT] })
})
afterEach(async () => {
  await api.close()
})

function args(dir: string, log: string, extra: string[] = []) {
  return ['run', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), ...extra, log]
}

describe('run', () => {
  it('sends every event once; the next run sends only what is new', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 300))
      const first = await runCli(args(dir, log, ['--from-beginning', '--json']))
      expect(first.code, first.stderr).toBe(0)
      const summary = JSON.parse(first.stdout)
      expect(summary.totals.delivery).toMatchObject({ sent: 300, accepted: 300, deadLettered: 0, uncertain: 0 })
      expectEachOnce(pathsOf(api), expectedPaths(0, 300))

      const again = await runCli(args(dir, log))
      expect(again.code).toBe(0)
      expect(api.accepted()).toHaveLength(300)

      await appendFile(log, pageLines(300, 50))
      const third = await runCli(args(dir, log))
      expect(third.code).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 350))
      const st = await stat(join(dir, 'state', 'state.json'))
      expect(st.mode & 0o777).toBe(0o600)
    })
  })

  it('starts a file seen for the first time at its end, and says so', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 100))
      const first = await runCli(args(dir, log))
      expect(first.code).toBe(0)
      expect(first.stderr).toMatch(/first run.*passing over/)
      expect(api.accepted()).toHaveLength(0)
      await appendFile(log, pageLines(100, 10))
      expect((await runCli(args(dir, log))).code).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(100, 10))
    })
  })

  it('does not lose or repeat lines across a rotation between runs (rename, new file, gzip)', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 100))
      expect((await runCli(args(dir, log, ['--from-beginning']))).code).toBe(0)
      await appendFile(log, pageLines(100, 40)) // written after the run, before the rotation
      await rename(log, `${log}.1`)
      await writeFile(`${log}.1.gz`, gzipSync(await readFile(`${log}.1`)))
      await rename(`${log}.1.gz`, `${log}.2.gz`)
      await writeFile(`${log}.1`, '') // logrotate's next generation is gone: only the .gz holds the old lines
      await writeFile(log, pageLines(140, 30))
      await appendFile(log, pageLines(170, 30))
      const second = await runCli(args(dir, log))
      expect(second.code, second.stderr).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 200))
    })
  })

  it('refuses a second process on the same state dir with exit 75 (cron overlap)', async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 100 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 200))
      const a = spawnCli(args(dir, log, ['--from-beginning', '--concurrency', '2']))
      const aDone = collect(a)
      // Wait until the first process is demonstrably sending (it holds the lock by then).
      while (api.stats().requests === 0) await new Promise((r) => setImmediate(r))
      const b = await runCli(args(dir, log))
      expect(b.code).toBe(75)
      expect(b.stderr.trim().split('\n')).toHaveLength(1)
      a.kill('SIGTERM')
      expect((await aDone).code).toBe(0)
    })
  })

  it('stops early with a clear message when the project is unknown', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 500))
      const r = await runCli(['run', '-p', 'UNKNOWNPROJ1', '--api-url', api.url, '--state-dir', join(dir, 'state'), '--from-beginning', log])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/UNKNOWNPROJ1/)
      expect(api.stats().requests).toBeLessThanOrEqual(32)
      await expect(stat(join(dir, 'state', 'dead-letter.ndjson'))).rejects.toThrow()
    })
  })

  it('SIGTERM stops cleanly: exit 0, nothing uncertain, the next run finishes without duplicates', async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 5 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 3000))
      const child = spawnCli(args(dir, log, ['--from-beginning', '--json']))
      const done = collect(child)
      while (api.stats().requests < 200) await new Promise((r) => setImmediate(r))
      child.kill('SIGTERM')
      const r = await done
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).totals.delivery.uncertain).toBe(0)
      expect(api.accepted().length).toBeLessThan(3000)
      const rest = await runCli(args(dir, log, ['--json']))
      expect(rest.code).toBe(0)
      expect(JSON.parse(rest.stdout).totals.delivery.uncertain).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 3000))
    })
  })
})

describe('backfill --via api', () => {
  it('sends rotated and gzipped generations oldest first, resumes after an interruption without duplicates, and a later run continues on the live file', async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 3 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(`${log}.2.gz`, gzipSync(pageLines(0, 400)))
      await writeFile(`${log}.1`, pageLines(400, 400))
      await writeFile(log, pageLines(800, 400))
      const backfill = ['backfill', '--via', 'api', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '--json', `${log}*`]
      const first = spawnCli(backfill)
      const firstDone = collect(first)
      while (api.stats().accepted < 300) await new Promise((r) => setImmediate(r))
      first.kill('SIGTERM')
      const r1 = await firstDone
      expect(r1.code, r1.stderr).toBe(0)
      expect(r1.stderr).toContain('stamps every event with the time it arrives')
      expect(api.accepted().length).toBeLessThan(1200)
      const r2 = await runCli(backfill)
      expect(r2.code, r2.stderr).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 1200))
      // oldest first: the .2.gz lines arrived before the .1 lines, and those before the live file's
      const order = pathsOf(api).map((p) => Number(p.split('/')[2]))
      expect(order.indexOf(0)).toBeLessThan(order.indexOf(400))
      expect(order.indexOf(400)).toBeLessThan(order.indexOf(800))
      await appendFile(log, pageLines(1200, 25))
      const run = await runCli(args(dir, log))
      expect(run.code, run.stderr).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 1225))
    })
  })
})

describe('run stopped twice', () => {
  it('a second SIGTERM stops at once (exit 130); the next run sends nothing twice and reports what was in flight', async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 300 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 200))
      const child = spawnCli(args(dir, log, ['--from-beginning']))
      const done = collect(child)
      while (api.stats().requests === 0) await new Promise((r) => setImmediate(r))
      const stopping = new Promise<void>((resolve) =>
        child.stderr!.on('data', (d: Buffer) => {
          if (String(d).includes('stopping')) resolve()
        }),
      )
      child.kill('SIGTERM')
      await stopping
      child.kill('SIGTERM')
      const r = await done
      expect(r.code).toBe(130)
      api.setFaults({})
      const rest = await runCli(args(dir, log, ['--json']))
      expect(rest.code, rest.stderr).toBe(0)
      const uncertain = JSON.parse(rest.stdout).totals.delivery.uncertain
      const paths = pathsOf(api)
      expect(paths.length).toBe(new Set(paths).size)
      expect(paths.length + uncertain).toBeGreaterThanOrEqual(200)
      expect(uncertain).toBeLessThanOrEqual(16)
    })
  })
})

describe('run against a failing API', () => {
  it('delivers every event exactly once through 20% transient faults (5xx, resets, 429)', async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], seed: 7, faults: { errorRate: 0.1, resetRate: 0.05, rateLimitRate: 0.05, retryAfterSeconds: 1 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 400))
      const r = await runCli(args(dir, log, ['--from-beginning', '--json']))
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).totals.delivery.retries).toBeGreaterThan(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 400))
    })
  })

  it('delivers everything exactly once through 20% faults and a 30 s outage', { timeout: 180_000 }, async () => {
    await api.close()
    api = await startTestApi({ projects: [PROJECT], seed: 11, faults: { errorRate: 0.1, resetRate: 0.05, rateLimitRate: 0.05, retryAfterSeconds: 1 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 1000))
      const child = spawnCli(args(dir, log, ['--from-beginning', '--json']))
      const done = collect(child)
      while (api.stats().accepted < 100) await new Promise((r) => setImmediate(r))
      api.startOutage(30) // connections refused for 30 s, then the same port again
      const r = await done
      expect(r.code, r.stderr).toBe(0)
      expect(api.stats().faults.outages).toBeGreaterThan(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 1000))
    })
  })

  it('exits 1 when the API stays down past --max-retry-time, and the next run continues there', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, pageLines(0, 100))
      api.setFaults({ errorRate: 1 })
      const r = await runCli(args(dir, log, ['--from-beginning', '--max-retry-time', '2s']))
      expect(r.code).toBe(1)
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(/still failing/)
      api.setFaults({})
      const again = await runCli(args(dir, log))
      expect(again.code, again.stderr).toBe(0)
      expectEachOnce(pathsOf(api), expectedPaths(0, 100))
    })
  })

  it('writes permanently rejected events to the dead-letter file and goes on', async () => {
    // A minimal API that refuses one visitor address permanently (as an IP blacklist does).
    const server = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        res.setHeader('content-type', 'application/json')
        if (req.headers['x-client-ip-address'] === '198.51.100.3') {
          res.statusCode = 400
          res.end(JSON.stringify({ statusCode: 400, message: 'Incoming analytics is disabled for this IP address', error: 'Bad Request' }))
        } else {
          res.statusCode = 201
          res.end('{}')
        }
      })
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        await writeFile(log, pageLines(0, 250))
        const r = await runCli(['run', '-p', PROJECT, '--api-url', url, '--state-dir', join(dir, 'state'), '--from-beginning', '--json', log])
        expect(r.code, r.stderr).toBe(0)
        const dead = (await readFile(join(dir, 'state', 'dead-letter.ndjson'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
        expect(dead.length).toBe(JSON.parse(r.stdout).totals.delivery.deadLettered)
        const fromBlocked = Array.from({ length: 250 }, (_, i) => (i % 250) + 1).filter((n) => n === 3).length
        expect(dead.length).toBe(fromBlocked)
        expect(api.accepted()).toHaveLength(0) // the other API was not involved
        expect(dead[0]).toMatchObject({ status: 400, endpoint: '/log', file: log })
        expect((await stat(join(dir, 'state', 'dead-letter.ndjson'))).mode & 0o777).toBe(0o600)
      })
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})
