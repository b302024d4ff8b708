import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PathsProvider } from '../src/source/paths-provider.js'
import {
  expandInputs,
  glob,
  InputError,
  isRotationTemp,
  linkTarget,
  naturalCompare,
  parseRotation,
  rotatedSiblings,
  segmentRegExp,
} from '../src/source/paths.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function touch(...names: string[]): Promise<void> {
  for (const n of names) {
    await mkdir(join(dir, n, '..'), { recursive: true })
    await writeFile(join(dir, n), 'x\n')
  }
}
const rel = (paths: string[]): string[] => paths.map((p) => relative(dir, p))

describe('rotatedSiblings', () => {
  it('lists numbered generations oldest first, natural order, gz or not', async () => {
    await touch('access.log', 'access.log.1', 'access.log.2.gz', 'access.log.10.gz', 'access.log.9.gz', 'error.log.1', 'access.log.bak', 'access.logger.1')
    expect(rel(await rotatedSiblings(join(dir, 'access.log')))).toEqual(['access.log.10.gz', 'access.log.9.gz', 'access.log.2.gz', 'access.log.1'])
  })

  it('lists dated generations (dateext) oldest first, with -N and hourly stamps', async () => {
    await touch(
      'access.log',
      'access.log-20250102.gz',
      'access.log-20241231',
      'access.log-20250101-2.gz',
      'access.log-20250101-1.gz',
      'access.log-2025010112.gz',
    )
    expect(rel(await rotatedSiblings(join(dir, 'access.log')))).toEqual([
      'access.log-20241231',
      'access.log-20250101-1.gz',
      'access.log-20250101-2.gz',
      'access.log-2025010112.gz',
      'access.log-20250102.gz',
    ])
  })

  it("lists kubelet's generations (0.log.YYYYMMDD-HHMMSS, compressed or not) oldest first, without its temporary files", async () => {
    await touch(
      '0.log',
      '0.log.20261207-120000',
      '0.log.20261206-235959.gz',
      '0.log.20261207-080000.gz',
      '0.log.20261207-120000.tmp',
      '1.log',
      '10.log.20261207-120000',
    )
    expect(rel(await rotatedSiblings(join(dir, '0.log')))).toEqual(['0.log.20261206-235959.gz', '0.log.20261207-080000.gz', '0.log.20261207-120000'])
    expect(parseRotation('0.log.20261207-120000.gz')).toEqual({ base: '0.log', rotation: { kind: 'dated', stamp: '20261207120000', n: -1 } })
    expect(parseRotation('0.log.20261207-120000.tmp').rotation.kind).toBe('live')
    expect(isRotationTemp('0.log.20261207-120000.tmp')).toBe(true)
    expect(isRotationTemp('upload.tmp')).toBe(false)
  })

  it("lists Docker's json-file generations (<id>-json.log.N, compressed from .1 on) oldest first", async () => {
    const id = 'f'.repeat(64)
    await touch(`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2.gz`, `${id}-json.log.10.gz`, `${id}-json.log.3.gz`)
    expect(rel(await rotatedSiblings(join(dir, `${id}-json.log`)))).toEqual([
      `${id}-json.log.10.gz`,
      `${id}-json.log.3.gz`,
      `${id}-json.log.2.gz`,
      `${id}-json.log.1`,
    ])
    // Just compressed: .1 became .1.gz (Docker compresses it after the rename).
    await rename(join(dir, `${id}-json.log.1`), join(dir, `${id}-json.log.1.gz`))
    expect(rel(await rotatedSiblings(join(dir, `${id}-json.log`))).at(-1)).toBe(`${id}-json.log.1.gz`)
  })

  it("looks beside a symlink's target, and names the generations by their real paths", async () => {
    await touch('pods/ns_web-1_uid/nginx/0.log', 'pods/ns_web-1_uid/nginx/0.log.20261207-120000', 'pods/ns_web-1_uid/nginx/0.log.20261206-120000.gz')
    await mkdir(join(dir, 'containers'))
    // kubelet writes absolute links; relative ones and chains resolve the same.
    const link = join(dir, 'containers/web-1_ns_nginx-abc.log')
    await symlink(join(dir, 'pods/ns_web-1_uid/nginx/0.log'), link)
    const expected = ['pods/ns_web-1_uid/nginx/0.log.20261206-120000.gz', 'pods/ns_web-1_uid/nginx/0.log.20261207-120000']
    expect(rel(await rotatedSiblings(link))).toEqual(expected)
    await symlink('../pods/ns_web-1_uid/nginx/0.log', join(dir, 'containers/relative.log'))
    await symlink('relative.log', join(dir, 'containers/chain.log'))
    expect(rel(await rotatedSiblings(join(dir, 'containers/relative.log')))).toEqual(expected)
    expect(rel(await rotatedSiblings(join(dir, 'containers/chain.log')))).toEqual(expected)
    // A dangling link (the pod's log was deleted) still names where its generations were.
    await unlink(join(dir, 'pods/ns_web-1_uid/nginx/0.log'))
    expect(rel(await rotatedSiblings(link))).toEqual(expected)
    await rm(join(dir, 'pods'), { recursive: true })
    expect(await rotatedSiblings(link)).toEqual([])
    expect(relative(dir, await linkTarget(join(dir, 'containers/chain.log')))).toBe('pods/ns_web-1_uid/nginx/0.log')
    // A loop gives the path back.
    await symlink('loop-b.log', join(dir, 'containers/loop-a.log'))
    await symlink('loop-a.log', join(dir, 'containers/loop-b.log'))
    expect(await linkTarget(join(dir, 'containers/loop-a.log'))).toBe(join(dir, 'containers/loop-a.log'))
  })

  it('still lists generations named after the link beside the link (a link rotated by logrotate)', async () => {
    await touch('data/access.log', 'data/access.log.1', 'nginx/access.log.2.gz')
    await symlink(join(dir, 'data/access.log'), join(dir, 'nginx/access.log'))
    expect(rel(await rotatedSiblings(join(dir, 'nginx/access.log')))).toEqual(['nginx/access.log.2.gz', 'data/access.log.1'])
  })

  it('ignores directories and is empty for a missing directory', async () => {
    await touch('access.log')
    await mkdir(join(dir, 'access.log.1'))
    expect(await rotatedSiblings(join(dir, 'access.log'))).toEqual([])
    expect(await rotatedSiblings(join(dir, 'nope', 'access.log'))).toEqual([])
  })
})

