// The circuit alone, with a scripted probe: after a written request times out, attempts wait (unsent)
// while one probe at a time asks the API; an answered probe lets one attempt go first, and its
// answer lets all go; a timeout of that attempt holds them again.
import { describe, expect, it } from 'vitest'
import { Circuit, type Admission } from '../src/sink/circuit.js'

/** A probe the test answers by hand, one call at a time. */
function scriptedProbe() {
  const calls: { answer(ok: boolean): void; signal: AbortSignal }[] = []
  let onCall: (() => void) | undefined
  return {
    calls,
    probe: (signal: AbortSignal) =>
      new Promise<boolean>((resolve) => {
        calls.push({ answer: resolve, signal })
        signal.addEventListener('abort', () => resolve(false), { once: true })
        onCall?.()
      }),
    /** Resolves once `n` probes have been made. */
    until: (n: number) =>
      new Promise<void>((r) => {
        const check = () => {
          if (calls.length >= n) r()
        }
        onCall = check
        check()
      }),
  }
}

const settle = () => new Promise((r) => setImmediate(r))
const wait = (c: Circuit, signal?: AbortSignal, deadline = Infinity) => Promise.resolve(c.admit(signal, deadline))

describe('Circuit', () => {
  it('is closed until a written request times out; then attempts wait while probes are not answered', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2 })
    expect(c.closed).toBe(true)
    expect(c.admit(undefined, Infinity)).toBe('go')
    c.timedOut(false)
    expect(c.closed).toBe(false)
    const got: Admission[] = []
    const a = wait(c).then((x) => got.push(x))
    const b = wait(c).then((x) => got.push(x))
    await p.until(1)
    p.calls[0]!.answer(false) // no answer: probe again after a backoff
    await p.until(2)
    await settle()
    expect(got).toEqual([])
    expect(p.calls.filter((x) => !x.signal.aborted).length).toBe(2) // one probe at a time: the first has ended
    p.calls[1]!.answer(true)
    await a
    expect(got).toEqual(['trial']) // one attempt goes first
    c.answered() // ...and it was answered: everyone goes
    await b
    expect(got).toEqual(['trial', 'go'])
    expect(c.closed).toBe(true)
    c.close()
  })

  it('a timeout of the first attempt after the probe holds the others again; a refusal of it lets the next one try', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2 })
    c.timedOut(false)
    const got: Admission[] = []
    const waits = [wait(c), wait(c), wait(c)].map((w, i) => w.then((x) => got.push(`${i}:${x}` as Admission)))
    await p.until(1)
    p.calls[0]!.answer(true)
    await waits[0]
    expect(got).toEqual(['0:trial'])
    c.timedOut(true) // the trial was written and ran out of time
    await p.until(2)
    await settle()
    expect(got).toEqual(['0:trial'])
    p.calls[1]!.answer(true)
    await waits[1]
    expect(got).toEqual(['0:trial', '1:trial'])
    c.ended(true) // refused (not an answer, not a timeout): the next one tries
    await waits[2]
    expect(got).toEqual(['0:trial', '1:trial', '2:trial'])
    c.answered()
    expect(c.closed).toBe(true)
    c.close()
  })

  it('a waiting attempt ends at its deadline or when its send stops, and close() stops the probes', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2 })
    c.timedOut(false)
    expect(await wait(c, undefined, performance.now() + 20)).toBe('deadline')
    const ac = new AbortController()
    const stopped = wait(c, ac.signal)
    ac.abort()
    expect(await stopped).toBe('stopped')
    expect(c.admit(AbortSignal.abort(), Infinity)).toBe('stopped')
    const last = wait(c)
    await p.until(1)
    c.close()
    expect(await last).toBe('stopped')
    expect(p.calls.at(-1)!.signal.aborted).toBe(true)
  })

  it('an answer to any attempt while open closes it and ends the probing', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2 })
    c.timedOut(false)
    const w = wait(c)
    await p.until(1)
    c.answered() // a request sent before the circuit opened was answered
    expect(await w).toBe('go')
    expect(p.calls[0]!.signal.aborted).toBe(true)
    c.close()
  })
})
