// Helpers for the follow tests: a log writer in its own process, a follow child whose stderr can
// be awaited, and bounded waits on conditions (never sleeps as synchronisation).
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestApi } from '../../src/testapi/server.js'
import { repoRoot, spawnCli } from './cli.js'

export const writerPath = join(repoRoot, 'test/helpers/log-writer.mjs')

export interface WriterOptions {
  path: string
  from?: number
  count: number
  rate: number
  tag: string
  rotate?: Record<string, 'rename' | 'rename-gzip' | 'copytruncate' | 'delete'>
  reopenTicks?: number
}

export function runWriter(o: WriterOptions): { child: ChildProcess; done: Promise<{ written: number; next: number; ms: number }> } {
  const child = spawn(process.execPath, [writerPath, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
  const done = new Promise<{ written: number; next: number; ms: number }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`writer exited ${code}`))))
  })
  return { child, done }
}

export interface Followed {
  child: ChildProcess
  stderr(): string
  /** Resolves when stderr has matched `re` (bounded). */
  said(re: RegExp, timeoutMs?: number): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function startFollow(args: string[], env: NodeJS.ProcessEnv = {}, spawnFn?: () => ChildProcess): Followed {
  const child = spawnFn ? spawnFn() : spawnCli(['follow', ...args], { env })
  let err = ''
  const listeners = new Set<() => void>()
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d
    for (const l of [...listeners]) l()
  })
  child.stdout!.resume()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  )
  return {
    child,
    stderr: () => err,
    exited,
    said: (re, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!re.test(err)) return
          listeners.delete(check)
          clearTimeout(timer)
          resolve()
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`timed out waiting for ${re} in stderr:\n${err}`))
        }, timeoutMs)
        listeners.add(check)
        void exited.then(() => {
          if (listeners.has(check)) {
            listeners.delete(check)
            clearTimeout(timer)
            if (re.test(err)) resolve()
            else reject(new Error(`follow exited before ${String(re)}:\n${err}`))
          }
        })
        check()
      }),
  }
}

/** Polls `cond` every 20 ms until it holds; fails after `timeoutMs` with `what`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

export function pathsOf(api: TestApi): string[] {
  return api.accepted().map((e) => String(e.body.pg))
}

export function countsOf(paths: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const p of paths) m.set(p, (m.get(p) ?? 0) + 1)
  return m
}

export function expected(tag: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, k) => `/${tag}/${from + k}`)
}

export async function uncertainPaths(stateDir: string): Promise<string[]> {
  const text = await readFile(join(stateDir, 'uncertain.ndjson'), 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => String(JSON.parse(l).body.pg))
}

/** Every expected path exactly once, nothing else. */
export function exactlyOnce(got: string[], want: string[]): { missing: string[]; duplicated: string[]; unexpected: string[] } {
  const counts = countsOf(got)
  const wanted = new Set(want)
  return {
    missing: want.filter((p) => !counts.has(p)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([p]) => p),
    unexpected: [...counts.keys()].filter((p) => !wanted.has(p)),
  }
}
