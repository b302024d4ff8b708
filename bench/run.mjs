// `npm run bench`: figures and ratios against peers run side by side, in the same run.
//   1. parsing: `swetrix-ingest check` on a deterministic 1,000,000-line combined log at --threads 1
//      and --threads 2, lines/s and peak RSS, each beside GoAccess on the same file in the same pair
//      (also at 250k and 500k lines, to show RSS stays flat).
//   1b. import: `swetrix-ingest backfill --via import` (Data Import CSV files) on the same file at
//      --threads auto and 1, lines/s and peak RSS.
//   2. sending: `swetrix-ingest run` events/s against the bundled test API on loopback, beside
//      autocannon (a keep-alive HTTP load generator) against the same endpoint, 5 s before and 5 s
//      after the run (the ratio is against the mean of the two), and peak RSS.
//   3. sending with latency: the test API answers every event after --latency-ms (default 40), beside
//      the physical rate concurrency ÷ latency and autocannon at the same connections: the ratio with
//      the start-up and tail of the process included and without them (spawn to the first request,
//      last answer to the exit: bench/report-send-times.mjs), peak RSS per level; medians of --repeat.
// Options: --lines N (default 1000000), --send-lines N (default 1000000), --concurrency LIST (part 2:
//          16,64; also part 3's when --latency-concurrency is not given), --latency-concurrency LIST
//          (16,64,256), --latency-ms N (40; 0 skips part 3), --latency-seconds S (about 15 s of sending
//          per level), --repeat N (pairs per level in part 3, default 1), --skip-parse, --skip-import,
//          --skip-send, --pairs N (parts 1 and 1b N times, with medians). The core count and the load
//          average are printed beside the figures. Nothing here asserts; it reports.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeLog } from './generate-log.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/swetrix-ingest.js')
const rssPreload = join(root, 'bench/report-rss.mjs')
const sendTimesPreload = join(root, 'bench/report-send-times.mjs')
const { values: opt } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    'send-lines': { type: 'string', default: '1000000' },
    concurrency: { type: 'string' },
    'skip-parse': { type: 'boolean', default: false },
    'skip-send': { type: 'boolean', default: false },
    'skip-import': { type: 'boolean', default: false },
    'latency-ms': { type: 'string', default: '40' },
    'latency-seconds': { type: 'string', default: '15' },
    pairs: { type: 'string', default: '1' },
    'latency-concurrency': { type: 'string' },
    repeat: { type: 'string', default: '1' },
  },
})
const work = await mkdtemp(join(tmpdir(), 'swetrix-ingest-bench-'))
const fmt = (n) => Math.round(n).toLocaleString('en-US')

/** Runs a command; returns wall seconds and, for node children, peak RSS in MB (from bench/report-rss.mjs). */
function timed(cmd, args, { env = {}, stdout = 'ignore' } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(cmd, args, { stdio: ['ignore', stdout, 'pipe'], env: { ...process.env, ...env } })
    let err = ''
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      const secs = Number(process.hrtime.bigint() - t0) / 1e9
      const m = /bench-peak-rss-kb=(\d+)/.exec(err)
      resolve({ code, secs, rssMB: m ? Number(m[1]) / 1024 : null, stderr: err })
    })
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
/** The 1-minute load average, printed beside each figure (the machine may be shared). */
const load = () => `load ${loadavg()[0].toFixed(2)}`

async function check(file, threads) {
  const r = await timed(process.execPath, ['--import', rssPreload, cli, 'check', '--json', '--threads', String(threads), file])
  if (r.code !== 0) throw new Error(`check failed: ${r.stderr}`)
  return r
}

