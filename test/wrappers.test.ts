// Container-runtime wrappers (parsers/wrappers/): CRI and Docker json-file lines unwrapped and joined
// with the runtime file's own offsets, stream selection, detection, and the fixtures' inner lines
// giving the same events as the unwrapped log.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  createFramer,
  detectWrapper,
  parseCriPart,
  parseDockerPart,
  unwrapSample,
  WRAPPER_SKIP,
  type Framer,
  type LogicalLines,
  type PhysicalLines,
  type StreamChoice,
  type WrapperName,
} from '../parsers/wrappers/index.js'
import { resolveFormat } from '../parsers/registry.js'
import type { LogParser } from '../parsers/types.js'
import { createMapper } from '../src/mapper/index.js'
import { classifyLine } from '../src/pipeline/classify.js'
import { readLines } from '../src/source/reader.js'
import { corpusDir, repoRoot } from './helpers/cli.js'

const MiB = 1024 * 1024
const TS = '2026-12-07T12:00:00.123456789Z'
const fixture = (name: string): string => join(repoRoot, 'fixtures/containers', name)

/** Physical lines as the reader gives them: `lines` joined by '\n', the first one at `base`. */
function physical(lines: readonly (string | Buffer)[], base = 0): PhysicalLines {
  const parts = lines.map((l) => (typeof l === 'string' ? Buffer.from(l) : l))
  const buf = Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')]))
  const starts: number[] = []
  const contentEnds: number[] = []
  const ends: number[] = []
  let at = 0
  for (const p of parts) {
    starts.push(at)
    const cr = p.length > 0 && p[p.length - 1] === 0x0d ? 1 : 0
    contentEnds.push(at + p.length - cr)
    at += p.length + 1
    ends.push(at)
  }
  return { buf, base, starts, contentEnds, ends }
}

/** Frames `lines` cut into batches after the given line counts, then flushes. */
function frameAll(framer: Framer, lines: readonly (string | Buffer)[], cuts: number[] = []): LogicalLines {
  const out: LogicalLines = { starts: [], ends: [], contents: [], truncated: [], skips: [], resumeFrom: [] }
  const add = (l: LogicalLines): void => {
    for (const k of Object.keys(out) as (keyof LogicalLines)[]) (out[k] as unknown[]).push(...(l[k] as unknown[]))
  }
  let from = 0
  let base = 0
  for (const cut of [...cuts, lines.length]) {
    const chunk = lines.slice(from, cut)
    if (chunk.length === 0) continue
    const batch = physical(chunk, base)
    base += batch.ends.at(-1)!
    add(framer.frame(batch))
    from = cut
  }
  add(framer.flush())
  return out
}

const texts = (l: LogicalLines): (string | null)[] => l.contents.map((c, i) => (l.skips[i] === null ? c.toString('utf8') : null))
const cri = (stream: string, tag: string, content: string): string => `${TS} ${stream} ${tag} ${content}`
const docker = (log: string, stream = 'stdout'): string => JSON.stringify({ log, stream, time: TS })

describe('CRI lines', () => {
  it('reads timestamp, stream, tag and content as kubelet does, and refuses anything else', () => {
    const part = (s: string) => {
      const b = Buffer.from(s)
      const p = parseCriPart(b, 0, b.length)
      return p && { stream: p.stream, partial: p.partial, content: p.content.toString() }
    }
    expect(part(`${TS} stdout F GET / HTTP/1.1`)).toEqual({ stream: 'stdout', partial: false, content: 'GET / HTTP/1.1' })
    expect(part(`${TS} stderr P half`)).toEqual({ stream: 'stderr', partial: true, content: 'half' })
    // CRI-O writes the zone offset; Go drops trailing zeros of the fraction, or the whole fraction.
    expect(part('2026-12-07T13:00:00.5+01:00 stdout F x')).toEqual({ stream: 'stdout', partial: false, content: 'x' })
    expect(part('2026-12-07T12:00:00Z stdout F x')?.content).toBe('x')
    // Tags are a ':'-separated list; only the first one says partial or full.
    expect(part(`${TS} stdout P:x2 a`)?.partial).toBe(true)
    expect(part(`${TS} stdout F:x2 a`)?.partial).toBe(false)
    expect(part(`${TS} stdout PX a`)?.partial).toBe(false)
    // An empty line: containerd writes the space after the tag; without it, it is empty too.
    expect(part(`${TS} stdout F `)?.content).toBe('')
    expect(part(`${TS} stdout F`)?.content).toBe('')
    // Content keeps its own spaces.
    expect(part(`${TS} stdout F  two  spaces `)?.content).toBe(' two  spaces ')
    for (const bad of [
      '',
      'GET / HTTP/1.1',
      `${TS} stdin F x`,
      `${TS} stdout`,
      `${TS}  stdout F x`,
      '2026-12-07 12:00:00Z stdout F x',
      '2026-12-07T12:00:00 stdout F x',
      '2026-12-07T12:00:00.Z stdout F x',
      '2026-12-07T12:00:00.1234567890Z stdout F x',
      '192.0.2.1 - - [07/Dec/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"',
    ]) {
      expect(part(bad), bad).toBeNull()
    }
  })
})

