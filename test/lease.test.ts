// Leases (src/checkpoint/store.ts): progress records go to the page cache only, and a synced lease
// record bounds what a power loss can hide. A power loss is modelled on memfs: the lease journal
// keeps every completed write (synced), the progress journal any older content, or none.
import { memfs } from 'memfs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { FsPromises } from '../src/checkpoint/atomic.js'
import { JOURNAL_FILE, JOURNAL_SIZE } from '../src/checkpoint/journal.js'
import { CheckpointStore, LEASE_FILE } from '../src/checkpoint/store.js'
import type { FileCheckpoint } from '../src/checkpoint/store.js'

const BOOT = '0b9a7c4e-1111-4222-8333-944455556666'
const NEXT_BOOT = '7d1e2f3a-aaaa-4bbb-8ccc-dddd0000eeee'

function cp(over: Partial<FileCheckpoint> = {}): FileCheckpoint {
  return {
    id: 'a',
    path: '/var/log/a.log',
    dev: 1,
    ino: 2,
    gzip: false,
    size: 0,
    acked: 0,
    dispatched: 0,
    doneAhead: [],
    ackedLine: 0,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  }
}

function setup() {
  const { fs, vol } = memfs()
  const p = fs.promises as unknown as FsPromises
  const counts = { leaseWrites: 0, leaseSyncs: 0 }
  const counting: FsPromises = {
    ...p,
    open: (async (...args: Parameters<FsPromises['open']>) => {
      const fh = await p.open(...args)
      if (String(args[0]).endsWith(LEASE_FILE) && args[1] === 'r+') {
        return Object.assign(Object.create(fh) as typeof fh, {
          write: (...a: unknown[]) => {
            counts.leaseWrites++
            return (fh.write as (...x: unknown[]) => Promise<unknown>)(...a)
          },
          datasync: () => {
            counts.leaseSyncs++
            return fh.datasync()
          },
        })
      }
      return fh
    }) as FsPromises['open'],
  }
  const read = (name: string): Buffer | null => (vol.existsSync(`/s/${name}`) ? (vol.readFileSync(`/s/${name}`) as Buffer) : null)
  const put = (name: string, b: Buffer | null) =>
    b === null ? vol.existsSync(`/s/${name}`) && vol.unlinkSync(`/s/${name}`) : vol.writeFileSync(`/s/${name}`, b)
  return { fs: counting, counts, read, put, open: (bootId: string | null) => CheckpointStore.open('/s', { fs: counting, bootId }) }
}

