import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import ts from 'typescript'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { acquireLock, LockedError } from '../src/checkpoint/lock.js'

// Children run the real lock module, transpiled with the modules of ours it imports (state-dir.ts, errors.ts),
// in src/'s layout (no dependency on a dist/ build).
let modDir: string
let lockModule: string
beforeAll(async () => {
  modDir = await mkdtemp(join(tmpdir(), 'swx-'))
  await mkdir(join(modDir, 'checkpoint'))
  await writeFile(join(modDir, 'package.json'), '{"type":"module"}')
  for (const name of ['checkpoint/lock', 'checkpoint/state-dir', 'errors']) {
    const src = await readFile(resolve(import.meta.dirname, `../src/${name}.ts`), 'utf8')
    const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } })
    await writeFile(join(modDir, `${name}.js`), out.outputText)
  }
  lockModule = join(modDir, 'checkpoint/lock.js')
})
afterAll(async () => {
  await rm(modDir, { recursive: true, force: true })
})

let dir: string
const children: ChildProcess[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

/** A child that tries the lock, prints `won` or `locked <exitCode>`, and holds a won lock until its
 *  stdin closes (then releases it) or it is killed. */
function contender(stateDir: string): { child: ChildProcess; result: Promise<string> } {
  const script = `
    import { acquireLock } from ${JSON.stringify(lockModule)}
    try {
      const lock = await acquireLock(${JSON.stringify(stateDir)})
      process.on('exit', () => lock.releaseSync())
      console.log('won')
      process.stdin.resume()
      process.stdin.on('end', () => process.exit(0))
    } catch (err) {
      console.log('locked', err.exitCode)
      process.exit(0)
    }`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  children.push(child)
  const lines = createInterface({ input: child.stdout! })
  const result = once(lines, 'line').then(([l]) => l as string)
  return { child, result }
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  )
}

describe('acquireLock across processes', () => {
  it('refuses while another live process holds the lock and takes it over after that process is killed', async () => {
    const holder = contender(dir)
    expect(await holder.result).toBe('won')

    const err = await acquireLock(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockedError)
    expect((err as LockedError).exitCode).toBe(75)
    expect((err as Error).name).toBe('LockedError')
    expect((err as Error).message).toContain(`pid ${holder.child.pid}`)
    expect((err as Error).message).toContain(dir)
    expect((err as Error).message).not.toContain('\n')

    holder.child.kill('SIGKILL') // no chance to clean up: the lock file stays behind
    await once(holder.child, 'exit')
    expect(await exists(join(dir, 'lock'))).toBe(true)

    const lock = await acquireLock(dir)
    expect((await readFile(join(dir, 'lock'), 'utf8')).split('\n')[0]).toBe(String(process.pid))
    expect((await stat(join(dir, 'lock'))).mode & 0o777).toBe(0o600)
    await lock.release()
    expect(await exists(join(dir, 'lock'))).toBe(false)
  })

  it('a holder that exits normally releases the lock (releaseSync on exit)', async () => {
    const holder = contender(dir)
    expect(await holder.result).toBe('won')
    holder.child.stdin!.end()
    await once(holder.child, 'exit')
    expect(await exists(join(dir, 'lock'))).toBe(false)
    await (await acquireLock(dir)).release()
  })

  it('of several processes racing for a stale lock exactly one wins', async () => {
    const dead = spawn(process.execPath, ['-e', ''])
    await once(dead, 'exit')
    await writeFile(join(dir, 'lock'), `${dead.pid}\nold-token\n`)
    const racers = Array.from({ length: 5 }, () => contender(dir))
    const results = await Promise.all(racers.map((r) => r.result))
    expect(results.filter((r) => r === 'won')).toHaveLength(1)
    expect(results.filter((r) => r === 'locked 75')).toHaveLength(4)
  })
})

describe('acquireLock in one process', () => {
  it('refuses a second acquisition by the same process, and release lets it in again', async () => {
    const lock = await acquireLock(dir)
    const err = await acquireLock(dir).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LockedError)
    expect((err as Error).message).toContain('this process')
    await lock.release()
    await lock.release() // idempotent
    await (await acquireLock(dir)).release()
  })

  it('takes over a lock left by an earlier process with the same pid (container restart)', async () => {
    await writeFile(join(dir, 'lock'), `${process.pid}\nprevious-incarnation\n`)
    const lock = await acquireLock(dir)
    lock.releaseSync()
    expect(await exists(join(dir, 'lock'))).toBe(false)
  })

  it('takes over a lock file without a pid (creator died before writing it)', async () => {
    await writeFile(join(dir, 'lock'), '')
    await (await acquireLock(dir)).release()
  })

  it('release leaves alone a lock that is no longer ours', async () => {
    const lock = await acquireLock(dir)
    await writeFile(join(dir, 'lock'), '1\nsomeone-else\n')
    await lock.release()
    lock.releaseSync()
    expect(await readFile(join(dir, 'lock'), 'utf8')).toBe('1\nsomeone-else\n')
  })
})
