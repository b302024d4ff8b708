// Delivery on real networks, through the built CLI as a child process: HTTPS with fixture
// certificates (fixtures/tls/, see generate.sh), a forward proxy, a clean stop during an outage, and
// answers lost after the server stored the event. Every case checks what a user relies on: no event
// that never reached the API is skipped, and the next run sends each exactly once.
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { startTestApi, type TestApi, type TestApiOptions } from '../src/testapi/server.js'
import { collect, repoRoot, runCli, spawnCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'NETPROJECT01'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const tlsDir = join(repoRoot, 'fixtures/tls')
const pem = (name: string) => readFileSync(join(tlsDir, name))
const CA = join(tlsDir, 'ca.pem')
/** No proxy from the developer's environment leaks into a test. */
const NO_PROXY_ENV = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '', NODE_EXTRA_CA_CERTS: '' }

async function writeLog(dir: string, n: number): Promise<{ log: string; offsets: Map<string, number> }> {
  const log = join(dir, 'access.log')
  const offsets = new Map<string, number>()
  let text = ''
  for (let i = 0; i < n; i++) {
    offsets.set(`/page/${i}`, Buffer.byteLength(text))
    text += `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /page/${i} HTTP/1.1" 200 99 "-" "${UA}"\n`
  }
  await writeFile(log, text)
  return { log, offsets }
}

async function withApi<T>(o: TestApiOptions, fn: (api: TestApi) => Promise<T>): Promise<T> {
  const api = await startTestApi({ projects: [PROJECT], ...o })
  try {
    return await fn(api)
  } finally {
    await api.close()
  }
}

function runArgs(api: string, dir: string, log: string, extra: string[] = []): string[] {
  return ['run', '--from-beginning', '--json', '-p', PROJECT, '--api-url', api, '--state-dir', join(dir, 'state'), '--concurrency', '8', ...extra, log]
}

/** Each page of the log exactly once at the API. */
function expectExactlyOnce(received: string[], n: number): void {
  const counts = new Map<string, number>()
  for (const p of received) counts.set(p, (counts.get(p) ?? 0) + 1)
  expect([...counts].filter(([, c]) => c > 1)).toEqual([])
  expect(counts.size).toBe(n)
}

const pages = (api: TestApi) => api.accepted().map((e) => String(e.body.pg))
const delivery = (stdout: string) => (JSON.parse(stdout) as { totals: { delivery: Record<string, number> } }).totals.delivery

describe('HTTPS', () => {
  it('trusts a private CA through --ca-file and through NODE_EXTRA_CA_CERTS', { timeout: 30_000 }, async () => {
    await withApi({ tls: { cert: pem('server.pem'), key: pem('server.key') } }, async (api) => {
      expect(api.url).toMatch(/^https:/)
      await withTempDir(async (dir) => {
        const { log } = await writeLog(dir, 20)
        const r = await runCli(runArgs(api.url, dir, log, ['--ca-file', CA]), { env: NO_PROXY_ENV })
        expect(r.stderr).toBe('')
        expect(r.code).toBe(0)
        expect(delivery(r.stdout)).toMatchObject({ accepted: 20, uncertain: 0 })
      })
      await withTempDir(async (dir) => {
        const { log } = await writeLog(dir, 20)
        const r = await runCli(runArgs(api.url, dir, log), { env: { ...NO_PROXY_ENV, NODE_EXTRA_CA_CERTS: CA } })
        expect(r.code).toBe(0)
        expect(delivery(r.stdout)).toMatchObject({ accepted: 20 })
      })
      // Two runs of the same 20 pages (two state dirs): each page twice, none more.
      expect(pages(api).length).toBe(40)
      expect(new Set(pages(api)).size).toBe(20)
    })
  })

  it(
    'self-signed, expired and wrong-host certificates each stop at once with one clear line, nothing uncertain; the next run sends every event once',
    { timeout: 60_000 },
    async () => {
      await withTempDir(async (dir) => {
        const { log } = await writeLog(dir, 30)
        for (const [cert, problem] of [
          ['self-signed.pem', 'is self-signed'],
          ['expired.pem', 'has expired'],
          ['wrong-host.pem', 'does not name this host'],
        ] as const) {
          await withApi({ tls: { cert: pem(cert), key: pem('server.key') } }, async (bad) => {
            const r = await runCli(runArgs(bad.url, dir, log, ['--ca-file', CA]), { env: NO_PROXY_ENV })
            expect(r.code, cert).toBe(2)
            const lines = r.stderr.trim().split('\n')
            expect(lines, cert).toHaveLength(1)
            expect(lines[0]).toContain(`TLS certificate of ${bad.url} ${problem}`)
            expect(lines[0]).toContain('nothing was sent')
            expect(r.stderr).not.toContain('unexpected error')
            expect(bad.stats().requests).toBe(0)
          })
        }
        await withApi({ tls: { cert: pem('server.pem'), key: pem('server.key') } }, async (good) => {
          const r = await runCli(runArgs(good.url, dir, log, ['--ca-file', CA]), { env: NO_PROXY_ENV })
          expect(r.stderr).toBe('')
          expect(r.code).toBe(0)
          expect(delivery(r.stdout)).toMatchObject({ accepted: 30, uncertain: 0 })
          expectExactlyOnce(pages(good), 30)
        })
        expect(existsSync(join(dir, 'state', 'uncertain.ndjson'))).toBe(false)
      })
    },
  )
})

