// `backfill --via import --errors-via-api`: the error events (which Data Import cannot take) go
// live to the Events API of the test API, each once, also over a rerun; the summary counts them.
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { runCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'

function clfLine(ip: string, minute: number, path: string, status: number): string {
  return `${ip} - - [26/Jan/2026:08:${String(minute).padStart(2, '0')}:00 +0000] "GET ${path} HTTP/1.1" ${status} 512 "-" "${UA}"\n`
}

describe('backfill --errors-via-api', () => {
  let api: TestApi | null = null
  afterEach(async () => {
    await api?.close()
    api = null
  })

  it('sends each error event once to the Events API, counts them, and imports the rest as rows', async () => {
    api = await startTestApi()
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      let text = ''
      for (let m = 0; m < 20; m++) text += clfLine(`192.0.2.${m + 1}`, m, `/page-${m}`, m % 4 === 0 ? 502 : 200)
      await writeFile(log, text)
      const args = [
        'backfill',
        '--json',
        '--no-progress',
        '--errors-via-api',
        '-p',
        PROJECT,
        '--api-url',
        api!.url,
        '--out',
        join(dir, 'out'),
        '--state-dir',
        join(dir, 'state'),
        log,
      ]
      const first = await runCli(args)
      expect(first.code, first.stderr).toBe(0)
      const s1 = JSON.parse(first.stdout).import
      expect(s1.rows).toBe(15)
      expect(s1.errorsNotImported).toBe(5)
      expect(s1.errorsViaApi).toMatchObject({ sent: 5, accepted: 5, uncertain: 0 })
      const errors = () => api!.accepted().filter((e) => e.endpoint === '/log/error')
      expect(
        errors()
          .map((e) => e.ip)
          .sort(),
      ).toEqual(['192.0.2.1', '192.0.2.13', '192.0.2.17', '192.0.2.5', '192.0.2.9'])
      expect(api!.accepted()).toHaveLength(5) // pageviews went to the import file, not the API

      // More lines in the live file: a rerun sends only the new error, never the old ones again.
      await appendFile(log, clfLine('198.51.100.7', 30, '/late', 503) + clfLine('198.51.100.8', 31, '/ok', 200))
      const second = await runCli(args)
      expect(second.code, second.stderr).toBe(0)
      expect(JSON.parse(second.stdout).import.errorsViaApi).toMatchObject({ sent: 1, accepted: 1 })
      expect(errors().map((e) => e.ip)).toHaveLength(6)
      expect(errors().filter((e) => e.ip === '198.51.100.7')).toHaveLength(1)

      const plain = await runCli([
        'backfill',
        '--no-progress',
        '--errors-via-api',
        '-p',
        PROJECT,
        '--api-url',
        api!.url,
        '--out',
        join(dir, 'out'),
        '--state-dir',
        join(dir, 'state'),
        log,
      ])
      expect(plain.code, plain.stderr).toBe(0)
      expect(plain.stdout).toMatch(/errors +0 error events sent live/)
      expect(errors()).toHaveLength(6)
    })
  })
})
