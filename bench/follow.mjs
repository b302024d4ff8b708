// `npm run bench:follow`: what `follow` forwards while a writer appends, against the bundled test API
// on loopback (in this process), with and without 40 ms of added API latency:
//   - append-to-accept latency p50/p99 at a steady 1,000 lines/s (the time from the write of a line
//     to the API recording it);
//   - sustained lines/s: a writer appending as fast as it can for a while, lines/s accepted.
// Options: --rate N (1000), --seconds N (15), --burst-lines N (100000), --latency LIST (0,40),
//          --concurrency N (16).
// Nothing here asserts; it reports.
import { spawn } from 'node:child_process'
import { appendFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startTestApi } from '../dist/src/testapi/server.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/swetrix-ingest.js')
const { values: opt } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    'burst-lines': { type: 'string', default: '100000' },
    latency: { type: 'string', default: '0,40' },
    concurrency: { type: 'string', default: '16' },
  },
})
const PROJECT = 'BENCHFOLLOW1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0'
const line = (tag, i) => `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /${tag}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
const wait = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]

async function scenario(latencyMs) {
  const api = await startTestApi({ projects: [PROJECT], faults: latencyMs > 0 ? { latencyMs } : {} })
  const dir = await mkdtemp(join(tmpdir(), 'swetrix-follow-bench-'))
  const log = join(dir, 'access.log')
  writeFileSync(log, '')
  const child = spawn(
    process.execPath,
    [cli, 'follow', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '--stats-interval', '0', '--concurrency', opt.concurrency, log],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  child.stderr.resume()
  // follow opens the empty file and waits for its first line; give it time to start.
  await wait(1500)
  try {
    // 1. latency at a steady rate
    const rate = Number(opt.rate)
    const total = rate * Number(opt.seconds)
    const writtenAt = new Array(total)
    const t0 = performance.now()
    let i = 0
    while (i < total) {
      const due = Math.min(total, Math.floor((rate * (performance.now() - t0)) / 1000))
      let chunk = ''
      const now = Date.now()
      for (; i < due; i++) {
        chunk += line('l', i)
        writtenAt[i] = now
      }
      if (chunk) appendFileSync(log, chunk)
      await wait(5)
    }
    while (api.accepted().length < total) await wait(20)
    const lat = api
      .accepted()
      .map((e) => e.t - writtenAt[Number(String(e.body.pg).split('/')[2])])
      .sort((a, b) => a - b)
    // 2. sustained rate: a burst appended as fast as possible, in 10,000-line writes
    api.reset()
    const burst = Number(opt['burst-lines'])
    const b0 = performance.now()
    for (let k = 0; k < burst; k += 10_000) {
      let chunk = ''
      for (let j = k; j < Math.min(burst, k + 10_000); j++) chunk += line('b', j)
      appendFileSync(log, chunk)
      await wait(1)
    }
    while (api.accepted().length < burst) await wait(20)
    const secs = (performance.now() - b0) / 1000
    return { latencyMs, p50: pct(lat, 50), p99: pct(lat, 99), max: lat.at(-1), rate, sustained: burst / secs }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.on('close', r))
    await api.close()
    await rm(dir, { recursive: true, force: true })
  }
}

console.log('follow benchmark (test API on loopback; writer in this process)')
for (const l of opt.latency.split(',').map(Number)) {
  const r = await scenario(l)
  console.log(
    `  API latency ${String(r.latencyMs).padStart(2)} ms: append-to-accept at ${r.rate} lines/s p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; sustained ${Math.round(r.sustained).toLocaleString('en-US')} lines/s`,
  )
}
