// Many sites on one server, end to end: the built CLI as a child process, a real state dir and the
// test API (which records each event's pid). One pass over each file, one checkpoint, every line
// to exactly one project (or skipped as no-site), per-project counts adding up to the files'.
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { collect, runCli, spawnCli, withTempDir } from './helpers/cli.js'

const A = 'SITEAAAAAAAA'
const B = 'SITEBBBBBBBB'
const D = 'SITEDEFAULT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
/** Host of line i, and the project it must reach with `--site a.example.com=A --site b.example.org=B -p D`. */
const HOSTS = ['a.example.com', 'WWW.B.Example.org', 'c.example.net'] as const

/** vhost_combined lines with distinct paths (`/<prefix>/<i>`), hosts in turn; every 10th a static asset. */
function vhostLines(from: number, count: number, prefix = 'v'): string {
  let out = ''
  for (let i = from; i < from + count; i++) {
    const path = i % 10 === 9 ? `/${prefix}/${i}.css` : `/${prefix}/${i}`
    out += `${HOSTS[i % 3]}:443 198.51.100.${(i % 250) + 1} - - [01/Nov/2026:10:00:${String(i % 60).padStart(2, '0')} +0000] "GET ${path} HTTP/1.1" 200 512 "-" "${UA}"\n`
  }
  return out
}

/** Combined lines (no host), distinct paths. */
function plainLines(prefix: string, count: number): string {
  let out = ''
  for (let i = 0; i < count; i++) out += `203.0.113.${(i % 250) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /${prefix}/${i} HTTP/1.1" 200 99 "-" "${UA}"\n`
  return out
}

const hostIndex = (pg: string) => Number(/\/(\d+)/.exec(pg)![1]) % 3

function received(api: TestApi): { pg: string; pid: string }[] {
  return api.accepted().map((e) => ({ pg: String(e.body.pg), pid: String(e.body.pid) }))
}

function expectOnce(got: { pg: string }[]) {
  const counts = new Map<string, number>()
  for (const g of got) counts.set(g.pg, (counts.get(g.pg) ?? 0) + 1)
  expect(
    [...counts].filter(([, n]) => n > 1),
    'events received more than once',
  ).toEqual([])
}

type Summary = {
  files: { events: Record<string, number>; skipped: Record<string, number> }[]
  totals: { events: Record<string, number>; skipped: Record<string, number>; delivery: Record<string, number> }
  projects: Record<string, { events: Record<string, number>; skipped: Record<string, number>; delivery: Record<string, number> }>
}

/** The projects' counts add up to the files' (no-site lines belong to no project). */
function expectProjectsAddUp(s: Summary) {
  const sum = (pick: (p: Summary['projects'][string]) => Record<string, number>) => {
    const out: Record<string, number> = {}
    for (const p of Object.values(s.projects)) for (const [k, v] of Object.entries(pick(p))) out[k] = (out[k] ?? 0) + v
    return out
  }
  expect(sum((p) => p.events)).toEqual(s.totals.events)
  const skipped = Object.fromEntries(Object.entries(s.totals.skipped).filter(([k, v]) => k !== 'no-site' && v > 0))
  expect(Object.fromEntries(Object.entries(sum((p) => p.skipped)).filter(([, v]) => v > 0))).toEqual(skipped)
  expect(sum((p) => p.delivery)).toEqual(s.totals.delivery)
}

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ projects: [A, B, D] })
})
afterEach(async () => {
  await api.close()
})

const base = (dir: string) => ['--api-url', api.url, '--state-dir', join(dir, 'state')]
const SITES = ['--site', `a.example.com=${A}`, '--site', `b.example.org=${B}`]

