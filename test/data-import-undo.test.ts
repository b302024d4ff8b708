// Before an upload: how many of the project's 255 import ids it takes, and a warning when its time
// range already holds imported data (`GET /data-import/:pid/has-imported-data`). After: an import
// undone by a command (`backfill --undo-import ID` -> `DELETE /data-import/:pid/:importId`). Against
// the test API's Data Import routes, which answer with Swetrix's statuses (reference §10).
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { clickHouseDateTime, DataImportAnswerError, DataImportClient, type ImportRecord } from '../src/import/data-import-client.js'
import { ImportLedger, type LedgerFile } from '../src/import/ledger.js'
import { importIdPlan, Uploader } from '../src/import/upload.js'
import { runUndoImport } from '../src/import/undo.js'
import { IMPORT_HEADER } from '../src/import/csv.js'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'

const PID = 'AbCdEf123456'
const EMAIL = 'owner@example.com'
const PASSWORD = 'right-pass'
const SAMPLE = join(repoRoot, 'fixtures/sample.access.log')
const ENV = { SWETRIX_EMAIL: EMAIL, SWETRIX_PASSWORD: PASSWORD, SWETRIX_INGEST_POLL_MS: '10' }

let api: TestApi | null = null
afterEach(async () => {
  await api?.close()
  api = null
})

const apiBase = (a: TestApi) => a.url.replace(/\/log$/, '')
const client = (a: TestApi) => new DataImportClient({ apiBase: apiBase(a), projectId: PID, credentials: { email: EMAIL, password: PASSWORD } })

async function waitFinished(c: DataImportClient, id: string | number): Promise<ImportRecord> {
  const deadline = Date.now() + 5000
  for (;;) {
    const r = await c.get(id)
    if (r.status !== 'pending' && r.status !== 'processing') return r
    if (Date.now() > deadline) throw new Error(`import ${id} still ${r.status}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

async function csvFile(dir: string, rows: string[]): Promise<string> {
  const path = join(dir, 'rows.csv')
  await writeFile(path, IMPORT_HEADER + rows.map((t, i) => `${t},${i === 0 ? 'pageview' : 'signup'},example.com,/,,,,,,,,,,,,,,,s${i}\n`).join(''))
  return path
}

describe('the Data Import routes (test API) and the client', () => {
  it('has-imported-data: imported pageviews in [from, to] (UTC, inclusive); 400 without a bound, 500 for one ClickHouse cannot read', async () => {
    api = await startTestApi({ dataImport: { email: EMAIL, password: PASSWORD, stepMs: 2 } })
    const c = client(api)
    await withTempDir(async (dir) => {
      const t = Date.UTC(2026, 0, 26, 8, 14, 3)
      expect(await c.hasImportedData(t - 1000, t + 1000)).toBe(false)
      const rec = await c.upload(await csvFile(dir, ['2026-01-26T08:14:03Z', '2026-03-01T00:00:00Z']), 'rows.csv')
      expect((await waitFinished(c, rec.id)).status).toBe('completed')
      expect(await c.hasImportedData(t, t)).toBe(true)
      expect(await c.hasImportedData(t - 86_400_000, t - 1000)).toBe(false)
      // The second row is a custom event: not a pageview, so not "imported data" by Swetrix's query.
      expect(await c.hasImportedData(Date.UTC(2026, 1, 28), Date.UTC(2026, 2, 2))).toBe(false)
    })
    const token = (await (
      await fetch(`${apiBase(api)}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
      })
    ).json()) as { accessToken: string }
    const get = (q: string) => fetch(`${apiBase(api!)}/data-import/${PID}/has-imported-data${q}`, { headers: { authorization: `Bearer ${token.accessToken}` } })
    expect((await get('?from=2026-01-01%2000:00:00')).status).toBe(400)
    expect((await get('')).status).toBe(400)
    expect((await get('?from=yesterday&to=today')).status).toBe(500)
    expect(await (await get('?from=2026-01-26&to=2026-01-27')).json()).toEqual({ hasImportedData: true })
  })

  it('clickHouseDateTime is UTC to the second, as the route takes it', () => {
    expect(clickHouseDateTime(Date.UTC(2026, 0, 26, 8, 14, 3, 999))).toBe('2026-01-26 08:14:03')
  })

  it('DELETE: 400 for a non-numeric id, 404 for an unknown one, 400 while in progress, then the import and its rows are gone', async () => {
    api = await startTestApi({ dataImport: { email: EMAIL, password: PASSWORD, stepMs: 300 } })
    const c = client(api)
    await withTempDir(async (dir) => {
      const status = (p: Promise<unknown>) =>
        p.then(
          () => 200,
          (e: unknown) => (e instanceof DataImportAnswerError ? e.status : -1),
        )
      expect(await status(c.delete('abc'))).toBe(400)
      expect(await status(c.delete(99))).toBe(404)
      const rec = await c.upload(await csvFile(dir, ['2026-01-26T08:14:03Z']), 'rows.csv')
      const busy = await c.delete(rec.id).catch((e: DataImportAnswerError) => e)
      expect(busy).toBeInstanceOf(DataImportAnswerError)
      expect((busy as DataImportAnswerError).serverMessage).toBe('Cannot delete an import that is still in progress.')
      await waitFinished(c, rec.id)
      await c.delete(rec.id)
      expect(await status(c.get(rec.id))).toBe(404)
      expect(await c.hasImportedData(Date.UTC(2026, 0, 26), Date.UTC(2026, 0, 27))).toBe(false)
    })
  })
})

