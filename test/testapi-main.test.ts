// The runnable entry as a real child process. The TypeScript sources are transpiled into a temp dir
// (with a node_modules link for isbot) so the test always runs the current code, built or not.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { optionsFromArgs } from '../src/testapi/args.js'
import { readRecordFile } from '../src/testapi/server.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const PID = 'AbCdEf123456'
const BROWSER = {
  'content-type': 'application/json',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'x-forwarded-for': '192.0.2.44',
}

let buildDir: string
let mainJs: string
let workDir = ''
const children: ChildProcess[] = []

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'swx-'))
  const outDir = join(buildDir, 'src', 'testapi')
  await mkdir(outDir, { recursive: true })
  const srcDir = join(repoRoot, 'src', 'testapi')
  for (const name of await readdir(srcDir)) {
    if (!name.endsWith('.ts')) continue
    const out = ts.transpileModule(await readFile(join(srcDir, name), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023, verbatimModuleSyntax: true },
    })
    await writeFile(join(outDir, name.replace(/\.ts$/, '.js')), out.outputText)
  }
  await writeFile(join(buildDir, 'package.json'), '{"type":"module"}\n')
  await symlink(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'), 'dir')
  mainJs = join(outDir, 'main.js')
})

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true })
})

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  if (workDir !== '') await rm(workDir, { recursive: true, force: true })
  workDir = ''
})

/** Spawns main.js and resolves with its first stdout line parsed as JSON. */
async function spawnMain(args: string[]): Promise<{ child: ChildProcess; ready: { url: string; port: number } }> {
  const child = spawn(process.execPath, [mainJs, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines = createInterface({ input: child.stdout! })
  const first = await Promise.race([
    once(lines, 'line').then(([line]) => line as string),
    once(child, 'exit').then(([code]) => {
      throw new Error(`main.js exited with ${code} before listening: ${stderr}`)
    }),
  ])
  return { child, ready: JSON.parse(first) as { url: string; port: number } }
}

describe('testapi main.js', () => {
  it('prints one JSON line when listening, records to --record, and exits 0 on SIGTERM', async () => {
    workDir = await mkdtemp(join(tmpdir(), 'swx-'))
    const record = join(workDir, 'received.ndjson')
    const { child, ready } = await spawnMain(['--port', '0', '--project', PID, '--record', record, '--seed', '5'])
    expect(ready).toEqual({ url: `http://127.0.0.1:${ready.port}/log`, port: ready.port })
    expect(ready.port).toBeGreaterThan(0)

    const ok = await request(ready.url, { method: 'POST', headers: BROWSER, body: JSON.stringify({ pid: PID, pg: '/m' }) })
    expect(ok.statusCode).toBe(201)
    expect(await ok.body.json()).toEqual({})
    const unknown = await request(ready.url, { method: 'POST', headers: BROWSER, body: JSON.stringify({ pid: 'Unknown00001' }) })
    expect(unknown.statusCode).toBe(404)
    await unknown.body.dump()

    expect(readRecordFile(record).map((e) => [e.body.pg, e.ip])).toEqual([['/m', '192.0.2.44']])
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code, signal] = await exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
  })

  it('applies fault flags and the base path', async () => {
    const { child, ready } = await spawnMain(['--base-path', '/backend/v1/log', '--rate-limit-rate', '1', '--retry-after', '4'])
    expect(ready.url).toBe(`http://127.0.0.1:${ready.port}/backend/v1/log`)
    const res = await request(`${ready.url}/custom`, { method: 'POST', headers: BROWSER, body: JSON.stringify({ pid: PID, ev: 'x' }) })
    expect(res.statusCode).toBe(429)
    expect(res.headers['retry-after']).toBe('4')
    await res.body.dump()
    const exited = once(child, 'exit')
    child.kill('SIGINT')
    expect((await exited)[0]).toBe(0)
  })

  it('exits 2 with usage on a bad flag and refuses a non-loopback host', async () => {
    const bad = spawn(process.execPath, [mainJs, '--error-rate', 'lots'], { stdio: ['ignore', 'ignore', 'pipe'] })
    children.push(bad)
    let err = ''
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()))
    expect((await once(bad, 'exit'))[0]).toBe(2)
    expect(err).toMatch(/--error-rate must be a number/)

    const remote = spawn(process.execPath, [mainJs, '--host', '0.0.0.0'], { stdio: ['ignore', 'ignore', 'pipe'] })
    children.push(remote)
    let remoteErr = ''
    remote.stderr.on('data', (d: Buffer) => (remoteErr += d.toString()))
    expect((await once(remote, 'exit'))[0]).toBe(1)
    expect(remoteErr).toMatch(/non-loopback/)
  })
})

describe('testapi flags', () => {
  it('map to library options', () => {
    expect(
      optionsFromArgs([
        '--project',
        'AbCdEf123456',
        '--project',
        'ZyXwVu987654',
        '--disabled-project',
        'Disabled0001',
        '--error-rate',
        '0.2',
        '--reset-rate',
        '0.1',
        '--latency-ms',
        '5',
        '--outage-seconds',
        '30',
        '--seed',
        '9',
        '--strict-bots',
        '--outage-mode',
        'reset',
        '--no-memory',
        '--port',
        '8099',
      ]),
    ).toEqual({
      projects: ['AbCdEf123456', 'ZyXwVu987654'],
      disabledProjects: ['Disabled0001'],
      faults: { errorRate: 0.2, resetRate: 0.1, latencyMs: 5, outageSeconds: 30 },
      seed: 9,
      strictBots: true,
      outageMode: 'reset',
      keepInMemory: false,
      port: 8099,
    })
    expect(optionsFromArgs(['--help'])).toBe('help')
    expect(() => optionsFromArgs(['--bogus'])).toThrow()
    expect(() => optionsFromArgs(['--outage-mode', 'maybe'])).toThrow(/refuse or reset/)
  })
})
