// Sessions carried between two `backfill --via import` runs of a growing log: the second run resumes
// at the checkpoint and a visit spanning the two runs keeps one session, so the rows of the two runs
// equal the rows of one run on the whole log; also after a crash between the sessions file and the
// checkpoints. The built CLI as a child process, real files and state dirs.
import { appendFile, copyFile, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DAY_MS, SESSION_GAP_MS, Sessionizer } from '../src/import/sessions.js'
import { loadSessionSlot, saveSessionSlot, SESSION_STATE_FILE, slotOf } from '../src/import/session-state.js'
import type { CheckpointStore, FileCheckpoint } from '../src/checkpoint/store.js'
import { runCli, withTempDir } from './helpers/cli.js'

const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const T0 = Date.UTC(2026, 10, 1, 9, 0, 0)

/** 30 visitors, each a pageview every 4 minutes for two hours (visitor 0 pauses 40 minutes: two
 *  sessions), in time order, as CLF lines. */
function logLines(): string[] {
  const rows: { t: number; line: string }[] = []
  for (let v = 0; v < 30; v++)
    for (let k = 0; k < 30; k++) {
      if (v === 0 && k >= 10 && k < 20) continue
      const t = T0 + v * 7_000 + k * 240_000
      const d = new Date(t)
      const time = `01/Nov/2026:${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} +0000`
      rows.push({ t, line: `192.0.2.${v + 1} - - [${time}] "GET /v${v}/${k} HTTP/1.1" 200 512 "-" "${UA}"\n` })
    }
  return rows.sort((a, b) => a.t - b.t).map((r) => r.line)
}

/** Every data row of a directory's files, sorted, and the files' contents by name. */
async function rowsIn(dir: string): Promise<{ rows: string[]; texts: string[] }> {
  const texts: string[] = []
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.csv')).sort()) texts.push(await readFile(join(dir, f), 'utf8'))
  return { rows: texts.flatMap((t) => t.trimEnd().split('\n').slice(1)).sort(), texts }
}

const sessionIds = (rows: string[]) => new Set(rows.map((r) => r.split(',').at(-1)))

async function backfill(log: string, out: string, state: string): Promise<void> {
  const r = await runCli(['backfill', '--no-progress', '--no-geoip', '--out', out, '--state-dir', state, log])
  expect(r.code, r.stderr).toBe(0)
}

describe('backfill --via import twice on a growing log', () => {
  it('keeps a session spanning the two runs: the rows equal one run on the whole log', async () => {
    await withTempDir(async (dir) => {
      const lines = logLines()
      const half = lines.slice(0, 450).join('')
      const log = join(dir, 'access.log')
      await writeFile(log, half)
      const state = join(dir, 'state')
      await backfill(log, join(dir, 'out1'), state)
      expect((await stat(join(state, SESSION_STATE_FILE))).mode & 0o777).toBe(0o600)
      await appendFile(log, lines.slice(450).join(''))
      await backfill(log, join(dir, 'out2'), state)
      const first = (await rowsIn(join(dir, 'out1'))).rows
      const second = (await rowsIn(join(dir, 'out2'))).rows
      expect(first).toHaveLength(450)
      expect(second).toHaveLength(lines.length - 450)

      // One run on the whole log, with the same salt.
      const whole = join(dir, 'whole-state')
      await mkdir(whole)
      await copyFile(join(state, 'import-salt'), join(whole, 'import-salt'))
      await backfill(log, join(dir, 'out-whole'), whole)
      const once = (await rowsIn(join(dir, 'out-whole'))).rows
      expect([...first, ...second].sort()).toEqual(once)
      // The visits did span the runs: 31 sessions in all, 29 in both runs' files (visitor 0 pauses
      // across the cut: one session in each run).
      expect(sessionIds(once).size).toBe(31)
      expect([...sessionIds(first)].filter((id) => sessionIds(second).has(id))).toHaveLength(29)
    })
  })

  it('after a crash between the sessions file and the checkpoints, the rerun writes the same rows as the run that crashed', async () => {
    await withTempDir(async (dir) => {
      const lines = logLines()
      const log = join(dir, 'access.log')
      await writeFile(log, lines.slice(0, 300).join(''))
      const state = join(dir, 'state')
      await backfill(log, join(dir, 'out1'), state)
      const before = join(dir, 'state-before')
      await cp(state, before, { recursive: true })
      await appendFile(log, lines.slice(300, 600).join(''))
      await backfill(log, join(dir, 'out2'), state)
      // The crash: the ledger and the sessions file of run 2 were saved, its checkpoints were not.
      for (const f of [SESSION_STATE_FILE, 'imports.json']) await copyFile(join(state, f), join(before, f))
      await backfill(log, join(dir, 'out2-rerun'), before)
      expect((await rowsIn(join(dir, 'out2-rerun'))).texts).toEqual((await rowsIn(join(dir, 'out2'))).texts)
      // The ledger knows them by content: one entry per file, not two.
      const ledger = JSON.parse(await readFile(join(before, 'imports.json'), 'utf8')) as { files: unknown[] }
      expect(ledger.files).toHaveLength((await readdir(join(dir, 'out1'))).length + (await readdir(join(dir, 'out2'))).length)
    })
  })
})

