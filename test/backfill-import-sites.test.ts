// `backfill --via import` with several sites: one file set per project (`<out>/<PROJECT>/`), each
// upload to its own project, the per-project summary, lines of no site counted as `no-site`. The
// built CLI as a child process, real files, the test API's Data Import.
import { appendFile, copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { importSimpleAnalytics, type ImportedRow } from '../src/testapi/data-import.js'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { runCli, withTempDir } from './helpers/cli.js'

const A = 'SITEAAAAAAAA'
const B = 'SITEBBBBBBBB'
const D = 'SITEDEFAULT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const HOSTS = ['a.example.com', 'www.b.example.org', 'c.example.net'] as const
const SITES = ['--site', `a.example.com=${A}`, '--site', `b.example.org=${B}`]
const EMAIL = 'owner@example.com'
const PASSWORD = 'sites-pass'

/** vhost_combined lines, hosts in turn, a few visitors coming back over the hour (sessions). */
function vhostLines(from: number, count: number): string {
  let out = ''
  for (let i = from; i < from + count; i++) {
    const t = `01/Nov/2026:10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} +0000`
    out += `${HOSTS[i % 3]}:443 198.51.100.${(i % 7) + 1} - - [${t}] "GET /p/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
  }
  return out
}

async function csvIn(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  return names
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(dir, f))
}

/** The rows of a directory's files through the importer's rules (none skipped), and their lines. */
async function rowsIn(dir: string): Promise<{ rows: ImportedRow[]; lines: string[] }> {
  const rows: ImportedRow[] = []
  const lines: string[] = []
  for (const f of await csvIn(dir)) {
    const text = await readFile(f, 'utf8')
    const r = importSimpleAnalytics(text)
    expect(r.skipped, `${f}: rows the importer would skip`).toBe(0)
    rows.push(...r.rows)
    lines.push(...text.trimEnd().split('\n').slice(1))
  }
  return { rows, lines: lines.sort() }
}

type ProjectDoc = { rows: number; sessions: number; files: string[]; events: Record<string, number>; skipped: Record<string, number>; uploaded?: number }
type Doc = {
  totals: { events: Record<string, number>; skipped: Record<string, number> }
  import: { rows: number; sessions: number; files: { name: string; project?: string; rows: number }[]; projects: Record<string, ProjectDoc>; uploaded: number }
}

describe('backfill --via import with several sites', () => {
  let api: TestApi | null = null
  afterEach(async () => {
    await api?.close()
    api = null
  })

  it('writes one file set per project, each the same as a backfill of that project alone; lines of no site are counted as no-site', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 300))
      const out = join(dir, 'out')
      const state = join(dir, 'state')
      const r = await runCli(['backfill', '--json', '--no-progress', ...SITES, '--out', out, '--state-dir', state, log])
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout) as Doc
      expect((await readdir(out)).sort()).toEqual([A, B])
      const a = await rowsIn(join(out, A))
      const b = await rowsIn(join(out, B))
      expect(a.rows).toHaveLength(100)
      expect(b.rows).toHaveLength(100)
      expect(new Set(a.rows.map((x) => x.host))).toEqual(new Set(['a.example.com']))
      expect(new Set(b.rows.map((x) => x.host))).toEqual(new Set(['www.b.example.org']))
      // The unmapped host's lines: no row anywhere, counted with their reason as `run` counts them.
      expect(doc.totals.skipped['no-site']).toBe(100)
      expect(doc.import.rows).toBe(200)
      expect(doc.import.projects[A]).toMatchObject({ rows: 100, events: { pageview: 100 } })
      expect(doc.import.projects[B]).toMatchObject({ rows: 100, events: { pageview: 100 } })
      expect(doc.import.projects[A]!.sessions + doc.import.projects[B]!.sessions).toBe(doc.import.sessions)
      expect(doc.import.files.map((f) => f.project).sort()).toEqual([A, B])
      expect(doc.import.projects[A]!.files).toEqual((await readdir(join(out, A))).filter((f) => f.endsWith('.csv')))

      // Project A alone (-p A --host a.example.com, the same salt): the same rows, byte for byte.
      const alone = join(dir, 'alone')
      await mkdir(alone)
      await copyFile(join(state, 'import-salt'), join(alone, 'import-salt'))
      const single = await runCli(['backfill', '--no-progress', '-p', A, '--host', 'a.example.com', '--out', join(dir, 'out-a'), '--state-dir', alone, log])
      expect(single.code, single.stderr).toBe(0)
      expect((await rowsIn(join(dir, 'out-a'))).lines).toEqual(a.lines)

      // The text summary has a block per project, naming its --site entry, its rows and directory.
      const text = await runCli(['backfill', '--dry-run', '--no-progress', ...SITES, '--out', out, '--state-dir', join(dir, 'dry'), log])
      expect(text.code, text.stderr).toBe(0)
      expect(text.stdout).toContain(`project ${A}  (--site a.example.com=${A})`)
      expect(text.stdout).toMatch(
        new RegExp(`project ${B}[^\\n]*\\n  events    pageview 100, error 0, custom 0\\n  skipped   none\\n  rows      100 in 1 file\\(s\\)`),
      )
    })
  })

  it('uploads each project its own files (config sites with files and hosts, a default project), checking each project before its first upload', async () => {
    api = await startTestApi({ dataImport: { email: EMAIL, password: PASSWORD, stepMs: 5 } })
    await withTempDir(async (dir) => {
      const config = join(dir, 'sites.json')
      await writeFile(
        config,
        JSON.stringify({
          sites: [
            { project: A, files: ['a.log'] },
            { project: B, hosts: ['b.example.org'] },
          ],
        }),
      )
      await writeFile(join(dir, 'a.log'), vhostLines(0, 30)) // every line of a.log is A's, whatever its host
      await writeFile(join(dir, 'b.log'), vhostLines(1000, 30)) // b's hosts to B, the others to -p D
      const out = join(dir, 'out')
      const env = { SWETRIX_EMAIL: EMAIL, SWETRIX_PASSWORD: PASSWORD, SWETRIX_INGEST_POLL_MS: '5' }
      const args = [
        'backfill',
        '--upload',
        '--json',
        '--no-progress',
        '--config',
        config,
        '-p',
        D,
        '--api-url',
        api!.url,
        '--out',
        out,
        '--state-dir',
        join(dir, 's'),
      ]
      const r = await runCli([...args, join(dir, 'a.log'), join(dir, 'b.log')], { env })
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout) as Doc
      for (const [pid, rows] of [
        [A, 30],
        [B, 10],
        [D, 20],
      ] as const) {
        const imports = api!.dataImport.imports(pid)
        const local = (await csvIn(join(out, pid))).map((f) => f.split('/').pop())
        expect(imports.map((i) => i.fileName).sort(), pid).toEqual(local.sort())
        expect(
          imports.reduce((n, i) => n + (i.importedRows ?? 0), 0),
          pid,
        ).toBe(rows)
        expect(imports.every((i) => i.status === 'completed' && i.skippedRows === 0)).toBe(true)
        expect(doc.import.projects[pid]).toMatchObject({ rows, uploaded: 1 })
        expect(r.stderr).toContain(`project ${pid}: uploading 1 file(s)`)
      }
      expect(doc.import.uploaded).toBe(3)
      const ledger = JSON.parse(await readFile(join(dir, 's', 'imports.json'), 'utf8')) as { files: { project: string; upload: { importId: number } }[] }
      expect(ledger.files.map((f) => f.project).sort()).toEqual([A, B, D])

      // More lines in the same hour: a second backfill reads only them, warns per project about
      // the data already imported in their range, and uploads each project's new file to it.
      await appendFile(join(dir, 'b.log'), vhostLines(1000, 30).replaceAll('/p/', '/q/'))
      const again = await runCli([...args, join(dir, 'a.log'), join(dir, 'b.log')], { env })
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).toMatch(new RegExp(`project ${B}: warning: project ${B} already has imported data`))
      expect(again.stderr).not.toContain(`project ${A}: uploading`)
      expect(api!.dataImport.imports(A)).toHaveLength(1)
      expect(api!.dataImport.imports(B)).toHaveLength(2)
      expect(api!.dataImport.imports(D)).toHaveLength(2)
      expect((JSON.parse(again.stdout) as Doc).import.projects[B]).toMatchObject({ rows: 10, uploaded: 1 })
    })
  })

  it('--upload without -p needs sites: a config without any, or no config, stops with exit 2 naming -p', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, vhostLines(0, 3))
      const config = join(dir, 'empty.json')
      await writeFile(config, JSON.stringify({ sites: [] }))
      const env = { SWETRIX_TOKEN: 'x', SWETRIX_API_URL: 'http://127.0.0.1:9/log' }
      const none = await runCli(['backfill', '--upload', '--no-progress', '--config', config, '--state-dir', join(dir, 's'), log], { env })
      expect(none.code).toBe(2)
      expect(none.stderr).toMatch(/a project id is required/)
      const plain = await runCli(['backfill', '--upload', '--no-progress', '--state-dir', join(dir, 's'), log], { env })
      expect(plain.code).toBe(2)
      expect(plain.stderr).toMatch(/a project id is required/)
    })
  })
})
