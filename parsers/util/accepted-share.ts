// The usual `detect` score: the share of a sample's non-empty lines that a parser accepts.
import type { LogParser } from '../types.js'

export function acceptedShare(parser: LogParser, sample: readonly Buffer[]): number {
  let lines = 0
  let accepted = 0
  for (const line of sample) {
    if (line.length === 0) continue
    lines++
    if ((parser.parse(line) as { rejected?: string }).rejected === undefined) accepted++
  }
  return lines === 0 ? 0 : accepted / lines
}
