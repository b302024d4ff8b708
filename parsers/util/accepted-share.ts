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

/** Credit for a line the format writes that is not a request (Caddy's startup records, HAProxy's
 *  TLS handshake failures): such lines often fill the start of a log. */
const OWN_LINE_CREDIT = 0.6

/** The accepted share, with partial credit for rejected lines that `isOwnLine` knows as the
 *  format's own; 0 unless the sample holds at least one accepted line. */
export function acceptedShareWithOwnLines(parser: LogParser, sample: readonly Buffer[], isOwnLine: (line: Buffer, reason: string) => boolean): number {
  let lines = 0
  let accepted = 0
  let own = 0
  for (const line of sample) {
    if (line.length === 0) continue
    lines++
    const reason = (parser.parse(line) as { rejected?: string }).rejected
    if (reason === undefined) accepted++
    else if (isOwnLine(line, reason)) own++
  }
  return lines === 0 || accepted === 0 ? 0 : (accepted + OWN_LINE_CREDIT * own) / lines
}
