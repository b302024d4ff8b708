// `swetrix-ingest check` as a user runs it: a real child process on real files.
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'

const sample = join(repoRoot, 'fixtures/sample.access.log')
const demoConfig = join(repoRoot, 'fixtures/config/demo.json')

interface Counters {
  lines: number
  parsed: number
  rejected: number
  events: Record<string, number>
  skipped: Record<string, number>
  rejectedReasons: Record<string, number>
}
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0)

function expectInvariants(c: Counters) {
  expect(c.lines).toBe(c.parsed + c.rejected)
  expect(c.parsed).toBe(sum(c.events) + sum(c.skipped))
  expect(c.rejected).toBe(sum(c.rejectedReasons))
}

describe('check --json', () => {
  it('reports the detected format and counters that add up', async () => {
    const r = await runCli(['check', '--json', '--config', demoConfig, sample])
    expect(r.code).toBe(0)
    const doc = JSON.parse(r.stdout)
    const file = doc.files[0]
    const text = await readFile(sample, 'utf8')
    expect(file.format).toBe('combined')
    expect(file.lines).toBe(text.split('\n').length - 1)
    expectInvariants(file)
    expectInvariants(doc.totals)
    expect(file.rejected).toBe(0)
    expect(file.events.pageview).toBeGreaterThan(0)
    expect(file.events.error).toBeGreaterThan(0)
    expect(file.events.custom).toBeGreaterThan(0)
    for (const reason of ['static', 'bot', 'malformed']) expect(file.skipped[reason]).toBeGreaterThan(0)
  })

  it('reads gzip by magic bytes and stdin, with the same counts as the plain file', async () => {
    await withTempDir(async (dir) => {
      const gz = join(dir, 'access-log-no-suffix')
      await writeFile(gz, gzipSync(await readFile(sample)))
      const plain = JSON.parse((await runCli(['check', '--json', sample])).stdout).files[0]
      const fromGz = JSON.parse((await runCli(['check', '--json', gz])).stdout).files[0]
      const fromStdin = await runCli(['check', '--json', '-'], { input: await readFile(sample) })
      expect(fromStdin.code).toBe(0)
      const stdinFile = JSON.parse(fromStdin.stdout).files[0]
      for (const other of [fromGz, stdinFile]) {
        expect({ ...other, path: '' }).toEqual({ ...plain, path: '' })
      }
    })
  })

  it('sums several files into totals', async () => {
    const r = await runCli(['check', '--json', sample, sample])
    const doc = JSON.parse(r.stdout)
    expect(doc.files).toHaveLength(2)
    expect(doc.totals.lines).toBe(doc.files[0].lines * 2)
    expect(doc.totals.events.pageview).toBe(doc.files[0].events.pageview * 2)
  })
})

describe('check --records and --events', () => {
  it('gives one record per line with exact byte offsets', async () => {
    const r = await runCli(['check', '--records', sample])
    expect(r.code).toBe(0)
    const bytes = await readFile(sample)
    const records = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    let offset = 0
    records.forEach((rec, i) => {
      expect(rec.line).toBe(i + 1)
      expect(rec.offset).toBe(offset)
      offset = bytes.indexOf(10, offset) + 1
    })
    expect(offset).toBe(bytes.length)
    const tls = records.find((rec) => rec.request_line?.startsWith('\\x16'))
    expect(tls).toMatchObject({ valid: true, method: null, outcome: 'skip:malformed' })
    const page = records.find((rec) => rec.outcome === 'pageview')
    expect(page.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
    expect(r.stderr).toContain('format: combined')
  })

  it('prints the exact requests, with the visitor IP and User-Agent in headers', async () => {
    const r = await runCli(['check', '--events', '-p', 'DEMOPROJECT1', sample])
    expect(r.code).toBe(0)
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(events.length).toBeGreaterThan(0)
    for (const ev of events) {
      expect(['/log', '/log/custom', '/log/error']).toContain(ev.endpoint)
      expect(ev.body.pid).toBe('DEMOPROJECT1')
      expect(ev.headers['X-Client-IP-Address']).toBe(ev.headers['X-Forwarded-For'])
      expect(ev.headers['Content-Type']).toBe('application/json')
    }
    const quoted = events.find((ev) => ev.headers['User-Agent']?.endsWith('"quoted"'))
    expect(quoted, 'Apache \\" escapes are undone for the header').toBeDefined()
  })

  it('never passes raw control characters from a log line to the output', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'evil.log')
      const esc = '\u001b[31mRED\u001b[0m\u009b2J'
      await writeFile(log, `192.0.2.1 - - [01/Nov/2026:00:00:00 +0000] "GET /${esc} HTTP/1.1" 200 1 "-" "Mozilla/5.0 ${esc}"\n`)
      for (const mode of ['--records', '--events', '--json']) {
        const r = await runCli(['check', mode, log])
        expect(r.code).toBe(0)
        expect(r.stdout + r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
      }
      const human = await runCli(['check', log])
      expect(human.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/)
    })
  })
})

