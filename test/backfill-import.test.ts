// `backfill --via import` end to end: the built CLI as a child process, real files, and the test
// API's Data Import (which validates files as Swetrix's importer does).
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { importSimpleAnalytics, type ImportedRow } from '../src/testapi/data-import.js'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { collect, repoRoot, runCli, spawnCli, withTempDir } from './helpers/cli.js'

const SAMPLE = join(repoRoot, 'fixtures/sample.access.log')
const CONFIG = join(repoRoot, 'fixtures/config/custom-events.json')
const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'

async function csvFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(dir, f))
}

/** A checkpoint without its wall-clock times (they differ between runs). */
function stripTimes(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'updatedAt' ? undefined : x)))
}

/** Every file through the importer's rules: no row may be skipped. */
async function importedRows(dir: string): Promise<ImportedRow[]> {
  const rows: ImportedRow[] = []
  for (const f of await csvFiles(dir)) {
    const r = importSimpleAnalytics(await readFile(f, 'utf8'))
    expect(r.skipped, `${f}: rows the importer would skip`).toBe(0)
    rows.push(...r.rows)
  }
  return rows
}

function clfLine(ip: string, time: string, path: string, ua = UA, status = 200): string {
  return `${ip} - - [${time}] "GET ${path} HTTP/1.1" ${status} 512 "-" "${ua}"\n`
}