async function parseBench() {
  const total = Number(opt.lines)
  const pairs = Number(opt.pairs)
  console.log(`\n== Parsing: check on a ${fmt(total)}-line combined log ==`)
  for (const n of [Math.round(total / 4), Math.round(total / 2)]) {
    const file = join(work, `combined-${n}.log`)
    await writeLog(file, n, { seed: 42 })
    const r = await check(file, 'auto')
    console.log(
      `swetrix-ingest check  ${fmt(n).padStart(9)} lines  ${r.secs.toFixed(2)} s  ${fmt(n / r.secs)} lines/s  peak RSS ${r.rssMB?.toFixed(1)} MB  (${load()})`,
    )
  }
  const big = join(work, `combined-${total}.log`)
  await writeLog(big, total, { seed: 42 })
  console.log(`(file: ${((await stat(big)).size / 1e6).toFixed(0)} MB)`)
  const goaccess = spawnSync('sh', ['-c', 'command -v goaccess'], { encoding: 'utf8' }).stdout.trim()
  if (!goaccess) console.log('GoAccess is not installed (apt-get install goaccess): no side-by-side ratio this run.')
  // Each pair runs check at one and two threads and GoAccess back to back, so each ratio compares
  // runs made in the same minute.
  const ratios = { 1: [], 2: [] }
  const rates = { 1: [], 2: [] }
  const rss = { 1: [], 2: [] }
  const goRates = []
  for (let k = 1; k <= pairs; k++) {
    const ours = {}
    for (const t of [1, 2]) {
      const r = await check(big, t)
      ours[t] = total / r.secs
      rates[t].push(ours[t])
      rss[t].push(r.rssMB)
      console.log(
        `pair ${k}: swetrix-ingest check --threads ${t}  ${r.secs.toFixed(2)} s  ${fmt(ours[t])} lines/s  peak RSS ${r.rssMB?.toFixed(1)} MB  (${load()})`,
      )
    }
    if (!goaccess) continue
    const g = await timed(goaccess, [big, '--log-format=COMBINED', '--no-global-config', '-o', join(work, 'goaccess.json')])
    if (g.code !== 0) {
      console.log(`GoAccess failed (exit ${g.code}): ${g.stderr.slice(0, 200)}`)
      continue
    }
    const goRate = total / g.secs
    goRates.push(goRate)
    for (const t of [1, 2]) ratios[t].push(ours[t] / goRate)
    console.log(
      `pair ${k}: goaccess  ${g.secs.toFixed(2)} s  ${fmt(goRate)} lines/s  (${load()}); ratio --threads 1 ${(ours[1] / goRate).toFixed(1)}x, --threads 2 ${(ours[2] / goRate).toFixed(1)}x`,
    )
  }
  for (const t of [1, 2])
    console.log(
      `check --threads ${t}: median of ${pairs}: ${fmt(median(rates[t]))} lines/s, peak RSS ${median(rss[t]).toFixed(1)} MB` +
        (ratios[t].length > 0 ? `, ${median(ratios[t]).toFixed(1)}x GoAccess (median of the pairs' ratios)` : ''),
    )
  if (goRates.length > 0) console.log(`goaccess: median ${fmt(median(goRates))} lines/s`)
}

async function importBench() {
  const total = Number(opt.lines)
  const pairs = Number(opt.pairs)
  console.log(`\n== Import files: backfill --via import on a ${fmt(total)}-line combined log ==`)
  const file = join(work, `combined-${total}.log`)
  if (!existsSync(file)) await writeLog(file, total, { seed: 42 })
  const runs = { auto: { rates: [], rss: [] }, 1: { rates: [], rss: [] } }
  for (let k = 1; k <= pairs; k++) {
    for (const threads of ['auto', '1']) {
      const out = join(work, 'import-out')
      const state = join(work, 'state-import')
      const args = [
        '--import',
        rssPreload,
        cli,
        'backfill',
        '--via',
        'import',
        '--no-progress',
        '--json',
        '--threads',
        threads,
        '--out',
        out,
        '--state-dir',
        state,
        file,
      ]
      const r = await timed(process.execPath, args, { stdout: 'ignore' })
      if (r.code !== 0) throw new Error(`backfill --via import failed (${r.code}): ${r.stderr}`)
      runs[threads].rates.push(total / r.secs)
      runs[threads].rss.push(r.rssMB)
      console.log(
        `pair ${k}: swetrix-ingest backfill --via import --threads ${threads}  ${r.secs.toFixed(2)} s  ${fmt(total / r.secs)} lines/s  peak RSS ${r.rssMB?.toFixed(1)} MB  (${load()})`,
      )
      await rm(out, { recursive: true, force: true })
      await rm(state, { recursive: true, force: true })
    }
  }
  for (const threads of ['auto', '1'])
    console.log(
      `backfill --via import --threads ${threads}: median of ${pairs}: ${fmt(median(runs[threads].rates))} lines/s, peak RSS ${median(runs[threads].rss).toFixed(1)} MB`,
    )
}