describe('expandInputs', () => {
  it('expands quoted globs and orders each log oldest first, then the live file', async () => {
    await touch('access.log', 'access.log.1', 'access.log.2.gz', 'access.log.10.gz', 'error.log', 'error.log.1', 'notes.txt')
    const got = await expandInputs([join(dir, '*.log*')])
    expect(rel(got)).toEqual(['access.log.10.gz', 'access.log.2.gz', 'access.log.1', 'access.log', 'error.log.1', 'error.log'])
  })

  it('orders files the shell already expanded, and drops duplicates', async () => {
    await touch('a.log', 'a.log.1', 'a.log-20250101.gz')
    const p = (n: string): string => join(dir, n)
    const got = await expandInputs([p('a.log'), p('a.log.1'), p('a.log-20250101.gz'), p('a.log'), join(dir, '.', 'a.log.1')])
    expect(rel(got)).toEqual(['a.log.1', 'a.log-20250101.gz', 'a.log'])
  })

  it('supports ?, [...] and [!...] and globs in directory segments', async () => {
    await touch('site1/access.log', 'site2/access.log', 'site3/access.log', 'siteX/access.log')
    expect(rel(await expandInputs([join(dir, 'site?/access.log')]))).toEqual(['site1/access.log', 'site2/access.log', 'site3/access.log', 'siteX/access.log'])
    expect(rel(await expandInputs([join(dir, 'site[12]/access.log')]))).toEqual(['site1/access.log', 'site2/access.log'])
    expect(rel(await expandInputs([join(dir, 'site[!0-9]/*')]))).toEqual(['siteX/access.log'])
  })

  it('does not let * match hidden files', async () => {
    await touch('.hidden.log', 'shown.log')
    expect(rel(await expandInputs([join(dir, '*.log')]))).toEqual(['shown.log'])
  })

  it('takes an existing file with glob characters in its name literally', async () => {
    await touch('odd[1].log', 'odd1.log')
    expect(rel(await expandInputs([join(dir, 'odd[1].log')]))).toEqual(['odd[1].log'])
  })

  it('rejects a pattern without matches, a missing file and a directory with one-line InputErrors', async () => {
    await mkdir(join(dir, 'logs'))
    for (const [input, text] of [
      [join(dir, '*.nothing'), 'no file matches'],
      [join(dir, 'missing.log'), 'no such file'],
      [join(dir, 'logs'), 'is a directory'],
    ] as const) {
      const err = await expandInputs([input]).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InputError)
      expect((err as Error).name).toBe('InputError') // the CLI maps errors by name
      expect((err as Error).message).toContain(input)
      expect((err as Error).message).toContain(text)
      expect((err as Error).message).not.toContain('\n')
    }
  })
})

