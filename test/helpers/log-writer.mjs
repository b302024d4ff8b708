// A log writer for the follow tests, as a separate process: appends combined-format lines at a
// given rate and rotates the log on a schedule, the way logrotate and nginx do.
//   node log-writer.mjs '{"path":..., "from":0, "count":1000, "rate":2000, "tag":"a",
//                         "rotate": {"500": "rename", "800": "rename-gzip", "900": "copytruncate", "950": "delete"},
//                         "reopenTicks": 2}'
// Line i requests `/<tag>/<i>`. "rename": access.log -> access.log.1 (older ones shifted), the
// writer keeps writing to the old file for `reopenTicks` more ticks (nginx until it reopens), then
// creates a new file. "rename-gzip": the same, then the old file is gzipped (access.log.1.gz).
// "copytruncate": copy to access.log.1, truncate in place. "delete": unlink, create a new file.
// Prints {"written": N} and exits when done; SIGTERM stops it early (prints what was written).
import { closeSync, copyFileSync, existsSync, ftruncateSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { basename, dirname, join } from 'node:path'

const o = JSON.parse(process.argv[2])
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0'
const line = (i) => `203.0.113.${(i % 200) + 1} - - [01/Nov/2026:10:00:00 +0000] "GET /${o.tag}/${i} HTTP/1.1" 200 512 "-" "${UA}"\n`
const TICK_MS = 10
const t0 = performance.now()
const rotate = o.rotate ?? {}
let fd = openSync(o.path, 'a')
let oldFd = null
let oldTicks = 0
let i = o.from ?? 0
const end = (o.from ?? 0) + o.count
let stopped = false
process.on('SIGTERM', () => (stopped = true))

function shift() {
  const dir = dirname(o.path)
  const live = basename(o.path)
  const gens = readdirSync(dir)
    .map((n) => /^(.*)\.(\d+)(\.gz)?$/.exec(n))
    .filter((m) => m && m[1] === live)
    .map((m) => ({ n: Number(m[2]), gz: m[3] ?? '' }))
    .sort((a, b) => b.n - a.n)
  for (const g of gens) renameSync(join(dir, `${live}.${g.n}${g.gz}`), join(dir, `${live}.${g.n + 1}${g.gz}`))
}

function doRotate(kind) {
  const rotated = `${o.path}.1`
  if (kind === 'copytruncate') {
    shift()
    copyFileSync(o.path, rotated)
    ftruncateSync(fd, 0)
    return
  }
  if (kind === 'delete') {
    closeSync(fd)
    unlinkSync(o.path)
    fd = openSync(o.path, 'a')
    return
  }
  shift()
  renameSync(o.path, rotated)
  oldFd = fd
  oldTicks = o.reopenTicks ?? 2
  fd = openSync(o.path, 'a') // logrotate `create`
  if (kind === 'rename-gzip') pendingGzip = rotated
}
let pendingGzip = null

function finishOld() {
  if (oldFd === null) return
  closeSync(oldFd)
  oldFd = null
  if (pendingGzip && existsSync(pendingGzip)) {
    writeGz(pendingGzip)
    pendingGzip = null
  }
}
function writeGz(p) {
  const data = readFileSync(p)
  const tmp = `${p}.gz.tmp`
  const out = openSync(tmp, 'w')
  writeSync(out, gzipSync(data))
  closeSync(out)
  renameSync(tmp, `${p}.gz`)
  unlinkSync(p)
}

function tick() {
  if (oldFd !== null && --oldTicks < 0) finishOld()
  let chunk = ''
  // Catch up with the clock: the rate holds even when timers fire late on a busy machine.
  const due = Math.floor((o.rate * (performance.now() - t0)) / 1000) - (i - (o.from ?? 0))
  for (let k = 0; k < Math.max(1, due) && i < end && !stopped; k++) {
    if (rotate[String(i)] !== undefined) {
      if (chunk) writeSync(oldFd !== null ? oldFd : fd, chunk)
      chunk = ''
      finishOld()
      doRotate(rotate[String(i)])
    }
    chunk += line(i++)
  }
  // Until it "reopens", the writer (nginx) still writes to the renamed file.
  if (chunk) writeSync(oldFd !== null ? oldFd : fd, chunk)
  if (i >= end || stopped) {
    finishOld()
    closeSync(fd)
    process.stdout.write(JSON.stringify({ written: i - (o.from ?? 0), next: i, ms: performance.now() - t0 }) + '\n')
    return
  }
  setTimeout(tick, TICK_MS)
}
tick()
