// `run` as a user runs it (the built CLI, a child process) against APIs that hang, recover, answer
// too late, or answer 2xx without being Swetrix (issue 22): a request written and left unanswered
// past --request-timeout is reported uncertain (uncertain.ndjson, the summary's `uncertain`) and never
// sent again; at most --concurrency (+ 1 trial) events are in doubt per hang; every other event stays
// unsent, the run ends with the retry-later status, and the next run sends the rest once; an API that
// recovers gets the rest in the same run, none twice; a captive portal is one clear line and no
// dead letters.
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestApi } from '../src/testapi/server.js'
import { collect, spawnCli, withTempDir, type CliResult } from './helpers/cli.js'

/** The sink's probe: a POST without a pid, which Swetrix refuses (400) before storing anything. */
const isProbe = (body: string) => body === '{}'
const PROBE_ANSWER = JSON.stringify({ statusCode: 400, message: ['The provided Project ID (pid) is incorrect'], error: 'Bad Request' })

const PROJECT = 'HUNGPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const NO_PROXY_ENV = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '' }
const N = 30

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function writeLog(dir: string): Promise<string> {
  const log = join(dir, 'access.log')
  let text = ''
  for (let i = 0; i < N; i++) text += `198.51.100.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /page/${i} HTTP/1.1" 200 99 "-" "${UA}"\n`
  await writeFile(log, text)
  return log
}

/** The CLI, bounded: a run that does not end within `limitMs` is killed and the test fails. */
async function run(api: string, dir: string, log: string, extra: string[], limitMs = 20_000): Promise<CliResult> {
  const args = ['run', '--from-beginning', '--json', '-p', PROJECT, '--api-url', api, '--state-dir', join(dir, 'state'), ...extra, log]
  const child = spawnCli(args, { env: NO_PROXY_ENV })
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs)
  try {
    const r = await collect(child)
    expect(r.signal, `run did not end within ${limitMs} ms`).toBeNull()
    return r
  } finally {
    clearTimeout(killer)
  }
}

const delivery = (stdout: string) => (JSON.parse(stdout) as { totals: { delivery: Record<string, number> } }).totals.delivery

