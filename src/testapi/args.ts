// Command-line flags of the runnable test API (main.ts), parsed into TestApiOptions.
import { parseArgs } from 'node:util'
import { normalizeFaults, type Faults } from './faults.js'
import type { OutageMode, TestApiOptions } from './server.js'

export const USAGE = `Usage: node dist/src/testapi/main.js [options]

A Swetrix-compatible Events API on loopback for tests, with fault injection.

  --host HOST                  bind address (default 127.0.0.1; loopback only unless --allow-remote)
  --port N                     port (default 0 = random)
  --base-path PATH             events base path (default /log; /log and /v1/log are both served)
  --project PID                known project id (repeatable; default: every well-formed pid)
  --disabled-project PID       project with analytics disabled -> 400 (repeatable)
  --strict-bots                Swetrix "strict" bot level (Accept* headers, probe paths)
  --record FILE                append accepted events to FILE as NDJSON (mode 0600)
  --no-memory                  do not keep accepted events in memory
  --max-in-memory N            keep only the newest N accepted events in memory
  --error-rate F               fraction answered 500/502/503
  --rate-limit-rate F          fraction answered 429
  --retry-after N              Retry-After seconds on injected 429s (default 1)
  --reset-rate F               fraction whose connection is reset before storing
  --reset-after-store-rate F   fraction stored, then reset (creates duplicates on retry)
  --hang-rate F                fraction read and never answered, not stored (the client must give up)
  --hang-after-store-rate F    fraction stored, then never answered (the client must count it uncertain)
  --slow-body-rate F           fraction stored, then answered with headers at once and the body
                               {} one byte per --slow-body-byte-ms
  --slow-body-byte-ms N        delay before each byte of a slow body (default 1000)
  --portal-rate F              fraction answered 200 text/html with a login page, not stored
  --proxy-ok-rate F            fraction answered 200 {"ok":true} (a proxy that is not Swetrix), not stored
  --captive-portal html|json   every event request answered like that: --portal-rate 1 (html)
                               or --proxy-ok-rate 1 (json)
  --latency-ms N               answer every event N ms after it arrived (on average)
  --latency-jitter-ms N        plus a random 0..N ms
  --outage-seconds N           start with an outage of N seconds
  --outage-mode MODE           refuse (default: port closed), reset (each event request reset)
                               or hang (each event request read and never answered, not stored)
  --seed N                     seed of the fault schedule
  --allow-remote               allow a non-loopback --host
  -h, --help                   show this help

Admin: GET /__admin/stats, GET /__admin/received (NDJSON), GET|POST /__admin/faults,
POST /__admin/outage {"seconds":N,"mode":"refuse"|"reset"|"hang"}, POST /__admin/reset.
Every rate is a share of one seeded draw per event request, so together they are at most 1.
More: docs/testapi.md.
`

function numberFlag(values: Record<string, unknown>, name: string): number | undefined {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number`)
  return n
}

/** Throws on unknown flags or bad values; returns 'help' for -h/--help. */
export function optionsFromArgs(args: string[]): TestApiOptions | 'help' {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'base-path': { type: 'string' },
      project: { type: 'string', multiple: true },
      'disabled-project': { type: 'string', multiple: true },
      'strict-bots': { type: 'boolean' },
      record: { type: 'string' },
      'no-memory': { type: 'boolean' },
      'max-in-memory': { type: 'string' },
      'error-rate': { type: 'string' },
      'rate-limit-rate': { type: 'string' },
      'retry-after': { type: 'string' },
      'reset-rate': { type: 'string' },
      'reset-after-store-rate': { type: 'string' },
      'hang-rate': { type: 'string' },
      'hang-after-store-rate': { type: 'string' },
      'slow-body-rate': { type: 'string' },
      'slow-body-byte-ms': { type: 'string' },
      'portal-rate': { type: 'string' },
      'proxy-ok-rate': { type: 'string' },
      'captive-portal': { type: 'string' },
      'latency-ms': { type: 'string' },
      'latency-jitter-ms': { type: 'string' },
      'outage-seconds': { type: 'string' },
      'outage-mode': { type: 'string' },
      seed: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) return 'help'
  const outageMode = values['outage-mode']
  if (outageMode !== undefined && outageMode !== 'refuse' && outageMode !== 'reset' && outageMode !== 'hang') {
    throw new Error('--outage-mode must be hang, refuse or reset')
  }
  const captivePortal = values['captive-portal']
  if (captivePortal !== undefined && captivePortal !== 'html' && captivePortal !== 'json') throw new Error('--captive-portal must be html or json')
  const faults: Faults = {}
  const faultFlags = [
    ['error-rate', 'errorRate'],
    ['rate-limit-rate', 'rateLimitRate'],
    ['retry-after', 'retryAfterSeconds'],
    ['reset-rate', 'resetRate'],
    ['reset-after-store-rate', 'resetAfterStoreRate'],
    ['hang-rate', 'hangRate'],
    ['hang-after-store-rate', 'hangAfterStoreRate'],
    ['slow-body-rate', 'slowBodyRate'],
    ['slow-body-byte-ms', 'slowBodyByteMs'],
    ['portal-rate', 'portalRate'],
    ['proxy-ok-rate', 'proxyOkRate'],
    ['latency-ms', 'latencyMs'],
    ['latency-jitter-ms', 'latencyJitterMs'],
    ['outage-seconds', 'outageSeconds'],
  ] as const
  for (const [flag, key] of faultFlags) {
    const v = numberFlag(values, flag)
    if (v !== undefined) faults[key] = v
  }
  if (captivePortal === 'html') faults.portalRate = 1
  if (captivePortal === 'json') faults.proxyOkRate = 1
  // A usage error (exit 2) rather than a start-up failure: rates that add up to more than 1, say.
  normalizeFaults(faults)
  const options: TestApiOptions = { faults }
  if (values.host !== undefined) options.host = values.host
  const port = numberFlag(values, 'port')
  if (port !== undefined) options.port = port
  if (values['base-path'] !== undefined) options.basePath = values['base-path']
  if (values.project !== undefined) options.projects = values.project
  if (values['disabled-project'] !== undefined) options.disabledProjects = values['disabled-project']
  if (values['strict-bots'] === true) options.strictBots = true
  if (values.record !== undefined) options.recordFile = values.record
  if (values['no-memory'] === true) options.keepInMemory = false
  const maxInMemory = numberFlag(values, 'max-in-memory')
  if (maxInMemory !== undefined) options.maxInMemory = maxInMemory
  const seed = numberFlag(values, 'seed')
  if (seed !== undefined) options.seed = seed
  if (outageMode !== undefined) options.outageMode = outageMode as OutageMode
  if (values['allow-remote'] === true) options.allowRemote = true
  return options
}