/** A forward proxy: absolute-URI requests (plain http) and CONNECT tunnels (https). */
async function startProxy(): Promise<{ url: string; absolute: string[]; connects: string[]; close(): Promise<void> }> {
  const absolute: string[] = []
  const connects: string[] = []
  const sockets = new Set<Socket>()
  const server: Server = createServer((req, res) => {
    absolute.push(req.url!)
    const target = new URL(req.url!)
    const up = httpRequest(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(res)
      },
    )
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  server.on('connect', (req, client: Socket, head: Buffer) => {
    connects.push(req.url!)
    const [host, port] = req.url!.split(':')
    const up = connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      up.write(head)
      up.pipe(client)
      client.pipe(up)
    })
    up.on('error', () => client.destroy())
    client.on('error', () => up.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    absolute,
    connects,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}

describe('proxies', () => {
  it('HTTP_PROXY carries every plain-http request as an absolute URI; NO_PROXY bypasses it', { timeout: 30_000 }, async () => {
    const proxy = await startProxy()
    try {
      await withApi({}, async (api) => {
        await withTempDir(async (dir) => {
          const { log } = await writeLog(dir, 15)
          const r = await runCli(runArgs(api.url, dir, log), { env: { ...NO_PROXY_ENV, HTTP_PROXY: proxy.url } })
          expect(r.code).toBe(0)
          expect(proxy.absolute.length).toBe(15)
          expect(proxy.absolute.every((u) => u === api.url)).toBe(true)
        })
        await withTempDir(async (dir) => {
          const { log } = await writeLog(dir, 15)
          const r = await runCli(runArgs(api.url, dir, log), { env: { ...NO_PROXY_ENV, http_proxy: proxy.url, no_proxy: 'localhost,127.0.0.1' } })
          expect(r.code).toBe(0)
          expect(proxy.absolute.length).toBe(15) // none more
        })
        expect(api.stats().requests).toBe(30)
      })
    } finally {
      await proxy.close()
    }
  })

  it('https_proxy tunnels HTTPS through CONNECT, the private CA still verified inside the tunnel', { timeout: 30_000 }, async () => {
    const proxy = await startProxy()
    try {
      await withApi({ tls: { cert: pem('server.pem'), key: pem('server.key') } }, async (api) => {
        await withTempDir(async (dir) => {
          const { log } = await writeLog(dir, 15)
          const r = await runCli(runArgs(api.url, dir, log, ['--ca-file', CA]), { env: { ...NO_PROXY_ENV, https_proxy: proxy.url } })
          expect(r.stderr).toBe('')
          expect(r.code).toBe(0)
          expect(proxy.connects.length).toBeGreaterThan(0)
          expect(proxy.connects.every((c) => c === `127.0.0.1:${api.port}`)).toBe(true)
          expect(proxy.absolute).toEqual([])
          expectExactlyOnce(pages(api), 15)
        })
      })
    } finally {
      await proxy.close()
    }
  })
})

describe('outages and lost answers', () => {
  it('SIGTERM while every connection is refused exits 0 at once; the next run sends every event once, 0 uncertain', { timeout: 60_000 }, async () => {
    await withApi({}, async (api) => {
      api.startOutage(600, 'refuse')
      await withTempDir(async (dir) => {
        const { log } = await writeLog(dir, 40)
        const child = spawnCli(runArgs(api.url, dir, log), { env: NO_PROXY_ENV })
        const done = collect(child)
        // Sends start only after their reservation is durable: once the journal exists they are retrying.
        const journal = join(dir, 'state', 'progress.journal')
        for (let i = 0; i < 2000 && !existsSync(journal); i++) await new Promise((r) => setTimeout(r, 5))
        expect(existsSync(journal)).toBe(true)
        // Let the first attempts fail and the sends settle into their backoff (nothing to await here).
        await new Promise((r) => setTimeout(r, 300))
        child.kill('SIGTERM')
        const stopped = await done
        expect(stopped.code).toBe(0)
        expect(delivery(stopped.stdout)).toMatchObject({ accepted: 0, uncertain: 0 })
        api.endOutage()
        await api.whenUp()
        const r = await runCli(runArgs(api.url, dir, log), { env: NO_PROXY_ENV })
        expect(r.code).toBe(0)
        expect(r.stderr).not.toMatch(/uncertain|in flight|unanswered/)
        expect(delivery(r.stdout)).toMatchObject({ accepted: 40, uncertain: 0 })
        expectExactlyOnce(pages(api), 40)
        expect(existsSync(join(dir, 'state', 'uncertain.ndjson'))).toBe(false)
      })
    })
  })

  it('answers lost after the server stored the event are counted as unanswered retries and listed', { timeout: 60_000 }, async () => {
    await withApi({ seed: 11, faults: { resetAfterStoreRate: 0.2 } }, async (api) => {
      await withTempDir(async (dir) => {
        const { log, offsets } = await writeLog(dir, 60)
        const r = await runCli(runArgs(api.url, dir, log), { env: NO_PROXY_ENV })
        expect(r.code).toBe(0)
        const d = delivery(r.stdout)
        expect(d.unansweredRetries).toBeGreaterThan(0)
        const listed = (await readFile(join(dir, 'state', 'unanswered-retries.ndjson'), 'utf8'))
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { file: string; offset: number; retries: number })
        expect(listed.reduce((a, e) => a + e.retries, 0)).toBe(d.unansweredRetries)
        expect(listed.every((e) => e.file === log)).toBe(true)
        // Every event the API holds twice is among the listed ones; nothing is missing.
        const counts = new Map<string, number>()
        for (const p of pages(api)) counts.set(p, (counts.get(p) ?? 0) + 1)
        expect(counts.size).toBe(60)
        const listedOffsets = new Set(listed.map((e) => e.offset))
        const dups = [...counts].filter(([, c]) => c > 1).map(([p]) => offsets.get(p)!)
        expect(dups.length).toBeGreaterThan(0)
        expect(dups.filter((o) => !listedOffsets.has(o))).toEqual([])
      })
    })
  })
})
