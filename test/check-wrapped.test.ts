// A container runtime's file gives the events of the access log inside it: `check` on a CRI file
// (with partial `P` lines) and on a Docker json-file log, each wrapping a combined and an nginx JSON
// log, counts what `check` counts on the unwrapped log, and `run --dry-run` prints the same events
// in the same order (the runtime's own lines, stderr among them, are skipped with a reason).
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'

const fixture = (name: string) => join(repoRoot, 'fixtures/containers', name)

interface FileReport {
  format: string
  events: Record<string, number>
  skipped: Record<string, number>
  rejected: number
}

async function checkOf(file: string): Promise<FileReport> {
  const r = await runCli(['check', '--json', file])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { files: FileReport[] }).files[0]!
}

async function eventsOf(file: string): Promise<unknown[]> {
  return withTempDir(async (dir) => {
    const r = await runCli(['run', '--dry-run', '-p', 'TESTPROJECT1', '--state-dir', join(dir, 'state'), file])
    expect(r.code, r.stderr).toBe(0)
    return r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown)
  })
}

describe.each([
  { inner: 'combined', plain: 'combined.log', wrapped: ['cri-combined.log', 'docker-combined-json.log'] },
  { inner: 'nginx_json', plain: 'nginx-json.log', wrapped: ['cri-nginx-json.log', 'docker-nginx-json.log'] },
])('$inner inside a runtime wrapper', ({ inner, plain, wrapped }) => {
  it.each(wrapped)('%s: the same counts in check and the same events as the unwrapped log', async (name) => {
    const [bare, boxed] = await Promise.all([checkOf(fixture(plain)), checkOf(fixture(name))])
    expect(bare.format).toBe(inner)
    expect(boxed.format).toBe(`${name.startsWith('cri') ? 'cri' : 'docker_json'}/${inner}`)
    expect(bare.events.pageview).toBeGreaterThan(0)
    expect(boxed.events).toEqual(bare.events)
    expect(boxed.rejected).toBe(bare.rejected)
    // Everything the unwrapped log skips is skipped alike; the runtime's own lines on top, with a reason.
    const { 'not-access-log': runtimeLines, ...skips } = boxed.skipped
    expect(skips).toEqual(bare.skipped)
    expect(runtimeLines).toBeGreaterThan(0)
    const [a, b] = await Promise.all([eventsOf(fixture(plain)), eventsOf(fixture(name))])
    expect(b).toEqual(a)
  })
})
