import { describe, expect, it } from 'vitest'
import { formatCount } from '../src/output/count.js'

describe('formatCount', () => {
  it('groups digits as toLocaleString("en-US") does, for the counts a report prints', () => {
    const values = [0, 1, 12, 123, 999, 1000, 1001, 9999, 10_000, 123_456, 999_999, 1_000_000, 1_234_567, 12_345_678, Number.MAX_SAFE_INTEGER]
    for (let v = 1; v < 1e15; v = v * 7 + 3) values.push(v)
    for (const v of values) {
      expect(formatCount(v)).toBe(v.toLocaleString('en-US'))
      if (v !== 0) expect(formatCount(-v)).toBe((-v).toLocaleString('en-US'))
    }
  })

  it('falls back to toLocaleString for fractions and non-finite numbers', () => {
    for (const v of [1.5, 1234.5678, Number.NaN, Number.POSITIVE_INFINITY]) expect(formatCount(v)).toBe(v.toLocaleString('en-US'))
  })
})