async function startApi(extra = []) {
  const child = spawn(process.execPath, [join(root, 'dist/src/testapi/main.js'), '--port', '0', '--project', 'BENCHPROJECT', '--no-memory', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const rl = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    rl.once('line', resolve)
    child.once('exit', (c) => reject(new Error(`test API exited ${c}`)))
  })
  return { child, ...JSON.parse(first) }
}

/** What autocannon sends: one event as `run` would send it. */
const BODY = JSON.stringify({ pid: 'BENCHPROJECT', pg: '/page/1', ref: 'https://www.example.com/' })
const HEADERS = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'x-client-ip-address': '192.0.2.10',
  'x-forwarded-for': '192.0.2.10',
  accept: 'text/html',
  'accept-language': 'en-US,en;q=0.9',
  'accept-encoding': 'identity',
}

async function sendBench() {
  const lines = Number(opt['send-lines'])
  if (lines === 0) return
  const levels = (opt.concurrency ?? '16,64').split(',').map(Number)
  console.log(`\n== Sending: run against the test API on loopback (${fmt(lines)} lines, every one an event) ==`)
  const file = join(work, `unique-${lines}.log`)
  await writeLog(file, lines, { seed: 7, uniquePaths: true })
  const api = await startApi()
  const autocannon = (await import('autocannon')).default
  const body = BODY
  const headers = HEADERS
  try {
    for (const c of levels) {
      // autocannon runs 5 s before and 5 s after `run`, and the ratio is taken against the mean of
      // the two: on the 2-core VM its rate drifts by up to 30% within a minute (the host), and
      // bracketing keeps that drift from counting for or against `run`.
      const loadGenerator = () => autocannon({ url: api.url, method: 'POST', body, headers, connections: c, pipelining: 1, duration: 5 })
      const before = await loadGenerator()
      const state = join(work, `state-${c}`)
      const r = await timed(
        process.execPath,
        [
          '--import',
          rssPreload,
          cli,
          'run',
          '--from-beginning',
          '--json',
          '-p',
          'BENCHPROJECT',
          '--api-url',
          api.url,
          '--state-dir',
          state,
          '--concurrency',
          String(c),
          file,
        ],
        { stdout: 'pipe' },
      )
      if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}`)
      const after = await loadGenerator()
      const acRate = (before.requests.average + after.requests.average) / 2
      const rate = lines / r.secs
      console.log(
        `autocannon            ${String(c).padStart(3)} connections, 5 s before and 5 s after: ${fmt(before.requests.average)} and ${fmt(after.requests.average)} requests/s, mean ${fmt(acRate)} (non-2xx: ${before.non2xx + after.non2xx})`,
      )
      console.log(
        `swetrix-ingest run    --concurrency ${c}: ${fmt(lines)} events in ${r.secs.toFixed(2)} s = ${fmt(rate)} events/s, peak RSS ${r.rssMB?.toFixed(1)} MB`,
      )
      console.log(`ratio (${c} connections): run reaches ${((rate / acRate) * 100).toFixed(0)}% of autocannon's request rate against the same endpoint`)
    }
  } finally {
    api.child.kill('SIGTERM')
  }
}

const pct = (x) => `${(x * 100).toFixed(1)}%`

/** One `run` against the API; rates with and without its start-up (spawn to the first request
 *  written) and its tail (the last answer to the exit), from bench/report-send-times.mjs. */
