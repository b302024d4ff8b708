// Every command reads through the same per-file session: the same flags mean the same thing, and a
// W3C log whose #Fields: change half-way gives the same pageviews to `check`, `check -`,
// `follow -`, `run` and `backfill --via import`, also when a later run resumes after the change.
import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'TESTPROJECT1'
const fixture = join(repoRoot, 'fixtures/cdn/iis-restart.log')

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ projects: [PROJECT] })
})
afterEach(async () => {
  await api.close()
})

/** Pageview paths, sorted: what each path delivered. */
const sorted = (paths: unknown[]) => paths.map(String).sort()

async function checkPageviews(args: string[], input?: string): Promise<string[]> {
  const r = await runCli(['check', '--events', ...args], input === undefined ? {} : { input })
  expect(r.code, r.stderr).toBe(0)
  const events = r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { endpoint: string; body: { pg: string } })
  return sorted(events.filter((e) => e.endpoint === '/log').map((e) => e.body.pg))
}

async function importedPageviews(outDir: string): Promise<string[]> {
  const rows: { path: string; datapoint: string }[] = []
  for (const name of (await readdir(outDir)).filter((n) => n.endsWith('.csv')))
    rows.push(...(parse(await readFile(join(outDir, name)), { columns: true }) as { path: string; datapoint: string }[]))
  return sorted(rows.filter((r) => r.datapoint === 'pageview').map((r) => r.path))
}

const apiPageviews = () =>
  sorted(
    api
      .accepted()
      .filter((e) => e.endpoint === '/log')
      .map((e) => e.body.pg),
  )

describe('one session for every command', () => {
  it('a W3C log with a #Fields: change: check, check -, follow -, run and backfill give the same pageviews, also resumed half-way', async () => {
    await withTempDir(async (dir) => {
      const text = await readFile(fixture, 'utf8')
      const expected = await checkPageviews([fixture])
      expect(expected.length).toBeGreaterThanOrEqual(2)
      expect(await checkPageviews(['-'], text)).toEqual(expected)

      const follow = await runCli(['follow', '-p', PROJECT, '--api-url', api.url, '--stats-interval', '0', '-'], { input: text })
      expect(follow.code, follow.stderr).toBe(0)
      expect(apiPageviews()).toEqual(expected)
      api.reset()

      // Resumed: the first run sees the file up to a line after the layout change; the second reads
      // the rest with the layout declared before its start.
      const lines = text.split(/(?<=\n)/)
      const cut = lines.findLastIndex((l) => l.startsWith('#Fields:')) + 2
      const log = join(dir, 'u_ex261120.log')
      await writeFile(log, lines.slice(0, cut).join(''))
      const run = ['run', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'run-state'), log]
      const first = await runCli([...run, '--from-beginning'])
      expect(first.code, first.stderr).toBe(0)
      const importArgs = ['backfill', '--no-progress', '-p', PROJECT, '--out', join(dir, 'out'), '--state-dir', join(dir, 'import-state'), log]
      const firstImport = await runCli(importArgs)
      expect(firstImport.code, firstImport.stderr).toBe(0)
      await appendFile(log, lines.slice(cut).join(''))
      const second = await runCli(run)
      expect(second.code, second.stderr).toBe(0)
      expect(apiPageviews()).toEqual(expected)
      const secondImport = await runCli(importArgs)
      expect(secondImport.code, secondImport.stderr).toBe(0)
      expect(await importedPageviews(join(dir, 'out'))).toEqual(expected)
    })
  })

  it('every sending command takes --site without -p, as run does', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, '192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 10 "-" "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0"\n')
      const site = ['--site', `example.com=${PROJECT}`, '--api-url', api.url]
      for (const args of [
        ['check', '--site', `example.com=${PROJECT}`, log],
        ['run', ...site, '--state-dir', join(dir, 's1'), '--from-beginning', log],
        ['backfill', '--via', 'api', '--no-progress', ...site, '--state-dir', join(dir, 's2'), log],
        ['follow', ...site, '--stats-interval', '0', '-'],
      ]) {
        const r = await runCli(args, { input: await readFile(log, 'utf8') })
        expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0)
      }
      const none = await runCli(['follow', '--api-url', api.url, '-'], { input: '' })
      expect(none.code).toBe(2)
      expect(none.stderr).toMatch(/a project id is required/)
    })
  })
})
