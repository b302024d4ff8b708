import { describe, expect, it } from 'vitest'
import { emptyCounters } from '../src/types.js'

describe('counters', () => {
  it('start with the documented skip reasons at zero', () => {
    const c = emptyCounters()
    expect(c.lines).toBe(0)
    expect(Object.keys(c.skipped)).toEqual(['static', 'bot', 'method', 'status', 'filtered', 'time'])
  })
})