describe('backfill --via import', () => {
  it('writes a row for each pageview and custom event check reports, at the logged instant, each passing the importer', async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, 'out')
      const check = await runCli(['check', '--json', '--config', CONFIG, SAMPLE])
      const checked = JSON.parse(check.stdout).totals
      const r = await runCli(['backfill', '--json', '--no-progress', '--config', CONFIG, '--out', out, '--state-dir', join(dir, 'state'), SAMPLE])
      expect(r.code, r.stderr).toBe(0)
      const summary = JSON.parse(r.stdout)
      const rows = await importedRows(out)
      expect(checked.events.pageview + checked.events.custom).toBeGreaterThan(100)
      expect(checked.events.custom).toBeGreaterThan(0)
      expect(rows).toHaveLength(checked.events.pageview + checked.events.custom)
      expect(rows.filter((x) => x.type === 'custom_event')).toHaveLength(checked.events.custom)
      expect(summary.import.rows).toBe(rows.length)
      expect(summary.import.errorsNotImported).toBe(checked.events.error)
      // Timestamps: the logged instants of the event lines, in order.
      const records = (await runCli(['check', '--records', '--config', CONFIG, SAMPLE])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      const times = records
        .filter((x) => x.outcome === 'pageview' || String(x.outcome).startsWith('custom:'))
        .map((x) => new Date(Math.floor(Date.parse(x.time) / 1000) * 1000).toISOString())
      expect(rows.map((x) => x.created).sort()).toEqual(times.sort())
      // No visitor data in the files.
      const text = (await Promise.all((await csvFiles(out)).map((f) => readFile(f, 'utf8')))).join('')
      expect(text).not.toMatch(/192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|2001:db8/)
      expect(rows.every((x) => x.br !== null && x.dv !== '')).toBe(true)
    })
  })

  it('converts +0330, -0700 and Z to the right UTC instant', async () => {
    await withTempDir(async (dir) => {
      const clf = join(dir, 'zones.log')
      await writeFile(clf, clfLine('192.0.2.1', '01/Nov/2026:10:00:00 +0330', '/tehran') + clfLine('192.0.2.2', '01/Nov/2026:10:00:00 -0700', '/denver'))
      const json = join(dir, 'zones.json.log')
      await writeFile(
        json,
        JSON.stringify({ remote_addr: '192.0.2.3', time_iso8601: '2026-11-01T10:00:00Z', request: 'GET /utc HTTP/1.1', status: 200, http_user_agent: UA }) +
          '\n',
      )
      const state = join(dir, 'state')
      for (const [file, out] of [
        [clf, 'a'],
        [json, 'b'],
      ] as const) {
        const r = await runCli(['backfill', '--no-progress', '--out', join(dir, out), '--state-dir', state, file])
        expect(r.code, r.stderr).toBe(0)
      }
      const rows = [...(await importedRows(join(dir, 'a'))), ...(await importedRows(join(dir, 'b')))]
      const at = Object.fromEntries(rows.map((x) => [x.pg, x.created]))
      expect(at).toEqual({ '/tehran': '2026-11-01T06:30:00.000Z', '/denver': '2026-11-01T17:00:00.000Z', '/utc': '2026-11-01T10:00:00.000Z' })
    })
  })

  it('escapes commas, quotes, line breaks and formula-looking values so the importer reads them back', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'json.log')
      const lines = [
        { request: 'GET /a,b?utm_source=%3Dcmd HTTP/1.1', http_referer: 'https://ref.example/?x="1",y' },
        { request: 'GET /q"uote HTTP/1.1', http_referer: '=HYPERLINK("http://evil.example")' },
        { request: 'GET /line\nbreak HTTP/1.1', http_referer: '-' },
        { request: 'GET /utm?utm_source=@x&utm_campaign=+1 HTTP/1.1', http_referer: '-' },
      ].map((l, i) => JSON.stringify({ remote_addr: `192.0.2.${i + 1}`, time_iso8601: '2026-11-01T10:00:00Z', status: 200, http_user_agent: UA, ...l }))
      await writeFile(log, lines.join('\n') + '\n')
      const out = join(dir, 'out')
      const r = await runCli(['backfill', '--no-progress', '--format', 'nginx_json', '--out', out, '--state-dir', join(dir, 's'), log])
      expect(r.code, r.stderr).toBe(0)
      const rows = await importedRows(out)
      const byPath = Object.fromEntries(rows.map((x) => [x.pg, x]))
      expect(byPath['/a,b']?.ref).toBe('https://ref.example/?x="1",y')
      expect(byPath['/q"uote']?.ref).toBe('=HYPERLINK("http://evil.example")')
      expect(byPath['/line\nbreak']).toBeDefined()
      expect(byPath['/utm']?.so).toBe('@x')
      expect(byPath['/utm']?.ca).toBe('+1')
      const text = await readFile((await csvFiles(out))[0]!, 'utf8')
      for (const cell of text.split(/[,\n]/)) expect(/^[=+\-@]/.test(cell), cell).toBe(false)
    })
  })

  it('splits files at the size limit; each file is under it and the rows add up', async () => {
    await withTempDir(async (dir) => {
      const out = join(dir, 'out')
      const r = await runCli(['backfill', '--json', '--no-progress', '--max-file-size', '4000', '--out', out, '--state-dir', join(dir, 's'), SAMPLE])
      expect(r.code, r.stderr).toBe(0)
      const files = await csvFiles(out)
      expect(files.length).toBeGreaterThan(3)
      for (const f of files) expect((await readFile(f)).length).toBeLessThanOrEqual(4000)
      const rows = await importedRows(out)
      expect(rows).toHaveLength(JSON.parse(r.stdout).import.rows)
      // Sessions are cut by files, not changed by them: the same ids as one big file.
      const whole = join(dir, 'whole')
      await runCli(['backfill', '--no-progress', '--out', whole, '--state-dir', join(dir, 's2'), SAMPLE])
      const ids = (rs: ImportedRow[]) => new Set(rs.map((x) => x.psid)).size
      expect(ids(rows)).toBe(ids(await importedRows(whole)))
    })
  })

  it('reads a rotated set oldest first by content; run on the live file continues after the last imported line', async () => {
    await withTempDir(async (dir) => {
      const live = join(dir, 'access.log')
      let day1 = ''
      let day2 = ''
      let day3 = ''
      for (let i = 0; i < 20; i++) {
        day1 += clfLine('192.0.2.1', `01/Nov/2026:10:${String(i).padStart(2, '0')}:00 +0000`, `/d1/${i}`)
        day2 += clfLine('192.0.2.1', `02/Nov/2026:10:${String(i).padStart(2, '0')}:00 +0000`, `/d2/${i}`)
        day3 += clfLine('192.0.2.1', `03/Nov/2026:10:${String(i).padStart(2, '0')}:00 +0000`, `/d3/${i}`)
      }
      // Names that sort the wrong way (a dated name after a re-run of logrotate): content decides.
      await writeFile(join(dir, 'access.log-20261105.gz'), gzipSync(day1))
      await writeFile(join(dir, 'access.log.1'), day2)
      await writeFile(live, day3)
      const state = join(dir, 'state')
      const out = join(dir, 'out')
      const r = await runCli(['backfill', '--json', '--no-progress', '--out', out, '--state-dir', state, join(dir, 'access.log*')])
      expect(r.code, r.stderr).toBe(0)
      const s = JSON.parse(r.stdout)
      expect(s.files.map((f: { path: string }) => f.path.split('/').pop())).toEqual(['access.log-20261105.gz', 'access.log.1', 'access.log'])
      expect(s.import.lateRows).toBe(0)
      expect(s.import.sessions).toBe(3) // one visitor, three days
      expect(Object.keys(s.import.rowsPerDay)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03'])
      expect(await importedRows(out)).toHaveLength(60)

      // Live forwarding meets the history without a gap or an overlap.
      await appendFile(live, clfLine('192.0.2.9', '03/Nov/2026:11:00:00 +0000', '/live/after'))
      const run = await runCli(['run', '--dry-run', '-p', PROJECT, '--api-url', 'http://127.0.0.1:9/log', '--state-dir', state, live])
      expect(run.code, run.stderr).toBe(0)
      const sent = run.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).body.pg)
      expect(sent).toEqual(['/live/after'])

      // A second backfill finds nothing new and writes no file.
      const again = await runCli(['backfill', '--json', '--no-progress', '--out', join(dir, 'out2'), '--state-dir', state, join(dir, 'access.log*')])
      expect(JSON.parse(again.stdout).import.rows).toBe(1) // only the appended live line
    })
  })

  it('writes the same files, summary and checkpoint with worker threads as with one thread', { timeout: 120_000 }, async () => {
    await withTempDir(async (dir) => {
      const { lineGenerator } = await import('../bench/generate-log.mjs')
      const gen = lineGenerator({ seed: 5 })
      const lines: string[] = []
      for (let i = 0; i < 180_000; i++) lines.push(gen(i)) // ~36 MB: above the threshold for threads
      lines.splice(120_000, 0, ...lines.splice(60_000, 300)) // logged late: across batches and the reorder buffer
      lines.splice(150_000, 0, 'junk line')
      const live = join(dir, 'access.log')
      // A live file: the last line is still being written (no newline) and must not be read.
      await writeFile(live, lines.join('\n') + '\n' + clfLine('192.0.2.7', '30/Nov/2026:10:00:00 +0000', '/partial').trimEnd())
      const results = []
      for (const threads of ['1', '2', '3']) {
        const state = join(dir, `state${threads}`)
        const out = join(dir, `out${threads}`)
        await mkdir(state)
        await writeFile(join(state, 'import-salt'), 'ab'.repeat(32)) // the same salt: the same session ids
        const r = await runCli(['backfill', '--json', '--no-progress', '--threads', threads, '--out', out, '--state-dir', state, live])
        expect(r.code, r.stderr).toBe(0)
        const summary = JSON.parse(r.stdout)
        const files = await Promise.all((await csvFiles(out)).map((f) => readFile(f, 'utf8')))
        const checkpoint = JSON.parse(await readFile(join(state, 'state.json'), 'utf8')).files
        results.push({
          summary: { ...summary, import: { ...summary.import, dir: null, files: summary.import.files.length } },
          files,
          checkpoint: stripTimes(checkpoint),
        })
      }
      expect(results[0]!.summary.import.rows).toBeGreaterThan(80_000)
      expect(results[0]!.summary.totals.rejected).toBe(1)
      expect(results[0]!.summary.totals.lines).toBe(180_001)
      expect(results[0]!.summary.import.lateRows).toBeGreaterThan(0)
      expect(results[1]).toEqual(results[0])
      expect(results[2]).toEqual(results[0])
    })
  })

  it('--dry-run writes nothing', async () => {
    await withTempDir(async (dir) => {
      const r = await runCli(['backfill', '--dry-run', '--json', '--out', join(dir, 'out'), '--state-dir', join(dir, 's'), SAMPLE])
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).import.rows).toBeGreaterThan(100)
      await expect(readdir(join(dir, 'out'))).rejects.toThrow()
      await expect(readdir(join(dir, 's'))).rejects.toThrow()
    })
  })
})

