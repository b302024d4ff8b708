// `--format auto`: pick the format whose parser reads a sample of the file best.
import type { LogParser } from './types.js'

/** A score below this means the format does not match. */
export const MIN_DETECT_SCORE = 0.5

export type DetectResult =
  | { ok: true; parser: LogParser; score: number }
  | {
      ok: false
      tried: string[]
      /** 1-based line number within the sample (empty lines included) of the first line that no
       *  candidate reads; 0 when the sample holds no non-empty line. */
      firstFailedLine: number
      /** `empty`, or a sentence saying how close the best candidate came. */
      reason: string
    }

function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false
  }
  return true
}

const FIELDS_DIRECTIVE = Buffer.from('#Fields:', 'latin1')

/** The name of the format a `#Fields:` directive selects. */
export const W3C_FORMAT_NAME = 'w3c'

function isFieldsDirective(line: Buffer): boolean {
  return line.length >= FIELDS_DIRECTIVE.length && line.subarray(0, FIELDS_DIRECTIVE.length).equals(FIELDS_DIRECTIVE)
}

function scoreOf(parser: LogParser, sample: readonly Buffer[]): number {
  try {
    const s = parser.detect(sample)
    return typeof s === 'number' && s > 0 ? Math.min(s, 1) : 0
  } catch {
    return 0
  }
}

function accepts(parser: LogParser, line: Buffer): boolean {
  try {
    return (parser.parse(line) as { rejected?: unknown }).rejected === undefined
  } catch {
    return false
  }
}

/** Scores every candidate on the sample's non-empty, non-comment lines and returns the best one; on a tie the
 *  earlier candidate wins (list specific formats before general ones). */
export function detectFormat(sample: readonly Buffer[], candidates: readonly LogParser[]): DetectResult {
  const tried = candidates.map((c) => c.name)
  // A W3C `#Fields:` directive is decisive: no other format writes one, and its data lines can
  // only be read with the layout it declares.
  if (sample.some(isFieldsDirective)) {
    const w3c = candidates.find((c) => c.name === W3C_FORMAT_NAME)
    if (w3c !== undefined) return { ok: true, parser: w3c, score: 1 }
  }
  const lines: Buffer[] = []
  const lineNumbers: number[] = []
  sample.forEach((line, i) => {
    // `#` lines are comments or headers (W3C `#Fields:`, annotated test logs), not records.
    if (!isBlank(line) && line[0] !== 0x23) {
      lines.push(line)
      lineNumbers.push(i + 1)
    }
  })
  if (lines.length === 0) return { ok: false, tried, firstFailedLine: 0, reason: 'empty' }

  let best: LogParser | undefined
  let bestScore = 0
  for (const candidate of candidates) {
    const score = scoreOf(candidate, lines)
    if (score > bestScore) {
      best = candidate
      bestScore = score
    }
  }
  if (best !== undefined && bestScore >= MIN_DETECT_SCORE) return { ok: true, parser: best, score: bestScore }

  // Point at the first line no candidate reads; if each line is read by some candidate (a mix of
  // formats), at the first line the best candidate does not read.
  let failed = lines.findIndex((line) => !candidates.some((c) => accepts(c, line)))
  if (failed < 0 && best !== undefined) failed = lines.findIndex((line) => !accepts(best, line))
  const reason =
    best === undefined
      ? `no candidate reads any of the ${lines.length} sample lines`
      : `the closest, ${best.name}, reads ${Math.round(bestScore * 100)}% of the ${lines.length} sample lines`
  return { ok: false, tried, firstFailedLine: lineNumbers[Math.max(failed, 0)]!, reason }
}