describe('Docker json-file lines', () => {
  const part = (s: string) => {
    const b = Buffer.from(s)
    const p = parseDockerPart(b, 0, b.length)
    return p && { stream: p.stream, partial: p.partial, content: p.content.toString('utf8') }
  }

  it('decodes the escapes Docker writes, byte for byte, and tells full entries from partial ones', () => {
    expect(part(String.raw`{"log":"say \"hi\" caf\u00e9 tab\there back\\slash a\u0026b \u003cp\u003e\n","stream":"stdout","time":"${TS}"}`)).toEqual({
      stream: 'stdout',
      partial: false,
      content: 'say "hi" café tab\there back\\slash a&b <p>',
    })
    // Raw UTF-8 (as Docker writes it) is taken as it is, and a surrogate pair is one character.
    expect(part(`{"log":"café \\ud83d\\ude00\\n","stream":"stderr","time":"${TS}"}`)).toEqual({ stream: 'stderr', partial: false, content: 'café 😀' })
    // Lines over 16 KiB come as entries without the final '\n'.
    expect(part(`{"log":"first half","stream":"stdout","time":"${TS}"}`)).toEqual({ stream: 'stdout', partial: true, content: 'first half' })
    // `log` is left out when empty; labels and tags come as attrs; other key orders are JSON all the same.
    expect(part(`{"stream":"stdout","time":"${TS}"}`)).toEqual({ stream: 'stdout', partial: true, content: '' })
    expect(part(`{"log":"x\\n","stream":"stdout","attrs":{"tag":"web","com.example.team":"a"},"time":"${TS}"}`)?.content).toBe('x')
    expect(part(`{"time":"${TS}", "stream":"stdout", "log":"y\\n"}`)?.content).toBe('y')
    // Bytes after an escape whose JS-string decoding would differ: a lone surrogate is U+FFFD.
    expect(part(`{"log":"a\\ud800b\\n","stream":"stdout","time":"${TS}"}`)?.content).toBe('a\ufffdb')
  })

  it('is not fooled by JSON access logs or broken entries', () => {
    for (const bad of [
      readFileSync(join(repoRoot, 'fixtures/json/nginx-escape-json.log'), 'utf8').split('\n')[0]!,
      readFileSync(join(repoRoot, 'fixtures/json/caddy.log'), 'utf8').split('\n')[0]!,
      readFileSync(join(repoRoot, 'fixtures/json/traefik.log'), 'utf8').split('\n')[0]!,
      `{"log":"x\\n","stream":"stdout","time":"${TS}","status":200}`,
      `{"log":"x\\n","stream":"console","time":"${TS}"}`,
      `{"log":"x\\n","stream":"stdout","time":"yesterday"}`,
      `{"log":"x\\n","stream":"stdout"}`,
      `{"log":"x\\q","stream":"stdout","time":"${TS}"}`,
      `{"log":"x\\u00zz","stream":"stdout","time":"${TS}"}`,
      `{"log":"unterminated,"stream":"stdout","time":"${TS}"}`,
      `{"log":"x\\n","stream":"stdout","time":"${TS}"`,
      `{"log":1,"stream":"stdout","time":"${TS}"}`,
      `{"log":"x","stream":"stdout","time":"${TS}","attrs":[1]}`,
      '[]',
      '{}',
    ]) {
      expect(part(bad), bad).toBeNull()
    }
  })
})

