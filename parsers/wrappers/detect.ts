// Which runtime wrapper (if any) a sample of a file's lines has, and the inner lines of such a
// sample (for detecting the access-log format inside it).
import { parseCriPart } from './cri.js'
import { parseDockerPart } from './docker-json.js'
import { createJoiningFramer } from './framer.js'
import type { PartParser, PhysicalLines, StreamChoice, WrapperName } from './types.js'

export const PART_PARSERS: Readonly<Record<WrapperName, PartParser>> = { cri: parseCriPart, docker_json: parseDockerPart }

/** Share of the non-blank sample lines that must be lines of the wrapper. */
const MIN_SHARE = 0.8

/** The wrapper whose lines make up at least 80% of the sample's non-blank lines, or null (a plain
 *  access log, JSON ones included). Sample lines are without their '\n'. */
export function detectWrapper(sample: readonly Buffer[]): WrapperName | null {
  const valid: Record<WrapperName, number> = { cri: 0, docker_json: 0 }
  let nonBlank = 0
  for (const line of sample) {
    if (isBlank(line)) continue
    nonBlank++
    // The two never read the same line: a CRI line starts with a digit, a Docker one with '{'.
    if (parseCriPart(line, 0, line.length) !== null) valid.cri++
    else if (parseDockerPart(line, 0, line.length) !== null) valid.docker_json++
  }
  if (nonBlank === 0) return null
  for (const name of ['cri', 'docker_json'] as const) if (valid[name] >= MIN_SHARE * nonBlank) return name
  return null
}

/** The inner lines of a sample: parts joined, lines of other streams and lines that are not the
 *  wrapper's left out (as are cut ones). */
export function unwrapSample(sample: readonly Buffer[], wrapper: WrapperName, stream: StreamChoice): Buffer[] {
  const framer = createJoiningFramer(PART_PARSERS[wrapper], { stream, maxLineBytes: Number.MAX_SAFE_INTEGER })
  const batch = asPhysicalLines(sample)
  const out: Buffer[] = []
  for (const lines of [framer.frame(batch), framer.flush()]) {
    for (let i = 0; i < lines.starts.length; i++) if (lines.skips[i] === null && !lines.truncated[i]) out.push(lines.contents[i]!)
  }
  return out
}

function asPhysicalLines(sample: readonly Buffer[]): PhysicalLines {
  const buf = Buffer.concat(sample.flatMap((l) => [l, NEWLINE]))
  const starts: number[] = []
  const ends: number[] = []
  let at = 0
  for (const l of sample) {
    starts.push(at)
    at += l.length
    ends.push(at + 1)
    at++
  }
  return { buf, base: 0, starts, contentEnds: ends.map((e) => e - 1), ends }
}

const NEWLINE = Buffer.from('\n')

function isBlank(line: Buffer): boolean {
  for (const c of line) if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false
  return true
}
