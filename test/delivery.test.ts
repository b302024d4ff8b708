import { afterEach, describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import { deliver } from '../src/delivery/engine.js'
import type { DeliveryItem, DeliveryOptions, Progress } from '../src/delivery/engine.js'
import { CertificateError, DeliveryError, FatalApiError, SendStoppedError } from '../src/sink/contract.js'
import type { EventSink, SendControl, SendOutcome } from '../src/sink/contract.js'
import type { OutgoingEvent } from '../src/types.js'

// ---- helpers ----

interface Deferred<T> {
  promise: Promise<T>
  resolve(v: T): void
  reject(e: unknown): void
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const LINE = 10
function event(n: number): OutgoingEvent {
  return { kind: 'pageview', endpoint: '/log', headers: { 'User-Agent': 'test' }, body: { pid: 'AAAAAAAAAAAA', pg: `/p${n}` } }
}
/** Items of LINE bytes each; `pattern[i]` true = event, false = skipped line. */
function makeItems(pattern: boolean[], from = 0): DeliveryItem[] {
  return pattern.map((isEvent, i) => ({
    start: from + i * LINE,
    end: from + (i + 1) * LINE,
    line: i + 1,
    ...(isEvent ? { event: event(i) } : {}),
  }))
}
// eslint-disable-next-line @typescript-eslint/require-await -- the items are ready at once; deliver() takes an AsyncIterable
async function* feed(items: DeliveryItem[]): AsyncGenerator<DeliveryItem> {
  for (const item of items) yield item
}
/** Index of the item an event was made for. */
const itemOf = (ev: OutgoingEvent): number => Number(String(ev.body.pg).slice(2))

const accepted: SendOutcome = { kind: 'accepted', status: 201, attempts: 1 }

/** A sink whose sends stay pending until the test settles them. */
class ControlledSink implements EventSink {
  calls: { ev: OutgoingEvent; signal: AbortSignal | undefined; control: SendControl | undefined; d: Deferred<SendOutcome> }[] = []
  onSend: ((ev: OutgoingEvent) => void) | undefined
  send(ev: OutgoingEvent, signal?: AbortSignal, control?: SendControl): Promise<SendOutcome> {
    this.onSend?.(ev)
    const d = deferred<SendOutcome>()
    this.calls.push({ ev, signal, control, d })
    return d.promise
  }
  call(item: number) {
    const c = this.calls.find((x) => itemOf(x.ev) === item)
    if (!c) throw new Error(`item ${item} was not sent`)
    return c
  }
  async close() {}
}

/** Records every persisted Progress (after the write completed). */
function recorder() {
  const persisted: Progress[] = []
  return {
    persisted,
    persist: (p: Progress) => {
      persisted.push(structuredClone(p))
      return Promise.resolve()
    },
    maxDispatched: () => persisted.reduce((m, p) => Math.max(m, p.dispatched), -1),
    last: () => persisted[persisted.length - 1]!,
  }
}

/** Lets pending promise callbacks and I/O run until `cond` holds (no timers involved). */
async function until(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function baseOptions(sink: EventSink, rec: ReturnType<typeof recorder>, extra: Partial<DeliveryOptions> = {}): DeliveryOptions {
  return {
    concurrency: 4,
    sink,
    persist: rec.persist,
    onDeadLetter: async () => {},
    initial: { acked: 0, ackedLine: 0 },
    flushIntervalMs: 60_000,
    ...extra,
  }
}

afterEach(() => {
  vi.useRealTimers()
})

// ---- tests ----

describe('deliver: watermark and reservations', () => {
  it('advances acked only over a done prefix when sends complete out of order', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true, true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec, { flushIntervalMs: 1000 }))
    await until(() => sink.calls.length === 4, 'all four sends')

    sink.call(2).d.resolve(accepted)
    sink.call(1).d.resolve(accepted)
    await until(() => true)
    await vi.advanceTimersByTimeAsync(1000)
    await until(() => rec.persisted.some((p) => p.doneAhead.length === 2), 'flush after out-of-order completions')
    const p1 = rec.last()
    expect(p1.acked).toBe(0) // item 0 still in flight
    expect(p1.doneAhead.sort((a, b) => a - b)).toEqual([items[1]!.start, items[2]!.start])
    expect(p1.dispatched).toBe(items[3]!.end)

    sink.call(0).d.resolve(accepted)
    await until(() => true)
    await vi.advanceTimersByTimeAsync(1000)
    await until(() => rec.last().acked === items[2]!.end, 'flush after the head completed')
    expect(rec.last().doneAhead).toEqual([])
    expect(rec.last().ackedLine).toBe(3)

    sink.call(3).d.resolve({ kind: 'bot', status: 201, attempts: 1 })
    const result = await run
    expect(result.progress).toEqual({ acked: 40, ackedLine: 4, dispatched: 40, doneAhead: [] })
    expect(result.stats).toMatchObject({ sent: 4, accepted: 3, botIgnored: 1, deadLettered: 0, uncertain: 0 })
    expect(result.stopped).toBe(false)
  })

  it('persists a dispatched covering an event before sending it', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true, false, true, true, false, true, true, true, true, true])
    const violations: string[] = []
    sink.onSend = (ev) => {
      const item = items[itemOf(ev)]!
      if (rec.maxDispatched() < item.end) violations.push(`item ${itemOf(ev)} sent before dispatched >= ${item.end}`)
      queueMicrotask(() => sink.call(itemOf(ev)).d.resolve(accepted))
    }
    const result = await deliver(feed(items), baseOptions(sink, rec, { concurrency: 3 }))
    expect(violations).toEqual([])
    expect(sink.calls.length).toBe(8)
    expect(result.progress).toEqual({ acked: 100, ackedLine: 10, dispatched: 100, doneAhead: [] })
    // Reservations are made in blocks, not one durable write per event.
    expect(rec.persisted.length).toBeLessThan(8)
  })

  it('keeps at most `concurrency` undone events in [acked, dispatched) and stops reading while the API is slow', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    let pulled = 0
    // eslint-disable-next-line @typescript-eslint/require-await -- the items are ready at once; deliver() takes an AsyncIterable
    async function* endless(): AsyncGenerator<DeliveryItem> {
      for (let i = 0; ; i++) {
        pulled++
        // two skipped lines between events
        yield { start: i * LINE, end: (i + 1) * LINE, line: i + 1, ...(i % 3 === 0 ? { event: event(i) } : {}) }
      }
    }
    const ac = new AbortController()
    const run = deliver(endless(), baseOptions(sink, rec, { concurrency: 5, signal: ac.signal, graceMs: 10 }))
    await until(() => sink.calls.length === 5, 'a full window')
    await until(() => true)
    const pulledWhenFull = pulled
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r))
    expect(pulled).toBe(pulledWhenFull) // reading waits
    // It reads ahead up to twice the concurrency in events (held, not sent, outside the reservation).
    expect(pulled).toBeLessThanOrEqual(2 * 5 * 3 + 1)
    expect(pulled).toBeGreaterThan(5 * 3 + 1)
    expect(sink.calls.length).toBe(5)
    for (const p of rec.persisted) {
      const undone = []
      for (let s = p.acked; s < p.dispatched; s += LINE) if ((s / LINE) % 3 === 0 && !p.doneAhead.includes(s)) undone.push(s)
      expect(undone.length).toBeLessThanOrEqual(5)
    }
    // completing one event lets exactly one more event be read, and the oldest held one is sent
    // although more than half the window is still in flight
    sink.calls[0]!.d.resolve(accepted)
    await until(() => pulled > pulledWhenFull, 'reading to resume')
    await until(() => sink.calls.length === 6, 'the held event to be sent')
    expect(pulled).toBe(pulledWhenFull + 3)
    for (const p of rec.persisted) {
      const undone = []
      for (let s = p.acked; s < p.dispatched; s += LINE) if ((s / LINE) % 3 === 0 && !p.doneAhead.includes(s)) undone.push(s)
      expect(undone.length).toBeLessThanOrEqual(5)
    }
    ac.abort()
    for (const c of sink.calls) c.d.resolve(accepted)
    const result = await run
    expect(result.stopped).toBe(true)
  })

  it('dead-letters permanent rejections and moves acked past them', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const dead: { item: DeliveryItem; status: number }[] = []
    const items = makeItems([true, true, false, true])
    sink.onSend = (ev) =>
      queueMicrotask(() =>
        sink.call(itemOf(ev)).d.resolve(itemOf(ev) === 1 ? { kind: 'dead', status: 400, body: '{"message":"qs must be shorter"}', attempts: 1 } : accepted),
      )
    const result = await deliver(
      feed(items),
      baseOptions(sink, rec, {
        onDeadLetter: (item, outcome) => {
          dead.push({ item, status: outcome.status })
          return Promise.resolve()
        },
      }),
    )
    expect(dead).toEqual([{ item: items[1], status: 400 }])
    expect(result.progress.acked).toBe(40)
    expect(result.stats).toMatchObject({ sent: 3, accepted: 2, deadLettered: 1 })
  })

  it('persists only acked progress at the end for skipped-only input and never calls the sink', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([false, false, false], 500)
    const result = await deliver(feed(items), baseOptions(sink, rec, { initial: { acked: 500, ackedLine: 0 } }))
    expect(sink.calls).toEqual([])
    expect(rec.last()).toEqual({ acked: 530, ackedLine: 3, dispatched: 530, doneAhead: [] })
    expect(result.progress).toEqual(rec.last())
  })

  it('persists acked progress every flush interval while a tailing source is idle', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const sink = new ControlledSink()
    sink.onSend = (ev) => queueMicrotask(() => sink.call(itemOf(ev)).d.resolve(accepted))
    const rec = recorder()
    const progress: number[] = []
    const more = deferred<void>()
    const items = makeItems([true, false, false, true])
    async function* tail(): AsyncGenerator<DeliveryItem> {
      yield* items.slice(0, 3)
      await more.promise // no new lines for a while
      yield items[3]!
    }
    const run = deliver(tail(), baseOptions(sink, rec, { flushIntervalMs: 1000, onProgress: (p) => progress.push(p.acked) }))
    await until(() => sink.calls.length === 1)
    await until(() => true)
    const before = rec.persisted.length
    await vi.advanceTimersByTimeAsync(1000)
    await until(() => rec.persisted.length > before, 'a flush')
    expect(rec.last()).toEqual({ acked: 30, ackedLine: 3, dispatched: 30, doneAhead: [] })
    // nothing changed: no further writes
    await vi.advanceTimersByTimeAsync(3000)
    expect(rec.persisted.length).toBe(before + 1)
    more.resolve()
    const result = await run
    expect(result.progress.acked).toBe(40)
    expect(progress).toEqual(rec.persisted.map((p) => p.acked))
  })

  it('persists a consistent progress and rethrows on DeliveryError', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    // concurrency 4: items 0-3 are reserved as one block; 4-5 once half the window is free.
    const items = makeItems([true, true, true, true, true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec))
    const failed = expect(run).rejects.toBeInstanceOf(DeliveryError)
    await until(() => sink.calls.length === 4, 'four sends')
    sink.call(0).d.resolve(accepted)
    sink.call(2).d.resolve(accepted)
    await until(() => sink.calls.length === 6, 'the next block')
    sink.call(1).d.reject(new DeliveryError('down', 'http://x/log', 7, 503))
    await until(() => true)
    sink.call(3).d.resolve(accepted)
    sink.call(5).d.resolve(accepted)
    await until(() => true)
    // the final persist waits for every in-flight send to settle
    expect(rec.persisted.every((p) => p.dispatched <= items[5]!.end && p.acked <= items[0]!.end)).toBe(true)
    const before = rec.persisted.length
    sink.call(4).d.reject(new DeliveryError('down', 'http://x/log', 7, 503))
    await failed
    expect(rec.persisted.length).toBe(before + 1)
    const last = rec.last()
    expect(last.acked).toBe(items[0]!.end)
    expect(last.doneAhead.sort((a, b) => a - b)).toEqual([items[2]!.start, items[3]!.start, items[5]!.start])
    // Items 1 and 4 failed for good: outside the uncertain range, so the next run sends them again.
    expect(last.dispatched).toBe(last.acked)
    expect(sink.calls.length).toBe(6) // item 6 was never sent
  })

  it('does not count an event the API refused outright as uncertain', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true, true])
    sink.onSend = (ev) =>
      queueMicrotask(() =>
        sink
          .call(itemOf(ev))
          .d.reject(new FatalApiError('Swetrix API http://x/log refused project AAAAAAAAAAAA: HTTP 404', 404, 'AAAAAAAAAAAA', 'http://x/log', false)),
      )
    await expect(deliver(feed(items), baseOptions(sink, rec, { concurrency: 1 }))).rejects.toBeInstanceOf(FatalApiError)
    expect(rec.last()).toEqual({ acked: 0, ackedLine: 0, dispatched: 0, doneAhead: [], stoppedCleanly: true })
  })

  it('never sends a block whose reservation could not be persisted', async () => {
    const sink = new ControlledSink()
    const err = new Error('disk full')
    const result = deliver(feed(makeItems([true, true])), {
      ...baseOptions(sink, recorder()),
      persist: () => Promise.reject(err),
    })
    await expect(result).rejects.toBe(err)
    expect(sink.calls).toEqual([])
  })

  it('rethrows a read error after persisting the progress made so far', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    sink.onSend = (ev) => queueMicrotask(() => sink.call(itemOf(ev)).d.resolve(accepted))
    const items = makeItems([true, false])
    async function* broken(): AsyncGenerator<DeliveryItem> {
      yield* items
      await until(() => sink.calls.length === 1)
      await until(() => true)
      throw new Error('EIO')
    }
    await expect(deliver(broken(), baseOptions(sink, rec))).rejects.toThrow('EIO')
    expect(rec.last()).toMatchObject({ acked: 20, dispatched: 20, doneAhead: [] })
  })
})

