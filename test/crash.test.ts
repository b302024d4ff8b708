// Crash safety: the built CLI is SIGKILLed at random moments while it sends, and restarted until
// it finishes. The API must hold no event twice, and every event it lacks must have been reported
// uncertain (written to <state-dir>/uncertain.ndjson), never lost silently.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CheckpointStore } from '../src/checkpoint/store.js'
import { startTestApi } from '../src/testapi/server.js'
import { collect, spawnCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'CRASHPROJ001'
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
const LINES = 6000
const MIN_KILLS = 20

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

describe('crash safety', () => {
  it(`survives ${MIN_KILLS}+ SIGKILLs: no event twice, every missing event reported uncertain`, { timeout: 180_000 }, async () => {
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000)
    const random = rng(seed)
    // A little latency keeps requests in flight when the kill lands.
    const api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 2, latencyJitterMs: 3 } })
    try {
      await withTempDir(async (dir) => {
        const log = join(dir, 'access.log')
        let text = ''
        for (let i = 0; i < LINES; i++) {
          // Some lines are skipped (static, bots) so acks also move over lines that send nothing.
          const path = i % 7 === 3 ? `/static/${i}.css` : `/page/${i}`
          const ua = i % 11 === 5 ? 'Googlebot/2.1 (+http://www.google.com/bot.html)' : UA
          text += `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET ${path} HTTP/1.1" 200 99 "-" "${ua}"\n`
        }
        await writeFile(log, text)
        const args = ['run', '--from-beginning', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '--concurrency', '8', log]
        let kills = 0
        let finished = false
        for (let attempt = 0; attempt < 200 && !finished; attempt++) {
          const child = spawnCli(args)
          const done = collect(child)
          if (kills < MIN_KILLS) {
            // Kill once the API has seen a random number of further requests from this process.
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
        expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(MIN_KILLS)

        const received = api.accepted().map((e) => String(e.body.pg))
        const counts = new Map<string, number>()
        for (const p of received) counts.set(p, (counts.get(p) ?? 0) + 1)
        expect(
          [...counts].filter(([, n]) => n > 1),
          `duplicates (seed ${seed})`,
        ).toEqual([])

        const expected = new Set<string>()
        for (let i = 0; i < LINES; i++) if (i % 7 !== 3 && i % 11 !== 5) expected.add(`/page/${i}`)
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
        const missing = [...expected].filter((p) => !counts.has(p))
        const unreported = missing.filter((p) => !uncertain.includes(p))
        expect(unreported, `missing but not reported uncertain (seed ${seed})`).toEqual([])
        expect([...counts.keys()].filter((p) => !expected.has(p))).toEqual([])
        console.log(
          `crash test (seed ${seed}): ${kills} SIGKILLs, ${received.length} events received once each, ${missing.length} missing, ${uncertain.length} reported uncertain`,
        )
        // Each kill leaves at most --concurrency events uncertain.
        expect(uncertain.length).toBeLessThanOrEqual(kills * 8)
      })
    } finally {
      await api.close()
    }
  })

  it(
    'a kill leaves only the sends in flight uncertain; after a power loss (another boot) the lease bounds it to ~1,024 lines',
    { timeout: 60_000 },
    async () => {
      // Requests hang, so the 8 in flight are the only ones that may have reached the API.
      const api = await startTestApi({ projects: [PROJECT], faults: { latencyMs: 50_000 } })
      try {
        await withTempDir(async (dir) => {
          const log = join(dir, 'access.log')
          const lines: string[] = []
          for (let i = 0; i < 5000; i++)
            lines.push(`203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /page/${i} HTTP/1.1" 200 99 "-" "${UA}"\n`)
          await writeFile(log, lines.join(''))
          const ends: number[] = []
          for (const l of lines) ends.push((ends.at(-1) ?? 0) + Buffer.byteLength(l))
          const lineAt = (offset: number) => ends.findIndex((end) => end > offset)
          const state = join(dir, 'state')
          const child = spawnCli(['run', '--from-beginning', '-p', PROJECT, '--api-url', api.url, '--state-dir', state, '--concurrency', '8', log])
          const done = collect(child)
          const deadline = Date.now() + 20_000
          while (api.stats().requests < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
          expect(api.stats().requests).toBe(8)
          child.kill('SIGKILL')
          await done
          const killed = (await CheckpointStore.open(state)).all()[0]!
          expect(killed.acked).toBe(0)
          // The same boot: exactly the reservation (the 8 sent, at most 8 more held in it).
          expect(lineAt(killed.dispatched - 1)).toBeGreaterThanOrEqual(7)
          expect(lineAt(killed.dispatched - 1)).toBeLessThan(16)
          const afterPowerLoss = (await CheckpointStore.open(state, { bootId: '00000000-0000-4000-8000-000000000000' })).all()[0]!
          expect(afterPowerLoss.dispatched).toBeGreaterThan(killed.dispatched)
          expect(lineAt(afterPowerLoss.dispatched - 1)).toBeLessThanOrEqual(1024 + 16)
        })
      } finally {
        await api.close()
      }
    },
  )
})
