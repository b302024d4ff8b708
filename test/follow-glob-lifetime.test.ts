// `follow` on a glob with nothing else keeping the process alive (no --metrics-addr): a container on
// a node where the pattern matches nothing yet must keep waiting, and SIGTERM must end in a clean stop
// (exit 0, checkpoint written), not in Node's exit 13 for an event loop that ran dry mid-await.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { collect, spawnCli, withTempDir } from './helpers/cli.js'

function waitForStderr(child: ChildProcess, pattern: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => finish(new Error(`no ${String(pattern)} on stderr within ${ms} ms: ${text}`)), ms)
    const onData = (d: Buffer) => {
      text += d.toString('utf8')
      if (pattern.test(text)) finish(null)
    }
    const onExit = (code: number | null) => finish(new Error(`exited (${String(code)}) before ${String(pattern)}: ${text}`))
    const finish = (err: Error | null) => {
      clearTimeout(timer)
      child.stderr!.off('data', onData)
      child.off('exit', onExit)
      if (err) reject(err)
      else resolve()
    }
    child.stderr!.on('data', onData)
    child.on('exit', onExit)
  })
}

const follow = (dir: string) =>
  spawnCli([
    'follow',
    '-p',
    'AbCdEf123456',
    '--api-url',
    'http://127.0.0.1:9/log',
    '--state-dir',
    join(dir, 'state'),
    '--stats-interval',
    '0',
    join(dir, 'logs', '*.log'),
  ])

describe('follow on a glob, without a metrics server', () => {
  it('keeps waiting while nothing matches, then follows the file that appears', async () => {
    await withTempDir(async (dir) => {
      mkdirSync(join(dir, 'logs'))
      const child = follow(dir)
      const result = collect(child)
      await waitForStderr(child, /no file matches the patterns yet/, 15_000)
      writeFileSync(join(dir, 'logs', 'controller.log'), '')
      await waitForStderr(child, /controller\.log: new file matching the patterns/, 15_000)
      child.kill('SIGTERM')
      expect((await result).code).toBe(0)
    })
  })

  it('stops cleanly on SIGTERM: exit 0 and the checkpoint written', async () => {
    await withTempDir(async (dir) => {
      mkdirSync(join(dir, 'logs'))
      writeFileSync(join(dir, 'logs', 'access.log'), '203.0.113.5 - - [07/Dec/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.5.0"\n')
      const child = follow(dir)
      const result = collect(child)
      await waitForStderr(child, /access\.log: first run, starting at its end/, 15_000)
      child.kill('SIGTERM')
      const r = await result
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^TOTAL$/m)
      expect(readdirSync(join(dir, 'state'))).toContain('state.json')
    })
  })
})