describe('deliver: graceful stop', () => {
  it('lets in-flight sends finish within the grace period and leaves nothing uncertain', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const ac = new AbortController()
    const items = makeItems([true, true, true, true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec, { concurrency: 2, signal: ac.signal, graceMs: 60_000 }))
    await until(() => sink.calls.length === 2)
    ac.abort()
    sink.calls[1]!.d.resolve(accepted)
    sink.calls[0]!.d.resolve(accepted)
    const result = await run
    expect(result.stopped).toBe(true)
    expect(result.progress).toEqual({ acked: 20, ackedLine: 2, dispatched: 20, doneAhead: [], stoppedCleanly: true })
    expect(sink.calls.length).toBe(2)
    expect(result.stats.uncertain).toBe(0)
  })

  it('aborts sends still running after the grace period and reports them uncertain', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const sink = new ControlledSink()
    const rec = recorder()
    const ac = new AbortController()
    const items = makeItems([true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec, { concurrency: 3, signal: ac.signal, graceMs: 5000 }))
    await until(() => sink.calls.length === 3)
    for (const c of sink.calls) c.signal!.addEventListener('abort', () => c.d.reject(c.signal!.reason))
    sink.call(1).d.resolve(accepted)
    ac.abort()
    sink.call(0).d.resolve(accepted)
    await until(() => true)
    expect(sink.call(2).signal!.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(5000)
    const result = await run
    expect(sink.call(2).signal!.aborted).toBe(true)
    expect(result.stopped).toBe(true)
    expect(result.progress).toEqual({ acked: 20, ackedLine: 2, dispatched: 30, doneAhead: [], stoppedCleanly: true })
    expect(result.stats).toMatchObject({ accepted: 2, uncertain: 1 })
  })

  it('stops before reading when the signal is already aborted', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    let pulled = 0
    // eslint-disable-next-line @typescript-eslint/require-await -- the items are ready at once; deliver() takes an AsyncIterable
    async function* counting(): AsyncGenerator<DeliveryItem> {
      for (const item of makeItems([true])) {
        pulled++
        yield item
      }
    }
    const result = await deliver(counting(), baseOptions(sink, rec, { signal: AbortSignal.abort(), initial: { acked: 70, ackedLine: 7 } }))
    expect(pulled).toBe(0)
    expect(result).toMatchObject({ stopped: true, progress: { acked: 70, ackedLine: 7, dispatched: 70, doneAhead: [] } })
  })
})

