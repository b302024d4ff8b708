// The circuit alone, with a scripted probe: after a written request times out, attempts wait (unsent)
// while one probe at a time asks the API; an answered probe lets one attempt go first, and its
// answer lets all go; a timeout of that attempt holds them again. Requests timed out since the last
// answer are in doubt: once a trial timed out too and `maxInDoubt` are in doubt, nothing more goes.
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16 })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16 })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16 })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 3 })
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
    await p.until(3)
    p.calls[2]!.answer(true)
    // No attempt goes, however the probes are answered: the waiting one ends at its deadline, unsent,
    // and so does one that asks now.
    expect(await last).toBe('deadline')
    expect(await wait(c, undefined, performance.now() + 20)).toBe('deadline')
    expect(p.calls.length).toBe(3)
    // An answer (a request still in flight came back) means the API works again: everything goes,
    // and the count starts over.
    const after = wait(c)
    c.answered()
    expect(await after).toBe('go')
    c.timedOut(false)
    c.timedOut(false)
    c.timedOut(false)
    const next = wait(c)
    await p.until(4)
    p.calls[3]!.answer(true)
    expect(await next).toBe('trial')
    c.close()
  })

  it('a first wave of timeouts alone, however many, still gets one trial after an answered probe (a hang that ended resumes)', async () => {
    const p = scriptedProbe()
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 2 })
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
    const c = new Circuit({ probe: p.probe, minDelayMs: 1, maxDelayMs: 2, maxInDoubt: 16 })
    c.timedOut(false)
    const w = wait(c)
    await p.until(1)
    c.answered() // a request sent before the circuit opened was answered
    expect(await w).toBe('go')
    expect(p.calls[0]!.signal.aborted).toBe(true)
    c.close()
  })
})
