// The delivery window and group commit alone, without the engine: the guarantees a progress record
// carries (the watermark never passes an undone event, at most `concurrency` undone events covered by
// `dispatched`, nothing handed out to send before its reservation is durable, a stopped record that
// keeps only unknown events uncertain) under random operation sequences.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GroupCommit } from '../src/delivery/group-commit.js'
import type { DeliveryItem, Progress } from '../src/delivery/types.js'
import { DeliveryWindow } from '../src/delivery/window.js'

const LINE = 10
const item = (i: number, isEvent: boolean): DeliveryItem => ({
  start: i * LINE,
  end: (i + 1) * LINE,
  line: i + 1,
  ...(isEvent ? { event: { kind: 'pageview', endpoint: '/log', headers: {}, body: { pg: `/${i}` } } } : {}),
})

type Op =
  | { op: 'read'; event: boolean }
  | { op: 'reserve'; cap: number }
  | { op: 'land' }
  | { op: 'send' }
  | { op: 'finish'; pick: number; how: 'done' | 'unknown' | 'refused' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('read' as const), event: fc.boolean() }),
  fc.record({ op: fc.constant('reserve' as const), cap: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('land' as const) }),
  fc.record({ op: fc.constant('send' as const) }),
  fc.record({
    op: fc.constant('finish' as const),
    pick: fc.nat(),
    how: fc.constantFrom('done' as const, 'done' as const, 'unknown' as const, 'refused' as const),
  }),
)

describe('DeliveryWindow (pure)', () => {
  it('every record keeps the watermark behind undone events and at most `concurrency` undone events reserved; only durable reservations are sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(opArb, { maxLength: 200 }), (concurrency, ops) => {
        const w = new DeliveryWindow(concurrency, { acked: 0, ackedLine: 0 })
        const items: DeliveryItem[] = []
        const state = new Map<number, 'held' | 'reserved' | 'inflight' | 'done' | 'unknown' | 'refused'>() // by seq, events only
        const pendingLand: number[] = [] // reservation ends not yet durable, oldest first
        const durableEnds: number[] = []
        const inflight: number[] = []
        const check = (p: Progress): void => {
          // acked is an item boundary and every event before it is done
          for (const [seq, s] of state) if (items[seq]!.end <= p.acked) expect(s).toBe('done')
          const undoneCovered = [...state].filter(([seq, s]) => s !== 'done' && items[seq]!.start >= p.acked && items[seq]!.end <= p.dispatched).length
          expect(undoneCovered).toBeLessThanOrEqual(concurrency)
          for (const st of p.doneAhead) expect(state.get(st / LINE)).toBe('done')
        }
        for (const o of ops) {
          if (o.op === 'read') {
            if (!w.hasRoom()) continue
            const it = item(items.length, o.event)
            if (o.event) state.set(items.length, 'held')
            items.push(it)
            w.add(it)
          } else if (o.op === 'reserve') {
            const cap = Math.min(o.cap, w.reservable())
            if (w.held === 0 || cap <= 0) continue
            const heldBefore = [...state].filter(([, s]) => s === 'held').map(([seq]) => seq)
            const end = w.reserve(cap)
            // the oldest held events, at most cap of them
            for (const seq of heldBefore.slice(0, cap)) state.set(seq, 'reserved')
            expect(heldBefore.length - w.held).toBe(Math.min(cap, heldBefore.length))
            pendingLand.push(end)
            check(w.snapshot())
          } else if (o.op === 'land') {
            // records may land out of order: land the newest one (it holds the older ones' reservations)
            const end = pendingLand.pop()
            if (end === undefined) continue
            w.markSendable(end)
            durableEnds.push(end)
          } else if (o.op === 'send') {
            const seq = w.takeSendable()
            if (seq < 0) continue
            expect(state.get(seq)).toBe('reserved')
            expect(durableEnds.some((e) => seq < e)).toBe(true)
            state.set(seq, 'inflight')
            inflight.push(seq)
          } else {
            if (inflight.length === 0) continue
            const [seq] = inflight.splice(o.pick % inflight.length, 1)
            if (o.how === 'done') {
              state.set(seq!, 'done')
              w.markDone(seq!)
            } else {
              state.set(seq!, o.how)
              w.markFailed(seq!, o.how === 'unknown')
            }
          }
          expect(w.inflight).toBe(inflight.length)
        }
        check(w.snapshot())
        // A stop (sends settled as refused): only unknown events stay uncertain, the others are unsent.
        for (const seq of inflight) {
          state.set(seq, 'refused')
          w.markFailed(seq, false)
        }
        const { progress, uncertain } = w.stoppedSnapshot()
        const unknown = [...state].filter(([, s]) => s === 'unknown').map(([seq]) => seq)
        expect(uncertain).toBe(unknown.length)
        for (const seq of unknown) expect(items[seq]!.end).toBeLessThanOrEqual(progress.dispatched)
        expect(progress.dispatched).toBe(Math.max(progress.acked, ...unknown.map((s) => items[s]!.end)))
        for (const [seq, s] of state) {
          const inRange = items[seq]!.start >= progress.acked && items[seq]!.end <= progress.dispatched
          const listed = progress.unsent?.includes(items[seq]!.start) ?? false
          expect(listed, `seq ${seq} ${s}`).toBe(inRange && (s === 'held' || s === 'reserved' || s === 'refused'))
        }
      }),
      { numRuns: 1000 },
    )
  })

  it('moves the watermark over skipped lines at once and over done events only as a contiguous prefix', () => {
    const w = new DeliveryWindow(4, { acked: 100, ackedLine: 10 })
    const at = (i: number, ev: boolean): DeliveryItem => ({
      start: 100 + i * LINE,
      end: 100 + (i + 1) * LINE,
      line: 11 + i,
      ...(ev ? { event: item(i, true).event } : {}),
    })
    w.add(at(0, false))
    expect([w.acked, w.ackedLine]).toEqual([110, 11])
    w.add(at(1, true))
    w.add(at(2, true))
    w.add(at(3, false))
    expect(w.reserve(4)).toBe(3) // seq after the last reserved event
    w.markSendable(3)
    const a = w.takeSendable()
    const b = w.takeSendable()
    expect(w.takeSendable()).toBe(-1)
    expect(w.markDone(b)).toBe(false)
    expect(w.snapshot()).toEqual({ acked: 110, ackedLine: 11, dispatched: 130, doneAhead: [120] })
    expect(w.markDone(a)).toBe(true)
    expect(w.snapshot()).toEqual({ acked: 140, ackedLine: 14, dispatched: 140, doneAhead: [] })
    expect(w.empty).toBe(true)
  })

  it('stops reading at twice `concurrency` undone events', () => {
    const w = new DeliveryWindow(3, { acked: 0, ackedLine: 0 })
    let n = 0
    while (w.hasRoom()) w.add(item(n++, true))
    expect(n).toBe(6)
  })
})

