// What every JSON line format shares: the line must be one JSON object (else `empty`, `bad-json`
// or `not-access-record`), and the format reads its record from that object.
import type { LogParser, ParseResult } from '../types.js'
import { acceptedShare } from './accepted-share.js'
import { jsonRecordOf } from './json-line.js'

export interface JsonFormatSpec {
  name: string
  description: string
  /** The record in a line's JSON object, or a rejection (`not-access-record`). */
  read: (obj: Record<string, unknown>) => ParseResult
  /** The detection score; by default the share of the sample's lines the format reads. */
  detect?: (parser: LogParser, sample: readonly Buffer[]) => number
}

/** A `LogParser` for a JSON line format. */
export function jsonFormat(spec: JsonFormatSpec): LogParser {
  const read = spec.read
  const score = spec.detect ?? acceptedShare
  const parser: LogParser = {
    name: spec.name,
    description: spec.description,
    detect: (sample) => score(parser, sample),
    parse(line) {
      const obj = jsonRecordOf(line)
      return typeof obj === 'string' ? { rejected: obj } : read(obj)
    },
  }
  return parser
}