async function timedRun(apiUrl, file, lines, c, state) {
  const spawnedAt = performance.timeOrigin + performance.now()
  const r = await timed(
    process.execPath,
    [
      '--import',
      rssPreload,
      '--import',
      sendTimesPreload,
      cli,
      'run',
      '--from-beginning',
      '--json',
      '-p',
      'BENCHPROJECT',
      '--api-url',
      apiUrl,
      '--state-dir',
      state,
      '--concurrency',
      String(c),
      file,
    ],
    { stdout: 'pipe' },
  )
  if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}`)
  const m = /bench-first-request-at=([\d.]+) bench-last-answer-at=([\d.]+)/.exec(r.stderr)
  const first = m ? Number(m[1]) : NaN
  const last = m ? Number(m[2]) : NaN
  return { ...r, rate: lines / r.secs, sendingRate: lines / ((last - first) / 1000), startupMs: first - spawnedAt, tailMs: spawnedAt + r.secs * 1000 - last }
}

async function latencyBench() {
  const latency = Number(opt['latency-ms'])
  if (!(latency > 0)) return
  const levels = (opt['latency-concurrency'] ?? opt.concurrency ?? '16,64,256').split(',').map(Number)
  const repeat = Math.max(1, Number(opt.repeat))
  console.log(`\n== Sending with ${latency} ms added latency: run beside the physical rate (concurrency ÷ round trip) and autocannon ==`)
  console.log(`(${cpus().length} cores; ${repeat} pair(s) per level, each autocannon 5 s then run; load average beside each)`)
  const api = await startApi(['--latency-ms', String(latency)])
  const autocannon = (await import('autocannon')).default
  const summary = []
  try {
    for (const c of levels) {
      // The physical rate: c requests in flight, each taking the added latency.
      const physical = (c * 1000) / latency
      const lines = Math.round(physical * Number(opt['latency-seconds']))
      const file = join(work, `latency-${lines}.log`)
      await writeLog(file, lines, { seed: 9, uniquePaths: true })
      const pairs = []
      for (let k = 0; k < repeat; k++) {
        // autocannon at the same connections and latency: what this machine reaches right now (timers
        // fire late on a loaded machine, so even a load generator stays below the physical rate).
        const ac = await autocannon({ url: api.url, method: 'POST', body: BODY, headers: HEADERS, connections: c, pipelining: 1, duration: 5 })
        const acLoad = load()
        const r = await timedRun(api.url, file, lines, c, join(work, `state-latency-${c}-${k}`))
        const pair = {
          ac: ac.requests.average / physical,
          acRtt: ac.latency.mean,
          incl: r.rate / physical,
          excl: r.sendingRate / physical,
          startupMs: r.startupMs,
          tailMs: r.tailMs,
          rssMB: r.rssMB,
          load: load(),
        }
        pairs.push(pair)
        console.log(
          `  c=${String(c).padStart(3)} #${k + 1}: autocannon ${fmt(ac.requests.average)} req/s = ${pct(pair.ac)} (mean round trip ${pair.acRtt.toFixed(2)} ms, ${acLoad}); ` +
            `run ${fmt(lines)} events in ${r.secs.toFixed(2)} s = ${fmt(r.rate)}/s = ${pct(pair.incl)} start-up included, ${pct(pair.excl)} excluded ` +
            `(start-up ${pair.startupMs.toFixed(0)} ms, tail ${pair.tailMs.toFixed(0)} ms), peak RSS ${r.rssMB?.toFixed(1)} MB, ${pair.load}`,
        )
      }
      const m = (k) => median(pairs.map((p) => p[k]))
      summary.push({
        c,
        physical,
        ac: m('ac'),
        incl: m('incl'),
        excl: m('excl'),
        startupMs: m('startupMs'),
        tailMs: m('tailMs'),
        rssMB: m('rssMB'),
        loads: pairs.map((p) => p.load),
      })
    }
  } finally {
    api.child.kill('SIGTERM')
  }
  console.log(`\nmedians (of concurrency ÷ ${latency} ms):`)
  for (const s of summary)
    console.log(
      `ratio (${s.c} in flight, ${latency} ms): run ${pct(s.incl)} start-up included, ${pct(s.excl)} excluded (start-up ${s.startupMs.toFixed(0)} ms, tail ${s.tailMs.toFixed(0)} ms); autocannon ${pct(s.ac)}; run ÷ autocannon ${pct(s.incl / s.ac)}; peak RSS ${s.rssMB?.toFixed(1)} MB; ${s.loads.join(', ')}`,
    )
}

try {
  if (!existsSync(join(root, 'dist/src/cli.js'))) throw new Error('build first: npm run build')
  await mkdir(work, { recursive: true })
  console.log(`cores: ${availableParallelism()} (os.availableParallelism()), Node ${process.version}, ${load()}`)
  if (!opt['skip-parse']) await parseBench()
  if (!opt['skip-import']) await importBench()
  if (!opt['skip-send']) {
    await sendBench()
    await latencyBench()
  }
} finally {
  await rm(work, { recursive: true, force: true })
}
