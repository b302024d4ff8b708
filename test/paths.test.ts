import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { expandInputs, InputError, naturalCompare, rotatedSiblings, segmentRegExp } from '../src/source/paths.js'

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