describe('glob', () => {
  it('follows symlinks to files and leaves out dangling ones and links to directories', async () => {
    await touch('pods/a/0.log', 'pods/b/0.log')
    await mkdir(join(dir, 'containers'))
    await symlink(join(dir, 'pods/a/0.log'), join(dir, 'containers/a.log'))
    await symlink(join(dir, 'pods/b/0.log'), join(dir, 'containers/b.log'))
    await symlink(join(dir, 'pods/gone/0.log'), join(dir, 'containers/gone.log'))
    await symlink(join(dir, 'pods/a'), join(dir, 'containers/dir.log'))
    expect(rel(await glob(join(dir, 'containers/*.log')))).toEqual(['containers/a.log', 'containers/b.log'])
  })

  it('takes shell characters other than * ? [ literally, and keeps the pattern’s own form of the path', async () => {
    await touch('x(1).log', 'x1.log', 'a{b,c}.log', 'ab.log', '@(a).log', 'a+b.log', 'aab.log', 'x$1.log', '!y.log', 'y.log')
    const names = async (pattern: string) => rel(await glob(join(dir, pattern)))
    expect(await names('*(1).log')).toEqual(['x(1).log'])
    expect(await names('x(1)*')).toEqual(['x(1).log'])
    expect(await names('a{b,c}*')).toEqual(['a{b,c}.log'])
    expect(await names('@(a)*')).toEqual(['@(a).log'])
    expect(await names('a+b*')).toEqual(['a+b.log'])
    expect(await names('x$*')).toEqual(['x$1.log'])
    expect(await names('!*')).toEqual(['!y.log'])
    expect(await names('\\a\\b.lo?')).toEqual(['ab.log'])
    expect(await names('[x]\\(1\\).log')).toEqual(['x(1).log'])
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      expect(await glob('./x?.log')).toEqual(['./x1.log'])
      expect(await glob('x?.log')).toEqual(['x1.log'])
    } finally {
      process.chdir(cwd)
    }
  })
})

describe('PathsProvider', () => {
  it('gives each match with the file it names; skips rotated names, kubelet temporaries, dangling links and second links to one file', async () => {
    await touch('pods/a/0.log', 'pods/a/0.log.20261207-120000', 'pods/a/0.log.20261207-120000.tmp', 'pods/b/0.log')
    await mkdir(join(dir, 'containers'))
    await symlink(join(dir, 'pods/a/0.log'), join(dir, 'containers/a.log'))
    await symlink(join(dir, 'pods/a/0.log'), join(dir, 'containers/a-again.log'))
    await symlink(join(dir, 'pods/a/0.log.20261207-120000'), join(dir, 'containers/old.log'))
    await symlink(join(dir, 'pods/gone/0.log'), join(dir, 'containers/gone.log'))
    await symlink(join(dir, 'pods/b/0.log'), join(dir, 'containers/b.log'))
    const got = await new PathsProvider([join(dir, 'containers/*.log'), join(dir, 'pods/*/*')]).expand()
    expect(got.map((t) => [relative(dir, t.path), relative(dir, t.target)])).toEqual([
      ['containers/a-again.log', 'pods/a/0.log'],
      ['containers/b.log', 'pods/b/0.log'],
    ])
    expect(got[0]!.key).toBe(join(dir, 'containers/a-again.log'))
    // A literal path is kept whether it exists or not, with the target it would name.
    const literal = await new PathsProvider([join(dir, 'containers/gone.log'), join(dir, 'plain.log')]).expand()
    expect(literal.map((t) => relative(dir, t.target))).toEqual(['pods/gone/0.log', 'plain.log'])
  })

  it('sees a link replaced by one to another file as another target', async () => {
    await touch('pods/a/0.log', 'pods/a/1.log')
    await mkdir(join(dir, 'containers'))
    const link = join(dir, 'containers/web.log')
    await symlink(join(dir, 'pods/a/0.log'), link)
    const provider = new PathsProvider([join(dir, 'containers/*.log')])
    expect((await provider.expand()).map((t) => relative(dir, t.target))).toEqual(['pods/a/0.log'])
    await symlink(join(dir, 'pods/a/1.log'), link + '.new')
    await rename(link + '.new', link) // as `ln -sfn` does: atomic
    expect((await provider.expand()).map((t) => relative(dir, t.target))).toEqual(['pods/a/1.log'])
  })
})

describe('naturalCompare and segmentRegExp', () => {
  it('sorts numbers by value', () => {
    expect(['x.10', 'x.9', 'x.1', 'x.100', 'x.02'].sort(naturalCompare)).toEqual(['x.1', 'x.02', 'x.9', 'x.10', 'x.100'])
  })

  it('treats regex characters in patterns literally', () => {
    expect(segmentRegExp('a+b(1).log').test('a+b(1).log')).toBe(true)
    expect(segmentRegExp('a+b(1).log').test('aab(1)xlog')).toBe(false)
    expect(segmentRegExp('\\*.log').test('*.log')).toBe(true)
    expect(segmentRegExp('\\*.log').test('x.log')).toBe(false)
  })
})