describe('run --site HOST=PROJECT on a vhost log', () => {
  it('with a default project: every line in exactly one project, once; the next run sends only what is new', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 300))
      const first = await runCli(['run', '--from-beginning', '--json', ...SITES, '-p', D, ...base(dir), log])
      expect(first.code, first.stderr).toBe(0)
      const got = received(api)
      expect(got.length).toBe(270) // 30 static assets skipped
      expectOnce(got)
      const want = [A, B, D]
      expect(got.filter((g) => g.pid !== want[hostIndex(g.pg)])).toEqual([])
      const summary = JSON.parse(first.stdout) as Summary
      expect(Object.keys(summary.projects).sort()).toEqual([A, B, D].sort())
      for (const pid of want) expect(summary.projects[pid]!.events.pageview).toBe(90)
      expect(summary.projects[A]!.skipped).toEqual({ static: 10 })
      expectProjectsAddUp(summary)

      await writeFile(log, vhostLines(0, 330))
      const second = await runCli(['run', '--json', ...SITES, '-p', D, ...base(dir), log])
      expect(second.code, second.stderr).toBe(0)
      expectOnce(received(api))
      expect(received(api).length).toBe(297)
    })
  })

  it('without a default project: the unmapped host is not sent and counted as no-site', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 300))
      const r = await runCli(['run', '--from-beginning', '--json', ...SITES, ...base(dir), log])
      expect(r.code, r.stderr).toBe(0)
      const got = received(api)
      expect(got.length).toBe(180)
      expect(got.filter((g) => g.pid !== [A, B][hostIndex(g.pg)])).toEqual([])
      const summary = JSON.parse(r.stdout) as Summary
      expect(summary.totals.skipped['no-site']).toBe(100)
      expect(summary.files[0]!.skipped['no-site']).toBe(100)
      expect(Object.keys(summary.projects).sort()).toEqual([A, B])
      expectProjectsAddUp(summary)
      // check previews the same split, without delivery.
      const check = JSON.parse((await runCli(['check', '--json', ...SITES, log])).stdout)
      expect(check.projects).toEqual({
        [A]: { events: summary.projects[A]!.events, skipped: summary.projects[A]!.skipped },
        [B]: { events: summary.projects[B]!.events, skipped: summary.projects[B]!.skipped },
      })
      const human = await runCli(['check', ...SITES, log])
      expect(human.stdout).toMatch(/no-site 100/)
      expect(human.stdout).toContain(`project ${B}  (--site b.example.org=${B})\n  events    pageview 90, error 0, custom 0\n  skipped   static 10`)
    })
  })

  it("check --events shows each event's pid; -p alone still works as before", async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 9))
      const r = await runCli(['check', '--events', ...SITES, log])
      expect(r.code, r.stderr).toBe(0)
      const pids = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).body.pid)
      expect(pids).toEqual([A, B, A, B, A, B]) // line 8 (c.example.net) is no-site, line 9 a static asset
      const single = await runCli(['check', '--events', '-p', D, log])
      expect(
        new Set(
          single.stdout
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l).body.pid),
        ),
      ).toEqual(new Set([D]))
    })
  })

  it('an unknown project stops at once with one line naming the project and its --site entry; nothing dead-lettered', async () => {
    await api.close()
    api = await startTestApi({ projects: [A, D] })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 600))
      const r = await runCli(['run', '--from-beginning', ...SITES, '-p', D, ...base(dir), log])
      expect(r.code).toBe(2)
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.includes('stopping'))
      expect(lines.at(-1)).toMatch(new RegExp(`refused project ${B}.*mapped by --site b\\.example\\.org=${B}`))
      expect(received(api).length).toBeLessThan(100)
      await expect(stat(join(dir, 'state', 'dead-letter.ndjson'))).rejects.toThrow()
    })
  })

  it('a disabled project from the config stops with one line naming its sites[] entry', async () => {
    await api.close()
    api = await startTestApi({ projects: [A, B, D], disabledProjects: [B] })
    await withTempDir(async (dir) => {
      const config = join(dir, 'sites.json')
      await writeFile(config, JSON.stringify({ sites: [{ project: B, hosts: ['*.example.org'] }] }))
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 300))
      const r = await runCli(['run', '--from-beginning', '--config', config, '--site', `a.example.com=${A}`, '-p', D, ...base(dir), log])
      expect(r.code).toBe(2)
      expect(r.stderr.trim().split('\n').at(-1)).toMatch(
        new RegExp(`refused project ${B}: HTTP 400.*disabled.*mapped by sites\\[0\\] \\(project ${B}\\) in ${config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
      )
      await expect(stat(join(dir, 'state', 'dead-letter.ndjson'))).rejects.toThrow()
    })
  })

  it('a usage error for a malformed --site, and -p is still required without any site', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 3))
      const bad = await runCli(['run', '--site', 'a.example.com', ...base(dir), log])
      expect(bad.code).toBe(2)
      expect(bad.stderr).toMatch(/--site a\.example\.com: expected HOST=PROJECT/)
      const none = await runCli(['run', ...base(dir), log])
      expect(none.code).toBe(2)
      expect(none.stderr).toMatch(/project id is required/)
    })
  })
})

describe('per-file sites from the config', () => {
  it('routes each file and its rotated siblings (.1, .2.gz) to its project, in one backfill and one state dir', async () => {
    await withTempDir(async (dir) => {
      const config = join(dir, 'sites.json')
      await writeFile(
        config,
        JSON.stringify({
          sites: [
            { project: A, files: ['a.access.log'] }, // relative to the config file
            { project: B, hosts: ['example.org'], files: [join(dir, 'b.*.log')] },
          ],
        }),
      )
      await writeFile(join(dir, 'a.access.log.2.gz'), gzipSync(plainLines('a2', 20)))
      await writeFile(join(dir, 'a.access.log.1'), plainLines('a1', 20))
      await writeFile(join(dir, 'a.access.log'), plainLines('a0', 20))
      await writeFile(join(dir, 'b.shop.log.1'), plainLines('b1', 15))
      await writeFile(join(dir, 'b.shop.log'), plainLines('b0', 15))
      // A file no site lists: routed by host; its combined lines have none, so the default gets them.
      await writeFile(join(dir, 'other.log'), plainLines('o', 5))
      const r = await runCli(['backfill', '--via', 'api', '--no-progress', '--json', '--config', config, '-p', D, ...base(dir), join(dir, '*.log*')])
      expect(r.code, r.stderr).toBe(0)
      const got = received(api)
      expectOnce(got)
      expect(got.length).toBe(95)
      const wrong = got.filter((g) => g.pid !== (g.pg.startsWith('/a') ? A : g.pg.startsWith('/b') ? B : D))
      expect(wrong).toEqual([])
      const summary = JSON.parse(r.stdout) as Summary
      expect(summary.projects[A]!.events.pageview).toBe(60)
      expect(summary.projects[B]!.events.pageview).toBe(30)
      expect(summary.projects[D]!.events.pageview).toBe(5)
      expectProjectsAddUp(summary)

      // `run` afterwards: the live files continue where the backfill stopped, each to its project.
      await writeFile(join(dir, 'a.access.log'), plainLines('a0', 25))
      const run = await runCli(['run', '--config', config, ...base(dir), join(dir, 'a.access.log')])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain(`project ${A}  (sites[0] (project ${A}) in ${config})\n  events    pageview 5, error 0, custom 0`)
      expectOnce(received(api))
      expect(received(api).filter((g) => g.pg.startsWith('/a0/'))).toHaveLength(25)
      expect(
        new Set(
          received(api)
            .filter((g) => g.pg.startsWith('/a0/'))
            .map((g) => g.pid),
        ),
      ).toEqual(new Set([A]))
    })
  })

  it("a file that two sites' globs claim stops before anything is sent, naming both entries", async () => {
    await withTempDir(async (dir) => {
      const config = join(dir, 'sites.json')
      await writeFile(
        config,
        JSON.stringify({
          sites: [
            { project: A, files: ['*.log'] },
            { project: B, files: ['shop.*'] },
          ],
        }),
      )
      await writeFile(join(dir, 'shop.log'), plainLines('s', 3))
      const r = await runCli(['run', '--from-beginning', '--config', config, ...base(dir), join(dir, 'shop.log')])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/shop\.log: claimed by two sites, sites\[0\] \(project SITEAAAAAAAA\).* and sites\[1\] \(project SITEBBBBBBBB\)/)
      expect(received(api)).toEqual([])
    })
  })
})

/** mulberry32, so a failing kill schedule can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('crash and resume with several projects in one file', () => {
  it('SIGKILLed and restarted: no event twice, each in its project, every missing one reported uncertain', { timeout: 120_000 }, async () => {
    const LINES = 1200
    const KILLS = 5
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000)
    const random = rng(seed)
    await api.close()
    api = await startTestApi({ projects: [A, B, D], faults: { latencyMs: 2, latencyJitterMs: 3 } })
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, LINES))
      const args = ['run', '--from-beginning', ...SITES, '-p', D, ...base(dir), '--concurrency', '8', log]
      let kills = 0
      let finished = false
      for (let attempt = 0; attempt < 100 && !finished; attempt++) {
        const child = spawnCli(args)
        const done = collect(child)
        if (kills < KILLS) {
          const target = api.stats().requests + 1 + Math.floor(random() * 120)
          let exited = false
          void done.then(() => (exited = true))
          while (!exited && api.stats().requests < target) await new Promise((r) => setImmediate(r))
          if (!exited) {
            child.kill('SIGKILL')
            kills++
          }
        }
        const r = await done
        if (r.code === 0) finished = true
        else if (r.signal !== 'SIGKILL') throw new Error(`run failed (seed ${seed}): ${r.code} ${r.stderr}`)
      }
      expect(finished, `never finished (seed ${seed})`).toBe(true)
      expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(3)
      const got = received(api)
      expectOnce(got)
      expect(
        got.filter((g) => g.pid !== [A, B, D][hostIndex(g.pg)]),
        `seed ${seed}`,
      ).toEqual([])
      let uncertain: string[] = []
      try {
        uncertain = (await readFile(join(dir, 'state', 'uncertain.ndjson'), 'utf8'))
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => String(JSON.parse(l).body.pg))
      } catch {
        uncertain = []
      }
      const have = new Set(got.map((g) => g.pg))
      const expected: string[] = []
      for (let i = 0; i < LINES; i++) if (i % 10 !== 9) expected.push(`/v/${i}`)
      const unreported = expected.filter((p) => !have.has(p) && !uncertain.includes(p))
      expect(unreported, `missing but not reported uncertain (seed ${seed})`).toEqual([])
      expect(uncertain.length).toBeLessThanOrEqual(kills * 8)
    })
  })
})