describe('deliver: durable writes side by side', () => {
  it('a reservation does not wait out a slow durable write, and whichever record lands first sends what it covers', async () => {
    const sink = new ControlledSink()
    const writes: { p: Progress; d: Deferred<void>; settled?: true }[] = []
    const persist = (p: Progress): Promise<void> => {
      const d = deferred<void>()
      writes.push({ p: structuredClone(p), d })
      return d.promise
    }
    const land = (i: number): void => {
      writes[i]!.settled = true
      writes[i]!.d.resolve()
    }
    const items = makeItems(Array<boolean>(8).fill(true))
    let finished = false
    const run = deliver(feed(items), { ...baseOptions(sink, recorder()), persist, persistConcurrency: 2 }).finally(() => {
      finished = true
    })
    await until(() => writes.length === 1, 'the first reservation')
    land(0)
    await until(() => sink.calls.length === 4, 'the first block sent')
    sink.call(0).d.resolve(accepted)
    await until(() => writes.length === 2, "a reservation for the freed slot's next event")
    expect(writes[1]!.p.dispatched).toBe(items[4]!.end)
    // That write is slow; another slot frees meanwhile and its event gets a write of its own.
    sink.call(1).d.resolve(accepted)
    await until(() => writes.length === 3, 'a second write beside the slow one')
    expect(writes[2]!.p.dispatched).toBe(items[5]!.end)
    expect(sink.calls.length).toBe(4) // nothing sent before a record covering it is durable
    land(2) // the later record lands first: it covers items 4 and 5
    await until(() => sink.calls.length === 6, 'both reserved events sent')
    land(1)
    // The rest: answer every send and land every write until the run ends.
    while (!finished) {
      for (const c of sink.calls) c.d.resolve(accepted)
      for (let i = 0; i < writes.length; i++) if (!writes[i]!.settled) land(i)
      await new Promise((r) => setImmediate(r))
    }
    const result = await run
    expect(result.progress).toEqual({ acked: 80, ackedLine: 8, dispatched: 80, doneAhead: [] })
    expect(sink.calls.map((c) => itemOf(c.ev))).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
  })
})

