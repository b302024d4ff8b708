import { existsSync } from 'node:fs'
import { appendFile, mkdtemp, open, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { IncompleteGzipError, isGzipFile, readLines } from '../src/source/reader.js'
import type { LineBatch, ReadInput, ReadOptions } from '../src/source/reader.js'

interface Line {
  start: number
  end: number
  content: Buffer
  truncated: boolean
}

/** Flattens batches into absolute lines, copying the content bytes out. */
async function collect(input: ReadInput, o?: ReadOptions): Promise<Line[]> {
  const out: Line[] = []
  for await (const b of readLines(input, o)) out.push(...linesOf(b))
  return out
}

function linesOf(b: LineBatch): Line[] {
  return b.starts.map((s, i) => ({
    start: b.base + s,
    end: b.base + (b.ends[i] as number),
    content: Buffer.from(b.buf.subarray(s, b.contentEnds[i])),
    truncated: b.truncated?.[i] ?? false,
  }))
}

const text = (lines: Line[]): string[] => lines.map((l) => l.content.toString('latin1'))

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function file(name: string, data: string | Buffer): Promise<string> {
  const p = join(dir, name)
  await writeFile(p, data)
  return p
}

describe('readLines on a plain file', () => {
  it('reports each line at its exact byte range, contiguous up to the file size', async () => {
    const data = 'GET /a\nGET /ümlaut\n\nlast\n'
    const p = await file('a.log', data)
    const lines = await collect({ path: p })
    expect(text(lines)).toEqual(['GET /a', 'GET /\u00c3\u00bcmlaut', '', 'last'])
    expect(lines[0]!.start).toBe(0)
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.start).toBe(lines[i - 1]!.end)
    expect(lines.at(-1)!.end).toBe(Buffer.byteLength(data))
  })

  it('excludes CR of CRLF from the content but counts it in the offsets', async () => {
    const p = await file('crlf.log', 'one\r\ntwo\r\n')
    const lines = await collect({ path: p })
    expect(text(lines)).toEqual(['one', 'two'])
    expect(lines.map((l) => [l.start, l.end])).toEqual([
      [0, 5],
      [5, 10],
    ])
  })

  it('leaves a last piece without newline unconsumed unless final', async () => {
    const p = await file('partial.log', 'done\nhalf a li')
    const live = await collect({ path: p }, { final: false })
    expect(text(live)).toEqual(['done'])
    expect(live.at(-1)!.end).toBe(5)
    const final = await collect({ path: p }, { final: true })
    expect(text(final)).toEqual(['done', 'half a li'])
    expect(final.at(-1)!.end).toBe(14)
  })

  it('starts at a given byte offset with absolute positions', async () => {
    const p = await file('mid.log', 'aaa\nbbb\nccc\n')
    const lines = await collect({ path: p }, { from: 4 })
    expect(text(lines)).toEqual(['bbb', 'ccc'])
    expect(lines.map((l) => l.start)).toEqual([4, 8])
  })

  it('reads lines longer than the chunk size whole', async () => {
    const long = 'x'.repeat(1000)
    const p = await file('long.log', `a\n${long}\nb\n`)
    const lines = await collect({ path: p }, { chunkSize: 64 })
    expect(text(lines)).toEqual(['a', long, 'b'])
    expect(lines.at(-1)!.end).toBe(2 + long.length + 1 + 2)
  })

  it('cuts an over-long line to maxLineBytes, marks it, and keeps later offsets exact', async () => {
    const long = 'y'.repeat(5000)
    const p = await file('huge.log', `a\n${long}\nb\n`)
    const lines = await collect({ path: p }, { chunkSize: 64, maxLineBytes: 100 })
    expect(text(lines)).toEqual(['a', 'y'.repeat(100), 'b'])
    expect(lines.map((l) => l.truncated)).toEqual([false, true, false])
    expect(lines.map((l) => [l.start, l.end])).toEqual([
      [0, 2],
      [2, 5003],
      [5003, 5005],
    ])
  })

  it('keeps memory bounded: the batch buffer never exceeds the line limit', async () => {
    const p = await file('big-line.log', `${'z'.repeat(3 * 1024 * 1024)}\nok\n`)
    let biggest = 0
    const lines: Line[] = []
    for await (const b of readLines({ path: p }, { chunkSize: 16384, maxLineBytes: 8192 })) {
      biggest = Math.max(biggest, b.buf.buffer.byteLength)
      lines.push(...linesOf(b))
    }
    expect(biggest).toBeLessThanOrEqual(64 * 1024) // 8 KiB line + slack (buffer pool pages)
    expect(text(lines)).toEqual(['z'.repeat(8192), 'ok'])
    expect(lines[1]!.start).toBe(3 * 1024 * 1024 + 1)
  })

  it('an over-long unterminated last line is left for later unless final', async () => {
    const p = await file('huge-tail.log', `a\n${'q'.repeat(500)}`)
    expect(text(await collect({ path: p }, { chunkSize: 16, maxLineBytes: 50 }))).toEqual(['a'])
    const final = await collect({ path: p }, { chunkSize: 16, maxLineBytes: 50, final: true })
    expect(final.map((l) => [l.end, l.truncated])).toEqual([
      [2, false],
      [502, true],
    ])
  })

  it('never changes a batch it has yielded', async () => {
    const p = await file('keep.log', Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n') + '\n')
    const kept: LineBatch[] = []
    for await (const b of readLines({ path: p }, { chunkSize: 50 })) kept.push(b) // keep all, read on
    const again = kept.flatMap(linesOf)
    expect(text(again)).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}`))
  })

  it('stops when the signal aborts', async () => {
    const p = await file('abort.log', 'a\nb\nc\n')
    const ac = new AbortController()
    const seen: string[] = []
    await expect(async () => {
      for await (const b of readLines({ path: p }, { chunkSize: 2, signal: ac.signal })) {
        seen.push(...text(linesOf(b)))
        ac.abort()
      }
    }).rejects.toThrow()
    expect(seen).toEqual(['a'])
  })

  it('reads through a pinned handle: the old inode after a rotation, and leaves the handle open', async () => {
    const p = await file('access.log', 'a\nb\n')
    const fh = await open(p, 'r')
    try {
      await rename(p, join(dir, 'access.log.1'))
      await writeFile(p, 'new file\n')
      await appendFile(join(dir, 'access.log.1'), 'c\n') // the server still writes to the old inode
      expect(text(await collect({ handle: fh }))).toEqual(['a', 'b', 'c'])
      const again = await collect({ handle: fh }, { from: 2 })
      expect(again.map((l) => [l.start, l.content.toString()])).toEqual([
        [2, 'b'],
        [4, 'c'],
      ])
    } finally {
      await fh.close()
    }
  })

  it('property: lines concatenated reproduce the file bytes exactly', async () => {
    const bytes = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a.map((x) => (x % 5 === 0 ? 10 : x % 7 === 0 ? 13 : x))))
    await fc.assert(
      fc.asyncProperty(bytes, fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 80 }), async (data, chunkSize, maxLineBytes) => {
        const p = join(dir, 'prop.log')
        await writeFile(p, data)
        const lines = await collect({ path: p }, { final: true, chunkSize, maxLineBytes })
        let pos = 0
        for (const l of lines) {
          expect(l.start).toBe(pos)
          const raw = data.subarray(l.start, l.end)
          // content is the line minus '\n' and a CR before it (or a trailing CR of a final piece), cut to the limit
          let full = raw.at(-1) === 10 ? raw.subarray(0, -1) : raw
          if (full.at(-1) === 13) full = full.subarray(0, -1)
          expect(l.truncated).toBe(full.length > maxLineBytes)
          expect(l.content.equals(full.subarray(0, maxLineBytes))).toBe(true)
          expect(raw.subarray(0, -1).includes(10)).toBe(false)
          pos = l.end
        }
        expect(pos).toBe(data.length)
      }),
      { numRuns: 150 },
    )
  })
})

describe('readLines on gzip', () => {
  const plain = 'first line\r\nsecond\nthird line here\nno newline at end'

  it('detects gzip by magic bytes, not by name', async () => {
    const gz = await file('rotated.log.2', gzipSync(plain))
    const fake = await file('fake.gz', plain)
    expect(await isGzipFile(gz)).toBe(true)
    expect(await isGzipFile(fake)).toBe(false)
  })

  it('reads a gzip through a handle without closing it', async () => {
    const gz = await file('h.gz', gzipSync('x\ny\n'))
    const fh = await open(gz, 'r')
    try {
      expect(text(await collect({ handle: fh }))).toEqual(['x', 'y'])
      expect(text(await collect({ handle: fh }, { from: 2 }))).toEqual(['y'])
    } finally {
      await fh.close()
    }
  })

  it('reports decompressed offsets equal to the plain file', async () => {
    const p = await file('p.log', plain)
    const gz = await file('p.log.1.gz', gzipSync(plain))
    const a = await collect({ path: p }, { final: true, chunkSize: 8 })
    const b = await collect({ path: gz }, { final: true, chunkSize: 8 })
    expect(b.map((l) => [l.start, l.end, l.content.toString()])).toEqual(a.map((l) => [l.start, l.end, l.content.toString()]))
    expect(b.at(-1)!.end).toBe(Buffer.byteLength(plain))
  })

  it('resumes inside a gzip at a decompressed offset', async () => {
    const gz = await file('r.gz', gzipSync('aaa\nbbb\nccc\n'))
    const lines = await collect({ path: gz }, { from: 8, final: true })
    expect(lines.map((l) => [l.start, l.content.toString()])).toEqual([[8, 'ccc']])
  })

  it('reads all members of a multi-member gzip', async () => {
    const gz = await file('multi.gz', Buffer.concat([gzipSync('one\ntw'), gzipSync('o\nthree\n')]))
    expect(text(await collect({ path: gz }, { final: true }))).toEqual(['one', 'two', 'three'])
  })

  it('throws IncompleteGzipError for a truncated gzip after yielding what it could read', async () => {
    const body = Array.from({ length: 5000 }, (_, i) => `request ${i} ${'p'.repeat(i % 50)}`).join('\n')
    const whole = gzipSync(body)
    const gz = await file('cut.log.gz', whole.subarray(0, Math.floor(whole.length / 2)))
    const seen: Line[] = []
    let error: unknown
    try {
      for await (const b of readLines({ path: gz }, { final: true, chunkSize: 4096 })) seen.push(...linesOf(b))
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(IncompleteGzipError)
    expect((error as IncompleteGzipError).path).toBe(gz)
    expect((error as Error).name).toBe('IncompleteGzipError')
    expect(seen.length).toBeGreaterThan(0)
    expect(text(seen)).toEqual(body.split('\n').slice(0, seen.length))
  })
})

describe('readLines on a stream (stdin)', () => {
  it('splits chunks that cut lines anywhere, offsets from 0, final piece included', async () => {
    const stream = Readable.from([Buffer.from('ab'), Buffer.from('c\r\nde'), Buffer.from('f\ng')])
    const lines = await collect({ stream }, { final: true })
    expect(lines.map((l) => [l.start, l.end, l.content.toString()])).toEqual([
      [0, 5, 'abc'],
      [5, 9, 'def'],
      [9, 10, 'g'],
    ])
  })

  it('hands over lines as they arrive, without waiting for a full buffer', async () => {
    const stream = new PassThrough()
    const it = readLines({ stream }, { final: true })
    stream.write('hello\n')
    const first = await it.next()
    expect(first.done).toBe(false)
    expect(text(linesOf(first.value as LineBatch))).toEqual(['hello'])
    stream.end('bye\n')
    const rest: Line[] = []
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(...linesOf(r.value))
    expect(text(rest)).toEqual(['bye'])
  })

  it('an abort ends a wait on a silent pipe', async () => {
    const stream = new PassThrough()
    const ac = new AbortController()
    const it = readLines({ stream }, { signal: ac.signal })
    const pending = it.next()
    ac.abort()
    await expect(pending).rejects.toThrow()
    expect(stream.destroyed).toBe(false) // stdin is the caller's
  })
})

describe('readLines on a stream, property', () => {
  it('gives the same lines as the file, however the stream is chunked', async () => {
    const data = fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a.map((x) => (x % 4 === 0 ? 10 : x % 9 === 0 ? 13 : x))))
    await fc.assert(
      fc.asyncProperty(data, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), async (bytes, cuts) => {
        const chunks: Buffer[] = []
        for (let i = 0, k = 0; i < bytes.length; k++) {
          const n = cuts[k % cuts.length] as number
          chunks.push(bytes.subarray(i, i + n))
          i += n
        }
        const p = join(dir, 'same.log')
        await writeFile(p, bytes)
        const fromFile = await collect({ path: p }, { final: true, chunkSize: 32 })
        const fromStream = await collect({ stream: Readable.from(chunks) }, { final: true, chunkSize: 32 })
        expect(fromStream).toEqual(fromFile)
      }),
      { numRuns: 100 },
    )
  })
})

describe('readLines on the shared corpus', () => {
  const corpus = resolve(import.meta.dirname, '../../shared/corpus/grafana-loki-zanbil-nginx')
  it.skipIf(!existsSync(corpus))('plain and gzip copies give the same lines and cover every byte', async () => {
    let plainEnd = 0
    let plainLines = 0
    for await (const b of readLines({ path: join(corpus, 'access.log') }, { final: true })) {
      expect(b.base).toBe(plainEnd)
      plainLines += b.starts.length
      plainEnd = b.base + (b.ends.at(-1) as number)
    }
    let gzEnd = 0
    let gzLines = 0
    for await (const b of readLines({ path: join(corpus, 'access_logs.gz') }, { final: true })) {
      gzLines += b.starts.length
      gzEnd = b.base + (b.ends.at(-1) as number)
    }
    const { size } = await import('node:fs/promises').then((m) => m.stat(join(corpus, 'access.log')))
    expect(plainEnd).toBe(size)
    expect(gzLines).toBe(plainLines)
    expect(gzEnd).toBe(plainEnd)
  })
})