describe('Sessionizer.carried and restore', () => {
  const hashOf = (visitors: string[]) => (row: number) => visitors[row]!
  it('hands over the sessions the input can still extend, most recent first, at most the bound; a restored one takes the next row', () => {
    const visitors: string[] = []
    const a = new Sessionizer({ visitorHash: hashOf(visitors), emit: () => {} })
    const push = (s: Sessionizer, v: string, t: number) => s.push(t, visitors.push(v) - 1)
    push(a, 'old', T0)
    for (let i = 0; i < 5; i++) push(a, `v${i}`, T0 + SESSION_GAP_MS + 60_000 + i * 1000)
    a.flush()
    const carried = a.carried(3)
    expect(carried.map((c) => c.key)).toEqual(['v4', 'v3', 'v2'])
    expect(a.carried(100).map((c) => c.key)).not.toContain('old') // more than 30 minutes before the newest row

    const ids: Record<string, string> = {}
    const b = new Sessionizer({ visitorHash: hashOf(visitors), emit: (row, id) => (ids[visitors[row]!] = id) })
    b.restore(carried)
    push(b, 'v4', carried[0]!.last + SESSION_GAP_MS) // exactly 30 minutes later: the same session
    push(b, 'v3', carried[1]!.last + SESSION_GAP_MS + 1000) // more: a new one
    push(b, 'v2', carried[2]!.first - DAY_MS) // an older log's row: not the carried session
    b.flush()
    expect(ids.v4).toBe(carried[0]!.id)
    expect(ids.v3).not.toBe(carried[1]!.id)
    expect(ids.v2).not.toBe(carried[2]!.id)
    expect(b.stats.sessions).toBe(2)
  })
})

describe('import-sessions.json', () => {
  it('restores the slot of the checkpoints in the store: the new one once they are saved, the old one after a crash before', async () => {
    await withTempDir(async (dir) => {
      const cp = (acked: number) => ({ id: 'file-1', acked }) as FileCheckpoint
      const storeAt = (acked: number | null) =>
        ({ get: (id: string) => (id === 'file-1' && acked !== null ? cp(acked) : undefined) }) as unknown as CheckpointStore
      const old = slotOf([cp(100)], { '': [{ key: 'k1', id: 'k1abc', first: T0, last: T0 + 1000 }] })
      const next = slotOf([cp(200)], { '': [{ key: 'k1', id: 'k1abc', first: T0, last: T0 + 9000 }] })
      await saveSessionSlot(dir, old, next)
      expect(await loadSessionSlot(dir, storeAt(200))).toEqual(next)
      expect(await loadSessionSlot(dir, storeAt(100))).toEqual(old)
      expect(await loadSessionSlot(dir, storeAt(300))).toBeNull() // a later run moved the checkpoint
      expect(await loadSessionSlot(dir, storeAt(null))).toBeNull()
      expect((await stat(join(dir, SESSION_STATE_FILE))).mode & 0o777).toBe(0o600)
      await writeFile(join(dir, SESSION_STATE_FILE), '{"version":1,"slots":[')
      expect(await loadSessionSlot(dir, storeAt(200))).toBeNull()
    })
  })
})
