// `npm run bench`: figures and ratios against peers run side by side, in the same run.
//   1. parsing: `swetrix-ingest check` on a deterministic 1,000,000-line combined log, lines/s and
//      peak RSS (also at 250k and 500k lines, to show RSS stays flat), beside GoAccess on the same file.
//   1b. import: `swetrix-ingest backfill --via import` (Data Import CSV files) on the same file, lines/s
//      and peak RSS.
//   2. sending: `swetrix-ingest run` events/s against the bundled test API on loopback, beside
//      autocannon (a keep-alive HTTP load generator) against the same endpoint, and peak RSS.
// Options: --lines N (default 1000000), --send-lines N (default 1000000), --concurrency LIST (16,64),
//          --skip-parse, --skip-send. Nothing here asserts; it reports.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeLog } from './generate-log.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'bin/swetrix-ingest.js')
const rssPreload = join(root, 'bench/report-rss.mjs')
const { values: opt } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    'send-lines': { type: 'string', default: '1000000' },
    concurrency: { type: 'string', default: '16,64' },
    'skip-parse': { type: 'boolean', default: false },
    'skip-send': { type: 'boolean', default: false },
    'skip-import': { type: 'boolean', default: false },
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

async function parseBench() {
  const total = Number(opt.lines)
  console.log(`\n== Parsing: check on a ${fmt(total)}-line combined log ==`)
  const sizes = [Math.round(total / 4), Math.round(total / 2), total]
  const rows = []
  for (const n of sizes) {
    const file = join(work, `combined-${n}.log`)
    await writeLog(file, n, { seed: 42 })
    const r = await timed(process.execPath, ['--import', rssPreload, cli, 'check', '--json', file])
    if (r.code !== 0) throw new Error(`check failed: ${r.stderr}`)
    rows.push({ lines: n, secs: r.secs, rate: n / r.secs, rssMB: r.rssMB })
    console.log(`swetrix-ingest check  ${fmt(n).padStart(9)} lines  ${r.secs.toFixed(2)} s  ${fmt(n / r.secs)} lines/s  peak RSS ${r.rssMB?.toFixed(1)} MB`)
  }
  const big = join(work, `combined-${total}.log`)
  const mb = (await stat(big)).size / 1e6
  console.log(`(file: ${mb.toFixed(0)} MB)`)
  const goaccess = spawnSync('sh', ['-c', 'command -v goaccess'], { encoding: 'utf8' }).stdout.trim()
  if (!goaccess) {
    console.log('GoAccess is not installed (apt-get install goaccess): no side-by-side ratio this run.')
    return
  }
  const g = await timed(goaccess, [big, '--log-format=COMBINED', '--no-global-config', '-o', join(work, 'goaccess.json')])
  if (g.code !== 0) {
    console.log(`GoAccess failed (exit ${g.code}): ${g.stderr.slice(0, 200)}`)
    return
  }
  const ours = rows.at(-1)
  console.log(`goaccess              ${fmt(total).padStart(9)} lines  ${g.secs.toFixed(2)} s  ${fmt(total / g.secs)} lines/s`)
  console.log(`ratio: swetrix-ingest check is ${(ours.rate / (total / g.secs)).toFixed(1)}x GoAccess's lines/s on the same file`)
}

async function importBench() {
  const total = Number(opt.lines)
  console.log(`\n== Import files: backfill --via import on a ${fmt(total)}-line combined log ==`)
  const file = join(work, `combined-${total}.log`)
  if (!existsSync(file)) await writeLog(file, total, { seed: 42 })
  for (const geo of [[], ['--no-geoip']]) {
    const out = join(work, `import-out${geo.length}`)
    const r = await timed(process.execPath, ['--import', rssPreload, cli, 'backfill', '--via', 'import', '--no-progress', '--json', ...geo,
      '--out', out, '--state-dir', join(work, `state-import${geo.length}`), file], { stdout: 'ignore' })
    if (r.code !== 0) throw new Error(`backfill --via import failed (${r.code}): ${r.stderr}`)
    console.log(`swetrix-ingest backfill --via import${geo.length ? ' --no-geoip' : ''}  ${fmt(total)} lines  ${r.secs.toFixed(2)} s  ${fmt(total / r.secs)} lines/s  peak RSS ${r.rssMB?.toFixed(1)} MB`)
    await rm(out, { recursive: true, force: true })
  }
}

async function startApi() {
  const child = spawn(process.execPath, [join(root, 'dist/src/testapi/main.js'), '--port', '0', '--project', 'BENCHPROJECT', '--no-memory'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const rl = createInterface({ input: child.stdout })
  const first = await new Promise((resolve, reject) => {
    rl.once('line', resolve)
    child.once('exit', (c) => reject(new Error(`test API exited ${c}`)))
  })
  return { child, ...JSON.parse(first) }
}

async function sendBench() {
  const lines = Number(opt['send-lines'])
  const levels = opt.concurrency.split(',').map(Number)
  console.log(`\n== Sending: run against the test API on loopback (${fmt(lines)} lines, every one an event) ==`)
  const file = join(work, `unique-${lines}.log`)
  await writeLog(file, lines, { seed: 7, uniquePaths: true })
  const api = await startApi()
  const autocannon = (await import('autocannon')).default
  const body = JSON.stringify({ pid: 'BENCHPROJECT', pg: '/page/1', ref: 'https://www.example.com/' })
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
    'x-client-ip-address': '192.0.2.10', 'x-forwarded-for': '192.0.2.10',
    accept: 'text/html', 'accept-language': 'en-US,en;q=0.9', 'accept-encoding': 'identity',
  }
  try {
    for (const c of levels) {
      const ac = await autocannon({ url: api.url, method: 'POST', body, headers, connections: c, pipelining: 1, duration: 10 })
      const acRate = ac.requests.average
      console.log(`autocannon            ${String(c).padStart(3)} connections, 10 s: ${fmt(acRate)} requests/s (non-2xx: ${ac.non2xx})`)
      const state = join(work, `state-${c}`)
      const r = await timed(process.execPath, ['--import', rssPreload, cli, 'run', '--from-beginning', '--json', '-p', 'BENCHPROJECT',
        '--api-url', api.url, '--state-dir', state, '--concurrency', String(c), file], { stdout: 'pipe' })
      if (r.code !== 0) throw new Error(`run failed (${r.code}): ${r.stderr}`)
      const rate = lines / r.secs
      console.log(`swetrix-ingest run    --concurrency ${c}: ${fmt(lines)} events in ${r.secs.toFixed(2)} s = ${fmt(rate)} events/s, peak RSS ${r.rssMB?.toFixed(1)} MB`)
      console.log(`ratio (${c} connections): run reaches ${((rate / acRate) * 100).toFixed(0)}% of autocannon's request rate against the same endpoint`)
    }
  } finally {
    api.child.kill('SIGTERM')
  }
}

try {
  if (!existsSync(join(root, 'dist/src/cli.js'))) throw new Error('build first: npm run build')
  await mkdir(work, { recursive: true })
  if (!opt['skip-parse']) await parseBench()
  if (!opt['skip-import']) await importBench()
  if (!opt['skip-send']) await sendBench()
} finally {
  await rm(work, { recursive: true, force: true })
}

