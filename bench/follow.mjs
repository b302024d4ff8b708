// `npm run bench:follow`: what `follow` forwards while a writer appends, against the bundled test API
// on loopback (in this process), per scenario (API latency, --concurrency, the writer's rate):
//   - append-to-accept latency p50/p99 at a steady rate (the time from the write of a line to the API
//     recording it), and the CPU of the `follow` process per line (user + system, from /proc);
//   - sustained lines/s: a writer appending as fast as it can for a while, lines/s accepted.
// Default scenarios: 1,000 lines/s at 0 and 40 ms, and 5,000 lines/s at 20 ms with 64 in flight.
// Options: --scenarios LIST of rate/latency/concurrency[/events %] (e.g. 1000/0/16,5000/20/64/50;
//          the other lines are static assets, which follow skips; replaces the defaults), or one scenario per latency from --rate N, --latency LIST, --concurrency N;
//          --seconds N (15), --burst-lines N (100000; 0 skips the burst).
// Nothing here asserts; it reports.
import { spawn } from 'node:child_process'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { startTestApi } from '../dist/src/testapi/server.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/swetrix-ingest.js')
const { values: opt } = parseArgs({
  options: {
    scenarios: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string', default: '15' },
    'burst-lines': { type: 'string', default: '100000' },
    latency: { type: 'string' },
    concurrency: { type: 'string' },
  },
})
const DEFAULT_SCENARIOS = '1000/0/16,1000/40/64,5000/20/64'
const scenarios =
  opt.scenarios !== undefined || (opt.rate === undefined && opt.latency === undefined && opt.concurrency === undefined)
    ? (opt.scenarios ?? DEFAULT_SCENARIOS).split(',').map((s) => {
        const [rate, latencyMs, concurrency, events = 100] = s.split('/').map(Number)
        return { rate, latencyMs, concurrency, eventShare: events / 100 }
      })
    : (opt.latency ?? '0,40')
        .split(',')
        .map((l) => ({ rate: Number(opt.rate ?? 1000), latencyMs: Number(l), concurrency: Number(opt.concurrency ?? 16), eventShare: 1 }))
const PROJECT = 'BENCHFOLLOW1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0'
/** Line `i`: a page view, or (beyond `eventShare` of every 100 lines) a static asset, which follow skips. */
const line = (tag, i, eventShare = 1) =>
  `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /${tag}/${i}${i % 100 < eventShare * 100 ? '' : '.js'} HTTP/1.1" 200 512 "-" "${UA}"\n`
const eventsIn = (n, eventShare) => {
  let k = 0
  for (let i = 0; i < n; i++) if (i % 100 < eventShare * 100) k++
  return k
}
const wait = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (Linux; null elsewhere). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks of 1/100 s
  } catch {
    return null
  }
}

async function scenario({ rate, latencyMs, concurrency, eventShare }) {
  const api = await startTestApi({ projects: [PROJECT], faults: latencyMs > 0 ? { latencyMs } : {} })
  const dir = await mkdtemp(join(tmpdir(), 'swetrix-follow-bench-'))
  const log = join(dir, 'access.log')
  writeFileSync(log, '')
  const child = spawn(
    process.execPath,
    [cli, 'follow', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '--stats-interval', '0', '--concurrency', String(concurrency), log],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  child.stderr.resume()
  try {
    // follow starts at the end of a file it has no checkpoint for: a warm-up line every 200 ms until
    // one is accepted says it has opened the file and sends.
    const ready = performance.now()
    for (let w = 0; api.accepted().length < 1; w++) {
      if (performance.now() - ready > 30_000) throw new Error('follow did not send a line within 30 s')
      appendFileSync(log, line('w', w))
      await wait(200)
    }
    api.reset()
    // 1. latency at a steady rate
    const total = rate * Number(opt.seconds)
    const writtenAt = new Array(total)
    const cpu0 = cpuSeconds(child.pid)
    const t0 = performance.now()
    let i = 0
    while (i < total) {
      const due = Math.min(total, Math.floor((rate * (performance.now() - t0)) / 1000))
      let chunk = ''
      const now = Date.now()
      for (; i < due; i++) {
        chunk += line('l', i, eventShare)
        writtenAt[i] = now
      }
      if (chunk) appendFileSync(log, chunk)
      await wait(5)
    }
    const events = eventsIn(total, eventShare)
    while (api.accepted().length < events) await wait(20)
    const cpu1 = cpuSeconds(child.pid)
    const lat = api
      .accepted()
      .map((e) => e.t - writtenAt[Number(String(e.body.pg).split('/')[2])])
      .sort((a, b) => a - b)
    const load = loadavg()[0]
    // 2. sustained rate: a burst appended as fast as possible, in 10,000-line writes
    api.reset()
    const burst = Number(opt['burst-lines'])
    const b0 = performance.now()
    for (let k = 0; k < burst; k += 10_000) {
      let chunk = ''
      for (let j = k; j < Math.min(burst, k + 10_000); j++) chunk += line('b', j, eventShare)
      appendFileSync(log, chunk)
      await wait(1)
    }
    const burstEvents = eventsIn(burst, eventShare)
    while (api.accepted().length < burstEvents) await wait(20)
    const secs = (performance.now() - b0) / 1000
    const cpuPerLineUs = cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / total) * 1e6 : null
    return {
      rate,
      latencyMs,
      concurrency,
      eventShare,
      p50: pct(lat, 50),
      p99: pct(lat, 99),
      max: lat.at(-1),
      cpuPerLineUs,
      load,
      sustained: burst > 0 ? burst / secs : null,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.on('close', r))
    await api.close()
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`follow benchmark (test API on loopback; writer in this process; ${cpus().length} cores)`)
for (const s of scenarios) {
  const r = await scenario(s)
  console.log(
    `  API latency ${String(r.latencyMs).padStart(2)} ms, --concurrency ${r.concurrency}, ${Math.round(r.eventShare * 100)}% of lines events: append-to-accept at ${r.rate} lines/s p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; ` +
      `CPU ${r.cpuPerLineUs === null ? 'n/a' : `${r.cpuPerLineUs.toFixed(0)} µs`} per line (follow's user + system); ` +
      `${r.sustained === null ? '' : `sustained ${Math.round(r.sustained).toLocaleString('en-US')} lines/s; `}load ${r.load.toFixed(2)}`,
  )
}
