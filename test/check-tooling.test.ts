// `npm run check` (typecheck + type-aware lint + format check) must fail on the mistakes it exists
// for. Each case copies the project's real check configuration (package.json scripts,
// eslint.config.js, Prettier settings, tsconfig compiler options) into a temp dir with a tiny sample,
// breaks one thing and runs `npm run check` there as a child process.
import { spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as prettier from 'prettier'
import { afterEach, describe, expect, it } from 'vitest'
import { repoRoot } from './helpers/cli.js'

const SAMPLE_TS = `import { writeFile } from 'node:fs/promises'

/** Writes the state file only readable by its owner. */
export async function save(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 })
}

export function describe(count: number): string {
  return \`\${count} events\`
}
`
const SAMPLE_MJS = `import { writeFile } from 'node:fs/promises'

export async function main(path) {
  await writeFile(path, 'state', { mode: 0o600 })
}
`

// Each with a promise nobody awaits (a lost error, a write that may land after later ones).
const FLOATING_TS = `import { writeFile } from 'node:fs/promises'

export function saveLater(path: string): void {
  writeFile(path, 'state')
}
`
const FLOATING_MJS = `import { writeFile } from 'node:fs/promises'

export function main(path) {
  writeFile(path, 'state')
}
`

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

/** A temp project with the repository's check configuration and a clean sample. */
async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swx-check-'))
  dirs.push(dir)
  for (const f of ['package.json', 'eslint.config.js', '.prettierrc.json', '.prettierignore']) await cp(join(repoRoot, f), join(dir, f))
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
  const { compilerOptions } = JSON.parse(await readFile(join(repoRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> }
  const tsconfig = { compilerOptions: { ...compilerOptions, outDir: 'dist' }, include: ['src/**/*.ts', 'scripts/**/*.mjs', 'eslint.config.js'] }
  const rc = JSON.parse(await readFile(join(repoRoot, '.prettierrc.json'), 'utf8')) as prettier.Options
  await writeFile(join(dir, 'tsconfig.json'), await prettier.format(JSON.stringify(tsconfig), { ...rc, parser: 'json' }))
  await mkdir(join(dir, 'src'))
  await mkdir(join(dir, 'scripts'))
  await cp(join(repoRoot, 'scripts/check.sh'), join(dir, 'scripts/check.sh'))
  await writeFile(join(dir, 'src/sample.ts'), SAMPLE_TS)
  await writeFile(join(dir, 'scripts/sample.mjs'), SAMPLE_MJS)
  return dir
}

function npmRunCheck(cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'check'], { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
}

describe('npm run check', () => {
  // One run over a sample with one mistake per file (the clean pass is the repository's own check in
  // CI). check runs every tool even after one fails, so this run shows each tool failing on exactly
  // its own mistake and on nothing else: each mistake alone fails the check. About 10 s of CPU
  // (two TypeScript programs: tsc's and the linter's); the timeout allows for a loaded machine.
  it('fails on a floating promise (.ts and .mjs), a formatting change and a type error, each reported by its own tool', { timeout: 180_000 }, async () => {
    const cwd = await project()
    await writeFile(join(cwd, 'src/floating.ts'), FLOATING_TS)
    await writeFile(join(cwd, 'scripts/floating.mjs'), FLOATING_MJS)
    await writeFile(join(cwd, 'src/format.ts'), SAMPLE_TS.replace('return `${count} events`', 'return `${count} events`;'))
    await writeFile(join(cwd, 'src/types.ts'), SAMPLE_TS.replace('return `${count} events`', 'return count'))
    const r = await npmRunCheck(cwd)

    expect(r.code).not.toBe(0)
    expect(r.output).toContain('check: failed: typecheck lint format:check')
    // typecheck: only the type error
    expect(r.output.match(/^src\/\w+\.ts\(\d+,\d+\): error TS\d+/gm)).toEqual([expect.stringMatching(/^src\/types\.ts\(9,3\): error TS2322/)])
    // lint: only the two floating promises (the clean sample and the other files pass)
    const lintFiles = [...r.output.matchAll(/^\S*\/(src\/\w+\.ts|scripts\/\w+\.mjs)\n((?:[ \t]+\d+:\d+.*\n)+)/gm)].map((m) => [
      m[1],
      m[2]!.trim().split('\n').length,
    ])
    expect(lintFiles).toEqual([
      ['scripts/floating.mjs', 1],
      ['src/floating.ts', 1],
    ])
    expect(r.output).toMatch(/scripts\/floating\.mjs\n\s+4:3\s+error\s+Promises must be awaited.*no-floating-promises/)
    expect(r.output).toMatch(/src\/floating\.ts\n\s+4:3\s+error\s+Promises must be awaited.*no-floating-promises/)
    // format check: only the added semicolon
    expect(r.output.match(/^\[warn\] \S+$/gm)).toEqual(['[warn] src/format.ts'])
  })
})