describe('check on a large file', () => {
  it('gives the same counts and rejected line numbers with worker threads as with one thread', { timeout: 120_000 }, async () => {
    await withTempDir(async (dir) => {
      const { lineGenerator } = await import('../bench/generate-log.mjs')
      const gen = lineGenerator({ seed: 3 })
      const lines: string[] = []
      for (let i = 0; i < 180_000; i++) lines.push(gen(i)) // ~36 MB: above the parallel threshold
      for (const at of [150_000, 170_001]) lines.splice(at, 0, `junk line ${at}`)
      const log = join(dir, 'big.log')
      await writeFile(log, lines.join('\n') + '\n')
      const one = await runCli(['check', '--threads', '1', log])
      const two = await runCli(['check', '--threads', '2', log])
      expect(one.code).toBe(0)
      expect(two.stdout).toBe(one.stdout)
      expect(one.stdout).toContain('first at line 150001, 170002')
      const json1 = await runCli(['check', '--json', '--threads', '1', log])
      const json2 = await runCli(['check', '--json', '--threads', '2', log])
      expect(JSON.parse(json2.stdout)).toEqual(JSON.parse(json1.stdout))
    })
  })
})

describe('check errors and exit codes', () => {
  it('a missing file, a directory and an unknown format exit 2 with one line and no stack', async () => {
    await withTempDir(async (dir) => {
      await mkdir(join(dir, 'sub'))
      const junk = join(dir, 'junk.log')
      await writeFile(junk, 'hello world\nthis is not an access log\n')
      for (const [args, text] of [
        [['check', join(dir, 'nope.log')], 'no such file'],
        [['check', join(dir, 'sub')], 'is a directory'],
        [['check', junk], 'tried'],
        [['check', '--format', 'nosuch', sample], 'nosuch'],
        [['check', '-p', 'short', sample], 'project id'],
      ] as const) {
        const r = await runCli([...args])
        expect(r.code, args.join(' ')).toBe(2)
        expect(r.stderr).toContain(text)
        expect(r.stderr.trim().split('\n')).toHaveLength(1)
        expect(r.stderr).not.toMatch(/\n\s+at /)
      }
    })
  })

  it('a reader that closes the pipe early (| head) is not an error', async () => {
    const { spawnSync } = await import('node:child_process')
    await withTempDir(async (dir) => {
      const log = join(dir, 'many.log')
      await writeFile(log, (await readFile(sample, 'utf8')).repeat(200))
      const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" bin/swetrix-ingest.js check --records "${log}" | head -1`], {
        cwd: repoRoot,
        encoding: 'utf8',
      })
      expect(r.stdout.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).not.toMatch(/EPIPE|Error/)
      expect(r.status).toBe(0)
    })
  })

  it('an empty file is an empty result', async () => {
    await withTempDir(async (dir) => {
      const empty = join(dir, 'empty.log')
      await writeFile(empty, '')
      const r = await runCli(['check', '--json', empty])
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout).totals.lines).toBe(0)
    })
  })

  it('--help shows examples and exit codes; an unknown option is a usage error', async () => {
    const help = await runCli(['check', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
    const top = await runCli(['--help'])
    expect(top.stdout).toContain('Exit codes')
    const bad = await runCli(['check', '--no-such-option', sample])
    expect(bad.code).toBe(2)
  })
})
