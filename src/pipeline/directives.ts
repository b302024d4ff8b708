// Formats whose layout is declared inside the file (W3C `#Fields:`) need the file's directives
// before its lines can be read. When reading starts after the beginning of a file (a resumed
// checkpoint, one part of a parallel `check`), this passes the parser the `#` lines before that
// point, so the layout in force at the resume point is known. Reads through the session's input
// (its pinned handle), never by path.
import type { LogParser } from '../../parsers/types.js'
import { readLines, type ReadInput } from '../source/reader.js'

const HASH = 0x23

/** Feeds `parser` every line of `input` that starts with `#` and begins before `upTo`. Only for
 *  parsers with per-file state (`forInput`); others are left alone. */
export async function replayDirectives(parser: LogParser, input: ReadInput, upTo: number, chunkSize: number): Promise<void> {
  if (upTo <= 0 || typeof parser.forInput !== 'function') return
  for await (const batch of readLines(input, { from: 0, final: true, chunkSize })) {
    const { buf, base, starts, contentEnds } = batch
    for (let i = 0; i < starts.length; i++) {
      if (base + starts[i]! >= upTo) return
      if (buf[starts[i]!] === HASH) parser.parse(buf.subarray(starts[i], contentEnds[i]))
    }
  }
}

/** The first `count` non-empty lines of `input` (for detecting the format of a file resumed
 *  half-way, whose directives are at its start). */
export async function headSample(input: ReadInput, count: number, chunkSize: number): Promise<Buffer[]> {
  const sample: Buffer[] = []
  for await (const batch of readLines(input, { from: 0, final: true, chunkSize })) {
    const { buf, starts, contentEnds } = batch
    for (let i = 0; i < starts.length && sample.length < count; i++) {
      if (contentEnds[i]! > starts[i]!) sample.push(Buffer.from(buf.subarray(starts[i], contentEnds[i])))
    }
    if (sample.length >= count) break
  }
  return sample
}