describe('leases', () => {
  it('one synced lease write covers many reservations: a reservation inside the lease costs no synced write', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    for (let i = 1; i <= 200; i++) await store.saveProgress(cp({ acked: i * 100 - 300, dispatched: i * 100 }), i * 100 + 10_000)
    await store.close()
    // 200 reservations of 100 bytes under leases of ~10,000 bytes renewed at half: ~4 lease writes.
    expect(s.counts.leaseSyncs).toBeGreaterThan(0)
    expect(s.counts.leaseSyncs).toBeLessThanOrEqual(6)
    expect(s.counts.leaseSyncs).toBe(s.counts.leaseWrites)
  })

  it('a lease is renewed only when reading went beyond it: reservations creeping up to the end of one read batch cost one synced write', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    // One batch read up to byte 64,000 (the furthest a lease may reach), reserved 100 bytes at a time.
    for (let i = 1; i <= 640; i++) await store.saveProgress(cp({ acked: Math.max(0, i * 100 - 6400), dispatched: i * 100 }), 64_000)
    expect(s.counts.leaseWrites).toBe(1)
    // The next batch is read: the lease is renewed once, in the background, before it runs out.
    for (let i = 641; i <= 1280; i++) await store.saveProgress(cp({ acked: i * 100 - 6400, dispatched: i * 100 }), 128_000)
    await store.close()
    expect(s.counts.leaseWrites).toBe(2)
    expect(s.counts.leaseSyncs).toBe(s.counts.leaseWrites)
  })

  it('the same boot (the process was killed): the newest record is exact, the lease is not applied', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    await store.saveProgress(cp({ acked: 100, dispatched: 300, doneAhead: [200] }), 5000)
    await store.saveProgress(cp({ acked: 300, dispatched: 400 }), 5000)
    const again = await s.open(BOOT)
    expect(again.get('a')).toMatchObject({ acked: 300, dispatched: 400 })
    expect(again.get('a')?.leased).toBeUndefined()
  })

  it('another boot (power loss, kernel crash): dispatched rises to the lease, as after a crash', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    await store.saveProgress(cp({ acked: 100, dispatched: 300 }), 5000)
    await store.saveProgress(cp({ acked: 200, dispatched: 400, stoppedCleanly: undefined }), 5000)
    const after = await s.open(NEXT_BOOT)
    expect(after.get('a')).toMatchObject({ acked: 200, dispatched: 5000 })
  })

  it('a clean stop and a save leave no lease behind: after another boot nothing is raised', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    await store.saveProgress(cp({ acked: 100, dispatched: 300 }), 5000)
    await store.saveProgress(cp({ acked: 250, dispatched: 300, stoppedCleanly: true, unsent: [260] }))
    await store.save()
    await store.close()
    const after = await s.open(NEXT_BOOT)
    expect(after.get('a')).toMatchObject({ acked: 250, dispatched: 300, stoppedCleanly: true, unsent: [260] })
  })

  it('a save() made while a lease is in force records it: a later record lost to a power loss is covered', async () => {
    const s = setup()
    const store = await s.open(BOOT)
    await store.saveProgress(cp({ acked: 100, dispatched: 300 }), 5000)
    await store.save()
    const journalAtSave = s.read(JOURNAL_FILE)
    await store.saveProgress(cp({ acked: 100, dispatched: 900 }), 5000) // inside the lease: no synced write
    s.put(JOURNAL_FILE, journalAtSave) // the page cache never reached the disk
    const after = await s.open(NEXT_BOOT)
    expect(after.get('a')!.dispatched).toBeGreaterThanOrEqual(900)
  })

  it('power loss at any point: no resolved reservation is ever below the loaded dispatched (no duplicates)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            step: fc.integer({ min: 1, max: 400 }),
            ahead: fc.integer({ min: 0, max: 3000 }),
            save: fc.boolean(),
            ack: fc.integer({ min: 0, max: 100 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        fc.nat(),
        fc.constantFrom('older', 'none', 'torn'),
        async (steps, cut, journalLoss) => {
          const s = setup()
          const store = await s.open(BOOT)
          const cutAt = cut % steps.length
          let dispatched = 0
          let acked = 0
          let resolved = 0
          let journalBefore: Buffer | null = null
          for (let i = 0; i < steps.length; i++) {
            const st = steps[i]!
            if (i === cutAt) journalBefore = s.read(JOURNAL_FILE)
            // A reservation, then acknowledgements of what was reserved before (all of it, at times).
            const reservedBefore = dispatched
            dispatched += st.step
            await store.saveProgress(cp({ acked, dispatched }), dispatched + st.ahead)
            resolved = dispatched
            acked = st.ack > 90 ? dispatched : Math.min(reservedBefore, acked + st.ack)
            await store.saveProgress(cp({ acked, dispatched }), dispatched + st.ahead)
            if (st.save) await store.save()
          }
          // Power loss: the progress journal holds what it held at the cut (or nothing, or torn slots).
          if (journalLoss === 'older') s.put(JOURNAL_FILE, journalBefore)
          else if (journalLoss === 'none') s.put(JOURNAL_FILE, null)
          else s.put(JOURNAL_FILE, Buffer.alloc(JOURNAL_SIZE, 0xa5))
          const after = await s.open(NEXT_BOOT)
          const got = after.get('a')
          // Everything possibly sent is at or below dispatched (reported uncertain, never resent).
          expect(got?.dispatched ?? 0).toBeGreaterThanOrEqual(resolved)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('without a boot id every record is synced and no lease file is written', async () => {
    const s = setup()
    const store = await s.open(null)
    await store.saveProgress(cp({ acked: 100, dispatched: 300 }), 5000)
    await store.close()
    expect(s.read(LEASE_FILE)).toBeNull()
    expect((await s.open(NEXT_BOOT)).get('a')).toMatchObject({ dispatched: 300 })
  })
})
