// The line loop reads a batch's lines in place (`parseRange`) instead of through a view per line:
// for every CLF-family parser and any bytes around and inside the line, both give the same result.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createClfParser, type ClfFormatName } from '../parsers/clf.js'

const FORMATS: ClfFormatName[] = ['combined', 'common', 'vhost_combined', 'vhost_common', 'traefik_clf']
const VALID = [
  '203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 200 512 "https://www.example.com/" "Mozilla/5.0"',
  'www.example.com:443 203.0.113.5 - - [20/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
  '192.0.2.10 - - [20/Nov/2026:10:00:00 +0000] "GET /api HTTP/1.1" 200 17 "-" "curl/8.5.0" 12 "router@docker" "http://192.0.2.20:80" 3ms',
  '"198.51.100.1, 203.0.113.9" - bob [20/Nov/2026:10:00:00 +0100] "POST /f\\"x HTTP/1.1" 404 - "-" "Caf\u00e9/1.0" "192.0.2.1"',
]
/** A valid line with some bytes replaced (invalid UTF-8 included), cut or left whole. */
const lineBytes = fc
  .tuple(fc.constantFrom(...VALID), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.option(fc.nat()))
  .map(([text, edits, cut]) => {
    const b = Buffer.from(text)
    for (const [at, byte] of edits) b[at % b.length] = byte
    return cut === null ? b : b.subarray(0, cut % (b.length + 1))
  })
const anyBytes = fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))

describe('parseRange', () => {
  it('gives what parse gives on the same bytes, for every CLF-family format', () => {
    const parsers = FORMATS.map((f) => [createClfParser(f), createClfParser(f)] as const)
    fc.assert(
      fc.property(fc.oneof(lineBytes, anyBytes), anyBytes, anyBytes, (line, before, after) => {
        const buf = Buffer.concat([before, line, after])
        for (const [a, b] of parsers) expect(a.parseRange!(buf, before.length, before.length + line.length)).toEqual(b.parse(Buffer.from(line)))
      }),
      { numRuns: 3000 },
    )
  })
})