describe('deliver: invariants under random completion orders (property)', () => {
  it('holds watermark, persist-before-send, doneAhead and the uncertain bound at every persist, with one or two persists at once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.constantFrom<'accepted' | 'bot' | 'dead'>('accepted', 'accepted', 'bot', 'dead'), { minLength: 40, maxLength: 40 }),
        fc.constantFrom(1, 2),
        fc.scheduler(),
        async (pattern, concurrency, outcomes, persistConcurrency, s) => {
          const items = makeItems(pattern)
          const done = new Set<number>() // starts of done items (events whose outcome was delivered to the engine)
          for (const it of items) if (!it.event) done.add(it.start)
          const sent: number[] = []
          const durable: Progress[] = []
          const problems: string[] = []
          let previous: Progress | undefined
          let persisting = 0
          const check = (p: Progress): void => {
            // 0. each record at least as new as the one before (a later one may become durable first)
            if (previous && (p.acked < previous.acked || p.dispatched < previous.dispatched)) problems.push(`progress went back: ${JSON.stringify(p)}`)
            previous = p
            if (++persisting > persistConcurrency) problems.push(`${persisting} persists at once`)
            // 1. every item below acked is done; acked is an item boundary
            for (const it of items) if (it.end <= p.acked && !done.has(it.start)) problems.push(`acked ${p.acked} past undone ${it.start}`)
            // 3. doneAhead lists only done events within [acked, dispatched)
            for (const st of p.doneAhead) {
              if (st < p.acked || st >= p.dispatched || !done.has(st)) problems.push(`bad doneAhead ${st} in ${JSON.stringify(p)}`)
            }
            // uncertain bound
            const uncertain = items.filter((it) => it.event && it.start >= p.acked && it.end <= p.dispatched && !p.doneAhead.includes(it.start)).length
            if (uncertain > concurrency) problems.push(`uncertain ${uncertain} > ${concurrency}`)
          }
          const sink: EventSink = {
            send: (ev) => {
              const i = itemOf(ev)
              const item = items[i]!
              // 2. persist-before-send
              if (!durable.some((p) => p.dispatched >= item.end)) problems.push(`item ${i} sent before its reservation`)
              if (sent.includes(i)) problems.push(`item ${i} sent twice`)
              sent.push(i)
              const kind = outcomes[i]!
              const outcome: SendOutcome = kind === 'dead' ? { kind, status: 400, body: 'x', attempts: 1 } : { kind, status: 201, attempts: 1 }
              return s.schedule(Promise.resolve(outcome), `send ${i}`).then((o) => {
                done.add(item.start)
                return o
              })
            },
            close: async () => {},
          }
          const run = deliver(feed(items), {
            concurrency,
            sink,
            persist: (p) => {
              const copy = structuredClone(p)
              check(copy)
              return s.schedule(Promise.resolve(), 'persist').then(() => {
                persisting--
                durable.push(copy)
              })
            },
            persistConcurrency,
            onDeadLetter: () => s.schedule(Promise.resolve(), 'dead-letter'),
            initial: { acked: 0, ackedLine: 0 },
            flushIntervalMs: 3_600_000,
          })
          const result = await s.waitFor(run)
          expect(problems).toEqual([])
          const end = items.length * LINE
          expect(result.progress).toEqual({ acked: end, ackedLine: items.length, dispatched: end, doneAhead: [] })
          expect(sent.sort((a, b) => a - b)).toEqual(items.flatMap((it, i) => (it.event ? [i] : [])))
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('deliver: only sends that may have reached the server stay uncertain', () => {
  it('a clean stop while every send waits out a refused connection leaves nothing uncertain', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const ac = new AbortController()
    const items = makeItems([true, true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec, { concurrency: 4, signal: ac.signal, graceMs: 60_000 }))
    await until(() => sink.calls.length === 4)
    // As the HTTP sink does: a stop ends the backoff wait; nothing was ever written.
    for (const c of sink.calls) c.control!.stopRetrying!.addEventListener('abort', () => c.d.reject(new SendStoppedError(false)))
    ac.abort()
    const result = await run
    expect(result.stopped).toBe(true)
    expect(result.stats.uncertain).toBe(0)
    expect(result.progress).toEqual({ acked: 0, ackedLine: 0, dispatched: 0, doneAhead: [], stoppedCleanly: true })
  })

  it('keeps only the unanswered send uncertain and lists the refused ones inside the range as unsent', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const ac = new AbortController()
    const items = makeItems([true, true, true, true])
    const run = deliver(feed(items), baseOptions(sink, rec, { concurrency: 4, signal: ac.signal, graceMs: 60_000 }))
    await until(() => sink.calls.length === 4)
    sink.call(1).d.resolve(accepted)
    for (const i of [0, 2]) sink.call(i).control!.stopRetrying!.addEventListener('abort', () => sink.call(i).d.reject(new SendStoppedError(false)))
    sink.call(3).control!.stopRetrying!.addEventListener('abort', () => sink.call(3).d.reject(new SendStoppedError(true, 1)))
    ac.abort()
    const result = await run
    expect(result.stats.uncertain).toBe(1)
    expect(result.stats.unansweredRetries).toBe(1)
    expect(result.progress).toEqual({
      acked: 0,
      ackedLine: 0,
      dispatched: items[3]!.end,
      doneAhead: [items[1]!.start],
      stoppedCleanly: true,
      unsent: [items[0]!.start, items[2]!.start],
    })
  })

  it('a certificate error stops the run with nothing uncertain', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true, true, true])
    sink.onSend = (ev) =>
      queueMicrotask(() =>
        sink.call(itemOf(ev)).d.reject(new CertificateError('TLS certificate of https://x/log is self-signed', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'https://x/log')),
      )
    await expect(deliver(feed(items), baseOptions(sink, rec, { concurrency: 3 }))).rejects.toBeInstanceOf(CertificateError)
    expect(rec.last()).toMatchObject({ acked: 0, dispatched: 0, doneAhead: [] })
  })

  it('an error that does not say whether it reached the server counts as uncertain', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true])
    sink.onSend = () => queueMicrotask(() => sink.calls[0]!.d.reject(new Error('sink bug')))
    await expect(deliver(feed(items), baseOptions(sink, rec, { concurrency: 1 }))).rejects.toThrow('sink bug')
    expect(rec.last()).toMatchObject({ acked: 0, dispatched: items[0]!.end })
  })

  it('counts retries after unanswered attempts and reports each event once', async () => {
    const sink = new ControlledSink()
    const rec = recorder()
    const items = makeItems([true, true])
    const reported: [number, number][] = []
    sink.onSend = (ev) =>
      queueMicrotask(() => sink.call(itemOf(ev)).d.resolve(itemOf(ev) === 1 ? { ...accepted, attempts: 3, unansweredRetries: 2 } : accepted))
    const result = await deliver(feed(items), baseOptions(sink, rec, { onUnansweredRetry: (it, n) => reported.push([it.start, n]) }))
    expect(result.stats.unansweredRetries).toBe(2)
    expect(result.stats.retries).toBe(2)
    expect(reported).toEqual([[items[1]!.start, 2]])
  })
})
