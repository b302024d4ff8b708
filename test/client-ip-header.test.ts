// `--client-ip-header NAME` end to end: `run` as cron runs it, against a small HTTP server that
// records each request's headers (the test API keeps only the events). A self-hosted Swetrix with
// CLIENT_IP_HEADER=cf-connecting-ip reads the visitor from that header first.
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, withTempDir } from './helpers/cli.js'

const PID = 'AbCdEf123456'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const VISITORS = ['192.0.2.10', '198.51.100.20', '203.0.113.30', '2001:db8::40']

const seen: IncomingHttpHeaders[] = []
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    seen.push(req.headers)
    res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
  })
})
let apiUrl = ''

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

function log(): string {
  return (
    VISITORS.map((ip, i) => `${ip} - - [01/Nov/2026:12:00:0${i} +0000] "GET /page-${i} HTTP/1.1" 200 512 "-" "${UA}"`).join('\n') +
    // one error event too: every request carries the header, not only pageviews
    `\n192.0.2.99 - - [01/Nov/2026:12:00:09 +0000] "GET /boom HTTP/1.1" 503 0 "-" "${UA}"\n`
  )
}

describe('--client-ip-header', () => {
  it("puts the visitor's address in the named header of every request, beside X-Forwarded-For", async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'access.log')
      await writeFile(file, log())
      seen.length = 0
      const r = await runCli([
        'run',
        '--from-beginning',
        '-p',
        PID,
        '--api-url',
        apiUrl,
        '--state-dir',
        join(dir, 'state'),
        '--client-ip-header',
        'CF-Connecting-IP',
        file,
      ])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(seen).toHaveLength(5)
      const got = seen.map((h) => [h['cf-connecting-ip'], h['x-forwarded-for'], h['x-client-ip-address']])
      expect(got.map((g) => g[0]).sort()).toEqual([...VISITORS, '192.0.2.99'].sort())
      for (const [cf, xff, xcip] of got) {
        expect(xff).toBe(cf)
        expect(xcip).toBe(cf)
      }
    })
  })

  it('is read from SWETRIX_CLIENT_IP_HEADER too', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'access.log')
      await writeFile(file, log())
      seen.length = 0
      const r = await runCli(['run', '--from-beginning', '-p', PID, '--api-url', apiUrl, '--state-dir', join(dir, 'state'), file], {
        env: { SWETRIX_CLIENT_IP_HEADER: 'True-Client-IP' },
      })
      expect(r.code).toBe(0)
      expect(seen.map((h) => h['true-client-ip']).sort()).toEqual([...VISITORS, '192.0.2.99'].sort())
    })
  })

  it('an unusable name stops at start with exit 2 and one line; nothing is sent', async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, 'access.log')
      await writeFile(file, log())
      seen.length = 0
      for (const [name, why] of [
        ['X-Forwarded-For', /already carries the visitor's address/],
        ['Connection', /connection header/],
        ['cf connecting ip', /not a header name/],
      ] as const) {
        const r = await runCli(['run', '--from-beginning', '-p', PID, '--api-url', apiUrl, '--state-dir', join(dir, 'state'), '--client-ip-header', name, file])
        expect(r.code).toBe(2)
        expect(r.stderr).toMatch(why)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
      }
      expect(seen).toHaveLength(0)
    })
  })
})
