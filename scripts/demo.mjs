// `npm start`: the whole product end to end on loopback, with nothing to configure.
// Starts the Swetrix-compatible test API on 127.0.0.1, sends the bundled sample log through
// `swetrix-ingest run --from-beginning` (a real child process, as cron would run it), then shows
// what the API received. A second run shows that nothing is sent twice.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { startTestApi } = await import(join(root, 'dist/src/testapi/server.js'))

const PROJECT = 'DEMOPROJECT1'
// Relative to the repo (the child runs there), so the output shows short paths.
const sample = 'fixtures/sample.access.log'
const config = 'fixtures/config/demo.json'
const stateDir = await mkdtemp(join(tmpdir(), 'swetrix-ingest-demo-'))
const api = await startTestApi({ projects: [PROJECT] })

function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin/swetrix-ingest.js'), ...args], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
    child.on('error', reject)
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

const common = ['-p', PROJECT, '--api-url', api.url, '--state-dir', stateDir, '--config', config, sample]
try {
  console.log(`Test API listening at ${api.url} (project ${PROJECT})\n`)
  console.log(`$ swetrix-ingest run --from-beginning -p ${PROJECT} --config fixtures/config/demo.json fixtures/sample.access.log`)
  const first = await cli(['run', '--from-beginning', ...common])
  const received = api.accepted()
  const byEndpoint = {}
  for (const e of received) byEndpoint[e.endpoint] = (byEndpoint[e.endpoint] ?? 0) + 1
  console.log(`\nThe API accepted ${received.length} events:`, byEndpoint)
  const pages = {}
  for (const e of received) if (e.endpoint.endsWith('/log') && e.body.pg) pages[e.body.pg] = (pages[e.body.pg] ?? 0) + 1
  const top = Object.entries(pages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
  console.log('Top pages:', Object.fromEntries(top))
  const sampleEvent = received.find((e) => e.body.so) ?? received[0]
  if (sampleEvent) console.log('One of them:', JSON.stringify({ endpoint: sampleEvent.endpoint, ip: sampleEvent.ip, body: sampleEvent.body }))

  console.log(`\n$ swetrix-ingest run ... (again: only new lines are sent)`)
  const second = await cli(['run', ...common])
  console.log(`\nAfter the second run the API holds ${api.accepted().length} events (no duplicates).`)
  process.exitCode = first === 0 && second === 0 && api.accepted().length === received.length ? 0 : 1
} finally {
  await api.close()
  await rm(stateDir, { recursive: true, force: true })
}
