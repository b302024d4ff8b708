import { mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { hashRange, identify, idOfHead } from '../src/source/fingerprint.js'
import { IncompleteGzipError } from '../src/source/reader.js'

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const LOG =
  [
    '192.0.2.10 - - [01/Jan/2025:00:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
    '198.51.100.7 - - [01/Jan/2025:00:00:01 +0000] "GET /about HTTP/1.1" 200 128 "-" "Mozilla/5.0"',
    '203.0.113.5 - - [01/Jan/2025:00:00:02 +0000] "GET /pricing HTTP/1.1" 404 0 "-" "Mozilla/5.0"',
  ].join('\n') + '\n'

describe('identify', () => {
  it('keeps the id when access.log is renamed and then compressed, with fresh dev/ino/size', async () => {
    const live = join(dir, 'access.log')
    await writeFile(live, LOG)
    const before = await identify(live)
    expect(before.id).toMatch(/^[0-9a-f]{32}$/)
    expect(before.gzip).toBe(false)

    await rename(live, join(dir, 'access.log.1'))
    const renamed = await identify(join(dir, 'access.log.1'))
    expect(renamed.id).toBe(before.id)
    expect(renamed.ino).toBe(before.ino)

    const gz = join(dir, 'access.log.2.gz')
    await writeFile(gz, gzipSync(LOG))
    const compressed = await identify(gz)
    expect(compressed.id).toBe(before.id)
    expect(compressed.gzip).toBe(true)
    expect(compressed.size).toBe((await stat(gz)).size)
    expect(compressed.ino).not.toBe(before.ino)
  })

  it('keeps the id while the file grows (only the first line counts)', async () => {
    const p = join(dir, 'grow.log')
    await writeFile(p, LOG.split('\n')[0] + '\n')
    const a = await identify(p)
    await writeFile(p, LOG)
    expect((await identify(p)).id).toBe(a.id)
  })

  it('gives different ids to files with different first lines', async () => {
    const a = join(dir, 'a.log')
    const b = join(dir, 'b.log')
    await writeFile(a, LOG)
    await writeFile(b, LOG.replace('192.0.2.10', '192.0.2.11'))
    expect((await identify(a)).id).not.toBe((await identify(b)).id)
  })

  it('has no id for an empty file or one without a complete first line under 1 KiB', async () => {
    const empty = join(dir, 'empty.log')
    await writeFile(empty, '')
    expect((await identify(empty)).id).toBeNull()
    const partial = join(dir, 'partial.log')
    await writeFile(partial, '192.0.2.1 - - [01/Jan/2025')
    expect((await identify(partial)).id).toBeNull()
    const emptyGz = join(dir, 'empty.gz')
    await writeFile(emptyGz, gzipSync(''))
    expect(await identify(emptyGz)).toMatchObject({ id: null, gzip: true })
  })

  it('identifies a first line longer than 1 KiB by its first 1 KiB', async () => {
    const longFirst = 'a'.repeat(3000) + '\nsecond\n'
    const p = join(dir, 'long.log')
    await writeFile(p, longFirst)
    const id = (await identify(p)).id
    expect(id).toBe(idOfHead(Buffer.from('a'.repeat(1024))))
    await writeFile(p, 'a'.repeat(2000)) // same first KiB, line still unterminated
    expect((await identify(p)).id).toBe(id)
  })

  it('identifies a gzip that is still being written once its first line is in', async () => {
    const whole = gzipSync(LOG + 'x'.repeat(100_000))
    const p = join(dir, 'growing.log.1.gz')
    await writeFile(p, whole.subarray(0, Math.floor(whole.length * 0.6)))
    const plain = join(dir, 'plain.log')
    await writeFile(plain, LOG)
    expect((await identify(p)).id).toBe((await identify(plain)).id)
  })
})

describe('hashRange', () => {
  it('matches between a file and its gzip copy and detects replaced content', async () => {
    const p = join(dir, 'h.log')
    const gz = join(dir, 'h.log.1.gz')
    await writeFile(p, LOG)
    await writeFile(gz, gzipSync(LOG))
    const end = LOG.indexOf('\n', 100) + 1
    const h = await hashRange(p, false, end)
    expect(h).toMatch(/^[0-9a-f]{32}$/)
    expect(await hashRange(gz, true, end)).toBe(h)
    expect(await hashRange(p, false, end, 16)).not.toBe(h)

    await writeFile(p, LOG.replace('GET /about', 'GET /abort')) // same size, other bytes before `end`
    expect(await hashRange(p, false, end)).not.toBe(h)
  })

  it('differs when the file became shorter than the offset (truncated)', async () => {
    const p = join(dir, 't.log')
    await writeFile(p, LOG)
    const h = await hashRange(p, false, LOG.length)
    await writeFile(p, LOG.slice(0, 50))
    expect(await hashRange(p, false, LOG.length)).not.toBe(h)
  })

  it('covers the start of the file when the offset is below the window', async () => {
    const p = join(dir, 's.log')
    await writeFile(p, LOG)
    const q = join(dir, 's2.log')
    await writeFile(q, LOG.slice(0, 10) + 'different tail')
    expect(await hashRange(p, false, 10)).toBe(await hashRange(q, false, 10))
  })

  it('reports a truncated gzip as IncompleteGzipError', async () => {
    const whole = gzipSync(LOG.repeat(2000))
    const p = join(dir, 'cut.gz')
    await writeFile(p, whole.subarray(0, whole.length - 20))
    await expect(hashRange(p, true, LOG.length * 2000)).rejects.toBeInstanceOf(IncompleteGzipError)
  })
})