describe('GroupCommit', () => {
  it('runs one durable write at a time, a second only once the first is slow, and reports progress only forward', async () => {
    const writes: { p: Progress; land(): void }[] = []
    const reported: number[] = []
    let changed = 0
    let onChange: (() => void) | undefined
    const commit = new GroupCommit(
      (p) =>
        new Promise<void>((land) => {
          writes.push({ p, land })
        }),
      2,
      {
        reported: (p) => reported.push(p.acked),
        failed: (err) => {
          throw err
        },
        changed: () => {
          changed++
          onChange?.()
        },
      },
    )
    const rec = (acked: number): Progress => ({ acked, ackedLine: 0, dispatched: acked, doneAhead: [] })
    const landed: number[] = []
    expect(commit.canStart()).toBe(true)
    commit.start(rec(1), () => landed.push(1))
    expect(commit.canStart()).toBe(false)
    // the running write turns slow after SECOND_PERSIST_AFTER_MS
    await new Promise<void>((r) => (onChange = r))
    expect(commit.canStart()).toBe(true)
    commit.start(rec(2), () => landed.push(2))
    expect(commit.canStart()).toBe(false)
    const before = changed
    writes[1]!.land() // the later record lands first
    await new Promise<void>((r) => (onChange = r))
    expect(changed).toBe(before + 1)
    writes[0]!.land()
    await new Promise<void>((r) => (onChange = r))
    expect(landed).toEqual([2, 1])
    expect(reported).toEqual([2]) // record 1 landed after 2: not reported backwards
    expect(commit.idle).toBe(true)
    commit.close()
  })

  it('a failed write reaches the failed hook and its landed callback never runs', async () => {
    let failed: unknown
    const commit = new GroupCommit(() => Promise.reject(new Error('disk full')), 1, {
      reported: () => {},
      failed: (err) => (failed = err),
      changed: () => {},
    })
    let landed = false
    commit.start({ acked: 0, ackedLine: 0, dispatched: 10, doneAhead: [] }, () => (landed = true))
    for (let i = 0; i < 10 && failed === undefined; i++) await new Promise((r) => setImmediate(r))
    expect((failed as Error).message).toBe('disk full')
    expect(landed).toBe(false)
    expect(commit.idle).toBe(true)
    commit.close()
  })

  it('reserveLater asks for one turn however often it is called', async () => {
    let changed = 0
    const commit = new GroupCommit(() => Promise.resolve(), 1, { reported: () => {}, failed: () => {}, changed: () => changed++ })
    expect(commit.takeTurn()).toBe(false)
    commit.reserveLater()
    commit.reserveLater()
    await new Promise((r) => setImmediate(r))
    expect(changed).toBe(1)
    expect(commit.takeTurn()).toBe(true)
    expect(commit.takeTurn()).toBe(false)
    commit.close()
  })
})
