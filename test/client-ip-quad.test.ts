// The resolver's dotted-quad shortcut must agree with node:net's isIP on every string, so that the
// mapper's decision (send, or skip as no-client-ip) and the address sent are those of normaliseIp.
import { isIP } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createClientIpResolver, isDottedQuad, normaliseIp } from '../src/mapper/client-ip.js'

const quadLike = fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', ' ', 'a', ':', '-', '+'), maxLength: 18 })
const octet = fc.oneof(
  fc.integer({ min: 0, max: 999 }).map(String),
  fc.integer({ min: 0, max: 99 }).map((n) => `0${n}`),
)
const nearQuad = fc.array(octet, { minLength: 3, maxLength: 5 }).map((parts) => parts.join('.'))

describe('isDottedQuad', () => {
  it('agrees with isIP(s) === 4 on quad-like and random strings', () => {
    fc.assert(
      fc.property(fc.oneof(quadLike, nearQuad, fc.string()), (s) => {
        expect(isDottedQuad(s)).toBe(isIP(s) === 4)
      }),
      { numRuns: 20_000 },
    )
  })

  it('reads the edge cases as isIP does', () => {
    for (const s of ['0.0.0.0', '255.255.255.255', '192.0.2.1', '203.0.113.255']) expect(isDottedQuad(s)).toBe(true)
    for (const s of ['256.0.0.1', '01.2.3.4', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.04', '1.2.3.4:80', '+1.2.3.4'])
      expect(isDottedQuad(s)).toBe(false)
  })

  it('leaves the resolver answering as normaliseIp does', () => {
    const resolve = createClientIpResolver({})
    fc.assert(
      fc.property(fc.oneof(quadLike, nearQuad), (ip) => {
        expect(resolve({ ip })).toBe(normaliseIp(ip))
      }),
      { numRuns: 5_000 },
    )
  })
})