describe('framer', () => {
  it('joins CRI P/P/F parts into one line from the first part start to the end of the F part, across batches', () => {
    const lines = [cri('stdout', 'F', 'one'), cri('stdout', 'P', 'tw'), cri('stdout', 'P', 'o-'), cri('stdout', 'F', 'parts'), cri('stdout', 'F', 'three')]
    const b = physical(lines)
    for (const cuts of [[], [1], [2], [3], [1, 2, 3, 4]]) {
      const out = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), lines, cuts)
      expect(texts(out), `cuts ${cuts.join(',')}`).toEqual(['one', 'two-parts', 'three'])
      expect(out.starts).toEqual([b.starts[0], b.starts[1], b.starts[4]])
      expect(out.ends).toEqual([b.starts[1], b.starts[4], b.ends[4]])
      expect(out.resumeFrom).toEqual(out.ends)
    }
  })

  it('keeps an open run (and what follows it) until it is completed, and says where it starts', () => {
    const f = createFramer('cri', { stream: 'all', maxLineBytes: MiB })
    const first = physical([cri('stdout', 'F', 'a'), cri('stdout', 'P', 'b1'), cri('stderr', 'F', 'err')])
    const got = f.frame(first)
    expect(texts(got)).toEqual(['a'])
    expect(got.ends).toEqual([first.ends[0]])
    expect(f.openFrom).toBe(first.ends[0])
    const second = f.frame(physical([cri('stdout', 'F', 'b2')], first.ends[2]!))
    expect(texts(second)).toEqual(['b1b2', 'err'])
    expect(f.openFrom).toBeNull()
  })

  it('flushes an open run at the end of final input (a container that stopped mid-line)', () => {
    const f = createFramer('cri', { stream: 'all', maxLineBytes: MiB })
    const b = physical([cri('stdout', 'F', 'a'), cri('stdout', 'P', 'cut '), cri('stdout', 'P', 'off')])
    expect(texts(f.frame(b))).toEqual(['a'])
    const rest = f.flush()
    expect(texts(rest)).toEqual(['cut off'])
    expect(rest.starts).toEqual([b.starts[1]])
    expect(rest.ends).toEqual([b.ends[2]])
    expect(f.openFrom).toBeNull()
    expect(f.flush().starts).toEqual([])
  })

  it('gives an empty F line as an empty inner line', () => {
    const out = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), [cri('stdout', 'F', ''), `${TS} stdout F`])
    expect(texts(out)).toEqual(['', ''])
  })

  it('skips the streams --stream leaves out, with the reason, joined parts and all', () => {
    const lines = [cri('stdout', 'F', 'out1'), cri('stderr', 'P', 'err'), cri('stderr', 'F', '1'), cri('stdout', 'F', 'out2')]
    const pick = (stream: StreamChoice) => frameAll(createFramer('cri', { stream, maxLineBytes: MiB }), lines)
    expect(texts(pick('all'))).toEqual(['out1', 'err1', 'out2'])
    const stdout = pick('stdout')
    expect(texts(stdout)).toEqual(['out1', null, 'out2'])
    expect(stdout.skips).toEqual([null, WRAPPER_SKIP.otherStream, null])
    expect(texts(pick('stderr'))).toEqual([null, 'err1', null])
  })

  it('counts lines that are not the wrapper’s as skipped not-wrapped, without breaking an open run', () => {
    const lines = [cri('stdout', 'P', 'a'), 'garbage', '', cri('stdout', 'F', 'b')]
    const out = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), lines)
    expect(texts(out)).toEqual(['ab', null, null])
    expect(out.skips).toEqual([null, WRAPPER_SKIP.notWrapped, WRAPPER_SKIP.notWrapped])
  })

  it('joins Docker entries without the final newline, per stream, and drops a CRLF line end', () => {
    const lines = [docker('GET /a?x=1&y=2 '), docker('err part ', 'stderr'), docker('HTTP/1.1\r\n'), docker('rest\n', 'stderr'), docker('\n')]
    const out = frameAll(createFramer('docker_json', { stream: 'all', maxLineBytes: MiB }), lines)
    expect(texts(out)).toEqual(['GET /a?x=1&y=2 HTTP/1.1', 'err part rest', ''])
  })

  it('with interleaved streams, ranges still partition the file and resumeFrom points before a run that crosses them', () => {
    // stdout's line is split, and a stderr line is written between its parts.
    const lines = [cri('stdout', 'P', 'long-'), cri('stderr', 'F', 'between'), cri('stdout', 'F', 'line'), cri('stdout', 'F', 'next')]
    const b = physical(lines)
    const out = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), lines)
    expect(texts(out)).toEqual(['long-line', 'between', 'next'])
    expect(out.starts).toEqual([b.starts[0], b.starts[1], b.starts[3]])
    expect(out.ends).toEqual([b.starts[1], b.starts[3], b.ends[3]])
    // Resuming after 'long-line' (done) at its end would read its F part alone: read from its start.
    expect(out.resumeFrom).toEqual([b.starts[0], b.starts[3], b.ends[3]])
  })

  it('resuming at resumeFrom and dropping lines that start before the checkpoint gives exactly the rest, never a half line', () => {
    const streamLine = fc.record({
      stream: fc.constantFrom('stdout', 'stderr'),
      parts: fc.array(fc.stringMatching(/^[a-z]{0,6}$/), { minLength: 1, maxLength: 4 }),
    })
    fc.assert(
      fc.property(fc.array(streamLine, { minLength: 1, maxLength: 12 }), fc.nat(), (script, seed) => {
        // Interleave the two streams' physical lines while keeping each stream's order.
        const queues = { stdout: [] as string[], stderr: [] as string[] }
        for (const l of script) l.parts.forEach((p, i) => queues[l.stream as 'stdout' | 'stderr'].push(cri(l.stream, i < l.parts.length - 1 ? 'P' : 'F', p)))
        const lines: string[] = []
        let r = seed
        while (queues.stdout.length + queues.stderr.length > 0) {
          r = (r * 1103515245 + 12345) % 2 ** 31
          const pick = queues.stdout.length === 0 ? 'stderr' : queues.stderr.length === 0 ? 'stdout' : r % 2 === 0 ? 'stdout' : 'stderr'
          lines.push(queues[pick].shift()!)
        }
        const all = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), lines)
        const b = physical(lines)
        for (let k = 0; k < all.starts.length; k++) {
          // A crash after line k was acknowledged: read again from resumeFrom[k].
          if (all.resumeFrom[k] === b.ends.at(-1)) {
            expect(k).toBe(all.starts.length - 1)
            continue
          }
          const from = b.starts.indexOf(all.resumeFrom[k]!)
          expect(from).toBeGreaterThanOrEqual(0)
          const again = frameAll(createFramer('cri', { stream: 'all', maxLineBytes: MiB }), lines.slice(from))
          const shift = all.resumeFrom[k]!
          const kept = again.starts.map((s, i) => ({ s: s + shift, e: again.ends[i]! + shift, t: texts(again)[i] })).filter((x) => x.s >= all.ends[k]!)
          const expected = all.starts.slice(k + 1).map((s, i) => ({ s, e: all.ends[k + 1 + i]!, t: texts(all)[k + 1 + i] }))
          expect(kept).toEqual(expected)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('bounds a joined line: content beyond maxLineBytes is cut (rejected line-too-long), a run held too long is given out', () => {
    const f = createFramer('cri', { stream: 'all', maxLineBytes: 10, maxHoldBytes: 1000 })
    const out = frameAll(f, [cri('stdout', 'P', '123456'), cri('stdout', 'P', '789012'), cri('stdout', 'F', '345'), cri('stdout', 'F', 'ok')])
    expect(texts(out)).toEqual(['1234567890', 'ok'])
    expect(out.truncated).toEqual([true, false])
    // Open over more than maxHoldBytes of file: given out cut; its later parts are skipped.
    const g = createFramer('cri', { stream: 'stdout', maxLineBytes: 10, maxHoldBytes: 100 })
    const lines = [cri('stdout', 'P', 'abc'), cri('stderr', 'F', 'e1'), cri('stdout', 'P', 'def'), cri('stdout', 'F', 'ghi'), cri('stdout', 'F', 'ok')]
    const held = frameAll(g, lines)
    expect(held.truncated[0]).toBe(true)
    // Cut by the part that took it past maxHoldBytes (the third physical line ends at 141 bytes).
    expect(held.contents[0]!.toString()).toBe('abcdef')
    expect(held.skips).toEqual([null, WRAPPER_SKIP.otherStream, WRAPPER_SKIP.restOfLongLine, null])
    expect(texts(held).at(-1)).toBe('ok')
  })

  it('gives a physical line the reader cut (over its limit) as truncated', () => {
    const b = physical([cri('stdout', 'F', 'x'.repeat(50)), '{"log":"' + 'y'.repeat(50)])
    b.truncated = [true, true]
    const out = createFramer('cri', { stream: 'all', maxLineBytes: MiB }).frame(b)
    expect(out.truncated).toEqual([true, true])
    expect(out.skips).toEqual([null, null])
  })

  it('never throws on any bytes; every physical line lies in exactly one logical range, in order, whatever the batches', () => {
    const valid = [cri('stdout', 'P', 'ab'), cri('stderr', 'F', 'c d'), cri('stdout', 'F', ''), docker('x\n'), docker('part'), docker('y\n', 'stderr')]
    const line = fc.oneof(
      fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a.filter((c) => c !== 0x0a))),
      fc.constantFrom(...valid).map((s) => Buffer.from(s)),
      fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, at, byte]) => {
        const b = Buffer.from(s)
        if (b.length > 0) b[at % b.length] = byte === 0x0a ? 0x20 : byte
        return b
      }),
    )
    fc.assert(
      fc.property(
        fc.constantFrom<WrapperName>('cri', 'docker_json'),
        fc.constantFrom<StreamChoice>('stdout', 'stderr', 'all'),
        fc.array(line, { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat({ max: 30 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 64 }),
        (wrapper, stream, lines, cuts, maxLineBytes) => {
          const b = physical(lines)
          const sorted = [...new Set(cuts)].sort((x, y) => x - y)
          const out = frameAll(createFramer(wrapper, { stream, maxLineBytes }), lines, sorted)
          // Contiguous, increasing, from the first line's start to the last line's end.
          expect(out.starts[0]).toBe(0)
          expect(out.ends.at(-1)).toBe(b.ends.at(-1))
          for (let i = 0; i < out.starts.length; i++) {
            expect(out.ends[i]!).toBeGreaterThan(out.starts[i]!)
            if (i > 0) expect(out.starts[i]).toBe(out.ends[i - 1])
            expect(b.starts).toContain(out.starts[i])
            expect(out.resumeFrom[i]!).toBeLessThanOrEqual(out.ends[i]!)
            expect(out.contents[i]!.length).toBeLessThanOrEqual(maxLineBytes)
            if (out.skips[i] !== null) expect(out.truncated[i]).toBe(false)
          }
          // The same lines whatever the batches.
          const whole = frameAll(createFramer(wrapper, { stream, maxLineBytes }), lines)
          expect(out).toEqual(whole)
        },
      ),
      { numRuns: 400 },
    )
  })
})