describe('backfill --upload', () => {
  let api: TestApi | null = null
  afterEach(async () => {
    await api?.close()
    api = null
  })

  it('imports every file once, also after a kill half-way and a rerun; credentials never reach disk or output', async () => {
    api = await startTestApi({ dataImport: { email: 'owner@example.com', password: 's3cret-pass', stepMs: 150 } })
    await withTempDir(async (dir) => {
      const out = join(dir, 'out')
      const state = join(dir, 'state')
      const env = { SWETRIX_EMAIL: 'owner@example.com', SWETRIX_PASSWORD: 's3cret-pass', SWETRIX_INGEST_POLL_MS: '20' }
      const args = [
        'backfill',
        '--upload',
        '--no-progress',
        '-p',
        PROJECT,
        '--api-url',
        api!.url,
        '--max-file-size',
        '6000',
        '--out',
        out,
        '--state-dir',
        state,
        SAMPLE,
      ]
      // First run: killed (SIGKILL) while the second file is being imported.
      const child = spawnCli(args, { env })
      const done = collect(child)
      const deadline = Date.now() + 20_000
      while (api!.dataImport.imports(PROJECT).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
      child.kill('SIGKILL')
      const first = await done
      expect(first.signal).toBe('SIGKILL')
      const files = (await csvFiles(out)).map((f) => f.split('/').pop()!)
      expect(files.length).toBeGreaterThan(2)
      expect(api!.dataImport.imports(PROJECT).length).toBe(2)

      const second = await runCli(args, { env })
      expect(second.code, second.stderr).toBe(0)
      const imports = api!.dataImport.imports(PROJECT)
      expect(imports.map((i) => i.fileName).sort()).toEqual(files.sort())
      expect(imports.every((i) => i.status === 'completed' && i.skippedRows === 0)).toBe(true)
      const rows = imports.reduce((a, i) => a + (i.importedRows ?? 0), 0)
      expect(rows).toBe((await importedRows(out)).length)

      // A third run uploads nothing.
      const third = await runCli(args, { env })
      expect(third.code, third.stderr).toBe(0)
      expect(api!.dataImport.imports(PROJECT)).toHaveLength(files.length)

      for (const f of await readdir(state)) expect(await readFile(join(state, f), 'utf8').catch(() => '')).not.toContain('s3cret-pass')
      for (const r of [first, second, third]) expect(r.stdout + r.stderr).not.toContain('s3cret-pass')
    })
  })

  it("a failed import stops with the server's message; wrong credentials stop at login", async () => {
    api = await startTestApi({ dataImport: { email: 'owner@example.com', password: 'right', stepMs: 5 } })
    await withTempDir(async (dir) => {
      const bad = await runCli(
        ['backfill', '--upload', '--no-progress', '-p', PROJECT, '--api-url', api!.url, '--out', join(dir, 'o'), '--state-dir', join(dir, 's'), SAMPLE],
        {
          env: { SWETRIX_EMAIL: 'owner@example.com', SWETRIX_PASSWORD: 'wrong' },
        },
      )
      expect(bad.code).toBe(1)
      expect(bad.stderr).toMatch(/login failed \(HTTP 409\)/)
      await api!.close()
      api = await startTestApi({ dataImport: { email: 'owner@example.com', password: 'right', stepMs: 5, failWith: 'Import failed: disk full' } })
      const failed = await runCli(
        ['backfill', '--upload', '--no-progress', '-p', PROJECT, '--api-url', api.url, '--out', join(dir, 'o2'), '--state-dir', join(dir, 's2'), SAMPLE],
        {
          env: { SWETRIX_EMAIL: 'owner@example.com', SWETRIX_PASSWORD: 'right', SWETRIX_INGEST_POLL_MS: '10' },
        },
      )
      expect(failed.code).toBe(1)
      expect(failed.stderr).toContain('Import failed: disk full')
      const none = await runCli(['backfill', '--upload', '-p', PROJECT, '--out', join(dir, 'o'), '--state-dir', join(dir, 's'), SAMPLE], {
        env: { SWETRIX_EMAIL: '', SWETRIX_PASSWORD: '', SWETRIX_TOKEN: '' },
      })
      expect(none.code).toBe(2)
    })
  })
})
