// The circuit alone, with a scripted probe: after a written request times out, attempts wait (unsent)
// while one probe at a time asks the API; an answered probe lets one attempt go first, and its
// answer lets all go; a timeout of that attempt holds them again. Requests timed out since the last
// answer are in doubt: once a trial timed out too and `maxInDoubt` are in doubt, nothing more goes
// until a cooldown ends (then one more trial, once a probe is answered).
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

/** A cooldown longer than any test: past the bound nothing more is tried. */
const NO_COOLDOWN_END = { retrialMinDelayMs: 3_600_000, retrialMaxDelayMs: 3_600_000 }

const settle = () => new Promise((r) => setImmediate(r))
const wait = (c: Circuit, signal?: AbortSignal, deadline = Infinity) => Promise.resolve(c.admit(signal, deadline))

describe('Circuit', () => {
  it('is closed until a written request times out; then attempts wait while probes are not answered', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16, ...NO_COOLDOWN_END })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16, ...NO_COOLDOWN_END })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16, ...NO_COOLDOWN_END })
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

  it('trials stop once one timed out and maxInDoubt requests are in doubt: the API answers its probes, but nothing more is written', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 3, ...NO_COOLDOWN_END })
    c.timedOut(false) // one request in doubt
    const a = wait(c)
    const b = wait(c)
    const last = wait(c, undefined, performance.now() + 50)
    await p.until(1)
    p.calls[0]!.answer(true)
    expect(await a).toBe('trial')
    c.timedOut(true) // two in doubt: below the bound, the next answered probe lets another trial go
    await p.until(2)
    p.calls[1]!.answer(true)
    expect(await b).toBe('trial')
    c.timedOut(true) // three in doubt
    // Until the cooldown ends nothing is probed and no attempt goes: the waiting one ends at its
    // deadline, unsent, and so does one that asks now.
    expect(await last).toBe('deadline')
    expect(await wait(c, undefined, performance.now() + 20)).toBe('deadline')
    expect(p.calls.length).toBe(2)
    // An answer (a request still in flight came back) means the API works again: everything goes,
    // and the count starts over.
    const after = wait(c)
    c.answered()
    expect(await after).toBe('go')
    c.timedOut(false)
    c.timedOut(false)
    c.timedOut(false)
    const next = wait(c)
    await p.until(3)
    p.calls[2]!.answer(true)
    expect(await next).toBe('trial')
    c.close()
  })

  it('past the bound, one more trial after each cooldown (doubling, capped) once a probe is answered; an answer resets it', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 1, retrialMinDelayMs: 40, retrialMaxDelayMs: 80 })
    const trialAfter = async (probeIndex: number): Promise<number> => {
      const t0 = performance.now()
      const w = wait(c)
      await p.until(probeIndex + 1)
      const probedAt = performance.now() - t0
      p.calls[probeIndex]!.answer(true)
      expect(await w).toBe('trial')
      return probedAt
    }
    c.timedOut(false) // the hang's first wave
    expect(await trialAfter(0)).toBeLessThan(40) // probed at once
    c.timedOut(true) // the trial timed out too: past the bound
    expect(await trialAfter(1)).toBeGreaterThanOrEqual(35) // after the 40 ms cooldown
    c.timedOut(true)
    expect(await trialAfter(2)).toBeGreaterThanOrEqual(75) // doubled
    c.timedOut(true)
    const capped = await trialAfter(3)
    expect(capped).toBeGreaterThanOrEqual(75) // capped at 80 ms
    expect(capped).toBeLessThan(1000)
    // The API answers again: everything goes, and the next hang starts from the shortest cooldown.
    const after = wait(c)
    c.answered()
    expect(await after).toBe('go')
    c.timedOut(false)
    expect(await trialAfter(4)).toBeLessThan(40)
    c.timedOut(true)
    const again = await trialAfter(5)
    expect(again).toBeGreaterThanOrEqual(35)
    expect(again).toBeLessThan(75)
    c.close()
  })

  it('a first wave of timeouts alone, however many, still gets one trial after an answered probe (a hang that ended resumes)', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 2, ...NO_COOLDOWN_END })
    for (let i = 0; i < 4; i++) c.timedOut(false)
    const got: Admission[] = []
    const first = wait(c).then((x) => got.push(x))
    const second = wait(c).then((x) => got.push(x))
    await p.until(1)
    p.calls[0]!.answer(true)
    await first
    expect(got).toEqual(['trial'])
    c.answered()
    await second
    expect(got).toEqual(['trial', 'go'])
    c.close()
  })

  it('an answer to any attempt while open closes it and ends the probing', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16, ...NO_COOLDOWN_END })
    c.timedOut(false)
    const w = wait(c)
    await p.until(1)
    c.answered() // a request sent before the circuit opened was answered
    expect(await w).toBe('go')
    expect(p.calls[0]!.signal.aborted).toBe(true)
    c.close()
  })
})