describe('detection', () => {
  const sampleOf = (text: string): Buffer[] =>
    text
      .split('\n')
      .slice(0, 200)
      .map((l) => Buffer.from(l.endsWith('\r') ? l.slice(0, -1) : l))

  it('recognises each wrapper, and takes plain and JSON access logs for unwrapped', () => {
    expect(detectWrapper(sampleOf(readFileSync(fixture('cri-combined.log'), 'utf8')))).toBe('cri')
    expect(detectWrapper(sampleOf(readFileSync(fixture('cri-nginx-json.log'), 'utf8')))).toBe('cri')
    expect(detectWrapper(sampleOf(readFileSync(fixture('docker-combined-json.log'), 'utf8')))).toBe('docker_json')
    expect(detectWrapper(sampleOf(readFileSync(fixture('docker-nginx-json.log'), 'utf8')))).toBe('docker_json')
    for (const plain of [
      'fixtures/containers/combined.log',
      'fixtures/containers/nginx-json.log',
      'fixtures/sample.access.log',
      'fixtures/json/caddy.log',
      'fixtures/json/traefik.log',
      'fixtures/json/nginx-escape-json.log',
      'fixtures/json/matomo-nginx.log',
    ]) {
      expect(detectWrapper(sampleOf(readFileSync(join(repoRoot, plain), 'utf8'))), plain).toBeNull()
    }
    expect(detectWrapper([])).toBeNull()
    expect(detectWrapper([Buffer.from(''), Buffer.from('  ')])).toBeNull()
  })

  it('needs most lines to be the wrapper’s', () => {
    const crlines = Array.from({ length: 8 }, (_, i) => Buffer.from(cri('stdout', 'F', `l${i}`)))
    expect(detectWrapper([...crlines, Buffer.from('junk'), Buffer.from('junk')])).toBe('cri')
    expect(detectWrapper([...crlines.slice(0, 5), Buffer.from('junk'), Buffer.from('junk'), Buffer.from('junk')])).toBeNull()
  })

  it('takes real nginx JSON logs from the corpus for unwrapped', (ctx) => {
    const files = [join(corpusDir, 'local-nginx/access.json.log'), join(corpusDir, 'spiderstrategies-nginx-json/access.log.gz')].filter((f) => existsSync(f))
    if (files.length === 0) ctx.skip('shared corpus not present')
    for (const f of files) {
      const raw = readFileSync(f)
      const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')
      expect(detectWrapper(sampleOf(text)), f).toBeNull()
    }
  })

  it('unwraps a sample for detecting the inner format: joined, filtered by stream', () => {
    const sample = [cri('stdout', 'P', 'GET '), cri('stderr', 'F', 'klog'), cri('stdout', 'F', '/x'), 'junk'].map((s) => Buffer.from(s))
    expect(unwrapSample(sample, 'cri', 'all').map(String)).toEqual(['GET /x', 'klog'])
    expect(unwrapSample(sample, 'cri', 'stdout').map(String)).toEqual(['GET /x'])
    expect(unwrapSample([Buffer.from(docker('a')), Buffer.from(docker('b\n'))], 'docker_json', 'all').map(String)).toEqual(['ab'])
  })
})

