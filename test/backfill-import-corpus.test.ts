// backfill --via import on real logs it was not written against (../shared/corpus, read in place):
// rows = check's pageviews + custom events, every row passes the importer, and the sessions equal
// an independent computation of Swetrix's rule from `check --records`.
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importSimpleAnalytics } from '../src/testapi/data-import.js'
import { corpusDir, runCli, withTempDir } from './helpers/cli.js'

const FILES = [
  'advertools-logs_testing/nginx_access.log', // segments days out of order
  'elastic-examples-apache_logs/apache_logs',
]

/** Sessions by the rule, written plainly: per (IP, User-Agent), sorted, new on > 1800 s or a new UTC day. */
function referenceSessionCount(records: { ip: string; user_agent: string; time: string }[]): number {
  const byVisitor = new Map<string, number[]>()
  for (const r of records) {
    const k = `${r.ip}\n${r.user_agent}`
    if (!byVisitor.has(k)) byVisitor.set(k, [])
    byVisitor.get(k)!.push(Math.floor(Date.parse(r.time) / 1000) * 1000)
  }
  let n = 0
  for (const times of byVisitor.values()) {
    times.sort((a, b) => a - b)
    times.forEach((t, i) => {
      if (i === 0 || Math.floor(t / 86_400_000) !== Math.floor(times[i - 1]! / 86_400_000) || t - times[i - 1]! > 1_800_000) n++
    })
  }
  return n
}

describe.skipIf(!existsSync(corpusDir))('backfill --via import on real logs', () => {
  it.each(FILES)('%s', async (name) => {
    const file = join(corpusDir, name)
    await withTempDir(async (dir) => {
      const check = JSON.parse((await runCli(['check', '--json', file])).stdout).totals
      const r = await runCli(['backfill', '--json', '--no-progress', '--out', join(dir, 'o'), '--state-dir', join(dir, 's'), file])
      expect(r.code, r.stderr).toBe(0)
      const summary = JSON.parse(r.stdout).import
      let rows = 0
      const ids = new Set<string>()
      for (const f of await readdir(join(dir, 'o'))) {
        const imported = importSimpleAnalytics(await readFile(join(dir, 'o', f), 'utf8'))
        expect(imported.skipped).toBe(0)
        rows += imported.rows.length
        for (const row of imported.rows) ids.add(row.psid)
      }
      expect(rows).toBeGreaterThan(0)
      expect(rows).toBe(check.events.pageview + check.events.custom)
      const records = (await runCli(['check', '--records', file])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((x) => x.outcome === 'pageview' || String(x.outcome ?? '').startsWith('custom:'))
      expect(ids.size).toBe(referenceSessionCount(records))
      expect(summary.sessions).toBe(ids.size)
    })
  })
})