async function listen(server: { listen(port: number, host: string): unknown; close(cb: () => void): unknown; address(): unknown }, onClose: () => void) {
  server.listen(0, '127.0.0.1')
  await once(server as never, 'listening')
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        onClose()
        server.close(() => r())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/log`
}

/** Accepts, reads, never answers; records the page of every POST it read. */
async function silentApi() {
  const sockets = new Set<Socket>()
  const posts: string[] = []
  const server = createNetServer((s) => {
    sockets.add(s)
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      for (let m = /"pg":"([^"]*)"/.exec(text); m; m = /"pg":"([^"]*)"/.exec(text)) {
        posts.push(m[1]!)
        text = text.slice(m.index + m[0].length)
      }
    })
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  const url = await listen(server, () => {
    for (const s of sockets) s.destroy()
  })
  return { url, posts }
}

async function httpApi(handle: (req: IncomingMessage, body: string, res: ServerResponse) => void) {
  const server = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString('latin1')))
    req.on('end', () => handle(req, body, res))
  })
  return listen(server, () => server.closeAllConnections())
}

/** The pages in `uncertain.ndjson` and why each is there, by page. */
async function uncertainEntries(dir: string): Promise<{ pg: string; why?: string }[]> {
  const file = join(dir, 'state', 'uncertain.ndjson')
  if (!existsSync(file)) return []
  const text = await readFile(file, 'utf8')
  return text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { body: { pg: string }; why?: string })
    .map((e) => ({ pg: String(e.body.pg), why: e.why }))
    .sort((a, b) => (a.pg < b.pg ? -1 : a.pg > b.pg ? 1 : 0))
}

const sorted = (xs: string[]) => [...xs].sort()
const UNANSWERED_WHY = 'no answer within --request-timeout'

describe('run against a hung API', () => {
  it(
    'ends after --max-retry-time with exit 1; the --concurrency events written are reported uncertain, each written once; the next run sends the rest once',
    { timeout: 40_000 },
    async () => {
      const hung = await silentApi()
      await withTempDir(async (dir) => {
        const log = await writeLog(dir)
        const r = await run(hung.url, dir, log, ['--concurrency', '4', '--request-timeout', '300ms', '--max-retry-time', '1s'])
        expect(r.code).toBe(1)
        expect(r.stderr).not.toContain('198.51.100.') // no visitor address in the tool's own messages
        const lines = r.stderr.trim().split('\n')
        expect(lines).toHaveLength(2)
        expect(lines[0]).toMatch(/: 4 request\(s\) got no answer in time .*not sent again.*uncertain\.ndjson$/)
        expect(lines[1]).toMatch(/^swetrix-ingest: Events API .* answered no request for \d+ s/)
        // Four events were written into the hung API, each exactly once; nothing else reached it.
        expect(hung.posts.length).toBe(4)
        expect(new Set(hung.posts).size).toBe(4)
        expect(delivery(r.stdout)).toMatchObject({ accepted: 0, uncertain: 4, unansweredRetries: 0 })
        expect(await uncertainEntries(dir)).toEqual(sorted(hung.posts).map((pg) => ({ pg, why: UNANSWERED_WHY })))

        const api = await startTestApi({ projects: [PROJECT] })
        cleanups.push(() => api.close())
        const next = await run(api.url, dir, log, ['--concurrency', '4'])
        expect(next.code).toBe(0)
        expect(next.stderr).toBe('') // already reported: not counted again
        expect(delivery(next.stdout)).toMatchObject({ accepted: N - 4, uncertain: 0, unansweredRetries: 0 })
        const sent = api.accepted().map((e) => String(e.body.pg))
        expect(new Set(sent).size).toBe(sent.length)
        expect(sent.filter((p) => hung.posts.includes(p))).toEqual([])
        expect(sent.length).toBe(N - 4)
        expect(await uncertainEntries(dir)).toHaveLength(4)
      })
    },
  )

  it(
    'hangs for a while, then recovers: the events written while it hung are uncertain, never resent; every other event arrives once',
    { timeout: 30_000 },
    async () => {
      let hanging = true
      let probes = 0
      const hungPages: string[] = []
      const stored = new Map<string, number>()
      const url = await httpApi((req, body, res) => {
        if (isProbe(body)) {
          if (++probes >= 2) hanging = false // the second probe finds it back
          if (!hanging) res.writeHead(400, { 'content-type': 'application/json' }).end(PROBE_ANSWER)
          return
        }
        const pg = String((JSON.parse(body) as { pg: string }).pg)
        if (hanging) {
          hungPages.push(pg) // never processed, never answered
          return
        }
        stored.set(pg, (stored.get(pg) ?? 0) + 1)
        res.writeHead(201, { 'content-type': 'application/json' }).end('{}')
      })
      await withTempDir(async (dir) => {
        const log = await writeLog(dir)
        const r = await run(url, dir, log, ['--concurrency', '4', '--request-timeout', '300ms'])
        expect(r.code).toBe(0)
        expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/: 4 request\(s\) got no answer in time .*uncertain\.ndjson$/)])
        expect(delivery(r.stdout)).toMatchObject({ accepted: N - 4, uncertain: 4, unansweredRetries: 0 })
        expect(hungPages.length).toBe(4)
        expect([...stored].filter(([, c]) => c !== 1)).toEqual([])
        expect(stored.size).toBe(N - 4)
        expect(hungPages.filter((p) => stored.has(p))).toEqual([])
        expect(await uncertainEntries(dir)).toEqual(sorted(hungPages).map((pg) => ({ pg, why: UNANSWERED_WHY })))
        expect(existsSync(join(dir, 'state', 'unanswered-retries.ndjson'))).toBe(false)
      })
    },
  )

  it(
    'an API that stores every event but answers after the deadline (its probes at once): exit 1 with at most --concurrency + 1 uncertain, the rest sent once by the next run',
    { timeout: 40_000 },
    async () => {
      const stored = new Map<string, number>()
      const late = await httpApi((req, body, res) => {
        if (isProbe(body)) return res.writeHead(400, { 'content-type': 'application/json' }).end(PROBE_ANSWER)
        const pg = String((JSON.parse(body) as { pg: string }).pg)
        stored.set(pg, (stored.get(pg) ?? 0) + 1)
        const t = setTimeout(() => res.writeHead(201, { 'content-type': 'application/json' }).end('{}'), 2000)
        res.on('close', () => clearTimeout(t)) // the client gave up first
      })
      await withTempDir(async (dir) => {
        const log = await writeLog(dir)
        const r = await run(late, dir, log, ['--concurrency', '4', '--request-timeout', '200ms', '--max-retry-time', '1s'])
        expect(r.code).toBe(1)
        expect(r.stderr).toMatch(/answered no request for \d+ s/)
        const inDoubt = [...stored.keys()]
        expect(inDoubt.length).toBeGreaterThanOrEqual(4)
        expect(inDoubt.length).toBeLessThanOrEqual(4 + 1)
        expect([...stored.values()].every((n) => n === 1)).toBe(true)
        expect(delivery(r.stdout)).toMatchObject({ accepted: 0, uncertain: inDoubt.length, unansweredRetries: 0 })
        expect(await uncertainEntries(dir)).toEqual(sorted(inDoubt).map((pg) => ({ pg, why: UNANSWERED_WHY })))

        const api = await startTestApi({ projects: [PROJECT] })
        cleanups.push(() => api.close())
        const next = await run(api.url, dir, log, ['--concurrency', '4'])
        expect(next.code).toBe(0)
        const sent = api.accepted().map((e) => String(e.body.pg))
        // Together: every event once (the late API stored the ones in doubt).
        expect(sorted([...sent, ...inDoubt])).toEqual(sorted(Array.from({ length: N }, (_, i) => `/page/${i}`)))
      })
    },
  )
})

describe('run against a 2xx that is not Swetrix (a captive portal)', () => {
  it(
    'exits 1 with one line saying nothing was recorded, dead-letters nothing, leaves nothing uncertain; the next run sends every event once',
    { timeout: 30_000 },
    async () => {
      const portal = await httpApi((_req, _body, res) => {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><title>Hotel Wi-Fi</title></head><body><form>Sign in</form></body></html>')
      })
      await withTempDir(async (dir) => {
        const log = await writeLog(dir)
        const r = await run(portal, dir, log, ['--concurrency', '4', '--max-retry-time', '1s'])
        expect(r.code).toBe(1)
        const lines = r.stderr.trim().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain('HTTP 200 with "<html>')
        expect(lines[0]).toContain('not an answer of the Swetrix API')
        expect(delivery(r.stdout)).toMatchObject({ accepted: 0, deadLettered: 0 })
        expect(existsSync(join(dir, 'state', 'dead-letter.ndjson'))).toBe(false)

        const api = await startTestApi({ projects: [PROJECT] })
        cleanups.push(() => api.close())
        const next = await run(api.url, dir, log, ['--concurrency', '4'])
        expect(next.code).toBe(0)
        expect(next.stderr).toBe('')
        expect(delivery(next.stdout)).toMatchObject({ accepted: N, uncertain: 0 })
        const sent = api.accepted().map((e) => String(e.body.pg))
        expect(new Set(sent).size).toBe(N)
        expect(sent.length).toBe(N)
      })
    },
  )
})