describe('fixtures: the wrapped logs give the events of the unwrapped one', () => {
  async function innerLines(path: string, wrapper: WrapperName | null, stream: StreamChoice): Promise<{ text: Buffer; truncated: boolean }[]> {
    const framer = wrapper === null ? null : createFramer(wrapper, { stream, maxLineBytes: MiB })
    const out: { text: Buffer; truncated: boolean }[] = []
    const take = (l: LogicalLines) => l.contents.forEach((c, i) => l.skips[i] === null && out.push({ text: c, truncated: l.truncated[i]! }))
    for await (const b of readLines({ path }, { final: true, chunkSize: 512 })) {
      if (framer) take(framer.frame(b))
      else b.starts.forEach((s, i) => out.push({ text: b.buf.subarray(s, b.contentEnds[i]), truncated: b.truncated?.[i] === true }))
    }
    if (framer) take(framer.flush())
    return out
  }

  async function events(path: string, wrapper: WrapperName | null, format: string, stream: StreamChoice = 'all') {
    const parser = (await resolveFormat(format)) as LogParser
    const mapper = createMapper({ projectId: 'AAAAAAAAAAAA' })
    const outcomes = (await innerLines(path, wrapper, stream)).map((l) => classifyLine(parser, mapper, l.text, l.truncated))
    return { events: outcomes.flatMap((o) => (o.kind === 'event' ? [o.event] : [])), rejected: outcomes.filter((o) => o.kind === 'rejected').length }
  }

  for (const [inner, format] of [
    ['combined', 'combined'],
    ['nginx-json', 'nginx_json'],
  ] as const) {
    it(`${inner}: CRI and Docker json-file wrappings give the same events; stderr and start-up lines are not access lines`, async () => {
      const plain = await events(fixture(`${inner}.log`), null, format)
      expect(plain.events.length).toBeGreaterThan(2)
      expect(plain.rejected).toBe(0)
      const criName = `cri-${inner}.log`
      const dockerName = inner === 'combined' ? 'docker-combined-json.log' : `docker-${inner}.log`
      for (const [name, wrapper] of [
        [criName, 'cri'],
        [dockerName, 'docker_json'],
      ] as const) {
        const all = await events(fixture(name), wrapper, format)
        expect(all.events, name).toEqual(plain.events)
        // The banner, klog and nginx error lines: 8 + 3 + 2 lines and the final empty one.
        expect(all.rejected, name).toBe(14)
        const stdout = await events(fixture(name), wrapper, format, 'stdout')
        expect(stdout.events, name).toEqual(plain.events)
        expect(stdout.rejected, name).toBe(9)
      }
    })
  }
})