describe('import ids', () => {
  const file = (over: Partial<LedgerFile> = {}): LedgerFile => ({
    name: 'f.csv',
    path: '/x/f.csv',
    sha256: 'x',
    bytes: 1,
    rows: 1,
    from: '2026-01-01T00:00:00Z',
    to: '2026-01-02T00:00:00Z',
    writtenAt: '2026-01-03T00:00:00Z',
    ...over,
  })
  const records = (n: number): ImportRecord[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, status: 'completed' }))

  it('one per file not yet uploaded; at most 255 in a project', () => {
    expect(importIdPlan([file(), file(), file({ upload: { state: 'uploaded', startedAt: 'x', importId: 4 } })], records(10))).toEqual({
      newImports: 2,
      inUse: 10,
      fits: true,
    })
    expect(importIdPlan([file(), file()], records(253)).fits).toBe(true)
    expect(importIdPlan([file(), file()], records(254)).fits).toBe(false)
  })

  it('an upload that would need more ids than are free stops before it sends anything, naming the way out', async () => {
    const requests: string[] = []
    const server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(records(255)))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      await withTempDir(async (dir) => {
        const ledger = await ImportLedger.open(dir)
        ledger.add(file())
        const up = new Uploader({ apiBase: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, projectId: PID, credentials: { token: 't' }, ledger })
        await expect(up.uploadAll()).rejects.toThrow(/need 1 import id\(s\), but project AbCdEf123456 has 255 of 255 in use.*--undo-import ID/)
        expect(requests).toEqual([`GET /data-import/${PID}`])
      })
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

describe('backfill --upload and --undo-import', () => {
  it('says how many import ids the upload uses, warns about data already imported in its range, and undoes an import by id', async () => {
    api = await startTestApi({ dataImport: { email: EMAIL, password: PASSWORD, stepMs: 2 } })
    const url = api.url
    await withTempDir(async (dir) => {
      const upload = (n: string) =>
        runCli(
          [
            'backfill',
            '--upload',
            '--no-progress',
            '-p',
            PID,
            '--api-url',
            url,
            '--out',
            join(dir, `out-${n}`),
            '--state-dir',
            join(dir, `state-${n}`),
            SAMPLE,
          ],
          { env: ENV },
        )
      const first = await upload('a')
      expect(first.code, first.stderr).toBe(0)
      expect(first.stderr).toContain("uploading 1 file(s): each becomes one import and uses one of the project's 255 import ids (0 in use, 254 left after)")
      expect(first.stderr).not.toContain('already has imported data')

      // The same logs again from another state directory (another machine, a lost state dir).
      const second = await upload('b')
      expect(second.code, second.stderr).toBe(0)
      expect(second.stderr).toMatch(/warning: project AbCdEf123456 already has imported data between 2026-11-01T00:00:00Z and 2026-11-0\dT\d\d:\d\d:\d\dZ/)
      expect(second.stderr).toContain('(1 in use, 253 left after)')
      const imports = api!.dataImport.imports(PID)
      expect(imports).toHaveLength(2)
      const secondId = imports[1]!.id

      const undo = await runCli(['backfill', '-p', PID, '--api-url', url, '--state-dir', join(dir, 'state-b'), '--undo-import', String(secondId)], { env: ENV })
      expect(undo.code, undo.stderr).toBe(0)
      expect(undo.stdout).toMatch(
        new RegExp(
          `^deleted import ${secondId} of project ${PID} \\(2026-11-01 \\.\\. 2026-11-0\\d\\), \\d+ rows; Swetrix removes its rows in the background\\n`,
        ),
      )
      expect(undo.stdout).toContain('marked undone in imports.json')
      expect(api!.dataImport.imports(PID).map((i) => i.id)).toEqual([imports[0]!.id])
      const ledger = JSON.parse(await readFile(join(dir, 'state-b', 'imports.json'), 'utf8')) as { files: LedgerFile[] }
      expect(ledger.files.map((f) => f.upload?.state)).toEqual(['undone'])

      // A later --upload with that state leaves the undone file out.
      const again = await upload('b')
      expect(again.code, again.stderr).toBe(0)
      expect(api!.dataImport.imports(PID)).toHaveLength(1)
    })
  })

  it('usage errors: an unknown or malformed id, no files at all (exit 2, one line)', async () => {
    api = await startTestApi({ dataImport: { email: EMAIL, password: PASSWORD, stepMs: 2 } })
    await withTempDir(async (dir) => {
      const base = ['backfill', '-p', PID, '--api-url', api!.url, '--state-dir', join(dir, 's')]
      const cases: [string[], RegExp][] = [
        [[...base, '--undo-import', '7'], /project AbCdEf123456 has no import 7 \(Import not found\)/],
        [[...base, '--undo-import', 'x'], /--undo-import x: expected an import id, a whole number from 1 to 255/],
        [base, /backfill: missing log files/],
      ]
      for (const [args, message] of cases) {
        const r = await runCli(args, { env: ENV })
        expect(r.code, r.stderr).toBe(2)
        expect(r.stderr).toMatch(message)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
      }
    })
  })

  it('refuses before any request: an id out of range, files beside it, --dry-run, no credentials', async () => {
    const io = { stdout: process.stdout, now: Date.now, env: ENV }
    const flags = { undoImport: '1', project: PID, apiUrl: 'http://127.0.0.1:9/log', stateDir: '/nonexistent/state' }
    await expect(runUndoImport([], { ...flags, undoImport: '256' }, io)).rejects.toThrow(/from 1 to 255/)
    await expect(runUndoImport([], { ...flags, undoImport: '0' }, io)).rejects.toThrow(/from 1 to 255/)
    await expect(runUndoImport([SAMPLE], flags, io)).rejects.toThrow(/--undo-import takes no log files/)
    await expect(runUndoImport([], { ...flags, dryRun: true }, io)).rejects.toThrow(/has no --dry-run/)
    await expect(runUndoImport([], flags, { ...io, env: {} })).rejects.toThrow(/--undo-import needs SWETRIX_TOKEN, or SWETRIX_EMAIL and SWETRIX_PASSWORD/)
    await expect(runUndoImport([], { ...flags, project: undefined }, io)).rejects.toThrow(/project id is required/)
  })
})
