// Several followed files share one budget of undone events (DeliveryBudget), so the promise "at
// most --concurrency events are uncertain after a crash" holds per process: at every moment, the
// events a crash would report uncertain — in all files' latest durable records together — are at
// most the budget. Random send latencies; engines' records are checked after every persist.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DeliveryBudget, deliver, type DeliveryItem, type Progress } from '../src/delivery/engine.js'
import type { EventSink, SendOutcome } from '../src/sink/http.js'
import type { OutgoingEvent } from '../src/types.js'

const ev = (n: number): OutgoingEvent => ({ kind: 'pageview', endpoint: '/log', body: { pg: `/${n}` }, headers: {} })

function items(n: number): DeliveryItem[] {
  return Array.from({ length: n }, (_, i) => ({ start: i * 10, end: i * 10 + 10, line: i + 1, event: i % 5 === 4 ? undefined : ev(i) }))
}

async function* feed(list: DeliveryItem[]): AsyncGenerator<DeliveryItem> {
  for (const it of list) {
    if (it.line % 7 === 0) await new Promise((r) => setImmediate(r)) // a tailing reader yields now and then
    yield it
  }
}

/** Events a crash right now would report uncertain, from one file's latest durable record. */
function uncertainIn(list: DeliveryItem[], p: Progress | undefined): number {
  if (!p) return 0
  const done = new Set(p.doneAhead)
  return list.filter((it) => it.event && it.start >= p.acked && it.start < p.dispatched && !done.has(it.start)).length
}

describe('shared delivery budget (follow: several files, one bound)', () => {
  it('in-flight sends and crash-uncertain events across files never exceed the budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 20, maxLength: 60 }),
        async (limit, files, delays) => {
          const budget = new DeliveryBudget(limit)
          let inflight = 0
          let maxInflight = 0
          let k = 0
          const sink: EventSink = {
            async send(): Promise<SendOutcome> {
              inflight++
              maxInflight = Math.max(maxInflight, inflight)
              const d = delays[k++ % delays.length]!
              for (let i = 0; i < d; i++) await new Promise((r) => setImmediate(r))
              inflight--
              return { kind: 'accepted', status: 201, attempts: 1 }
            },
            async close() {},
          }
          const lists = Array.from({ length: files }, (_, f) => items(40 + f * 7))
          const latest: (Progress | undefined)[] = new Array(files)
          let worst = 0
          await Promise.all(
            lists.map((list, f) =>
              deliver(feed(list), {
                concurrency: limit,
                budget,
                sink,
                initial: { acked: 0, ackedLine: 0 },
                onDeadLetter: async () => {},
                persist: (p) => {
                  latest[f] = p
                  worst = Math.max(
                    worst,
                    lists.reduce((sum, l, g) => sum + uncertainIn(l, latest[g]), 0),
                  )
                  return Promise.resolve()
                },
              }),
            ),
          )
          expect(maxInflight).toBeLessThanOrEqual(limit)
          expect(worst).toBeLessThanOrEqual(limit)
          expect(budget.inUse).toBe(0)
        },
      ),
      { numRuns: 60 },
    )
  })
})
