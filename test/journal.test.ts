// The progress journal: CheckpointStore.saveProgress records progress durably with one positional
// write + fdatasync; a reopened store applies the newest journal record over state.json unless
// state.json already includes it; a write torn by a crash costs at most the record being written.
import { spawn } from 'node:child_process'
import * as nodeFs from 'node:fs/promises'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { memfs } from 'memfs'
import ts from 'typescript'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { FsPromises } from '../src/checkpoint/atomic.js'
import {
  decodeSlot,
  encodeRecord,
  HEADER_SIZE,
  JOURNAL_FILE,
  JOURNAL_SIZE,
  MAX_PAYLOAD,
  ProgressJournal,
  readSlots,
  SLOT_SIZE,
  SLOTS,
  SYNC_WRITE_BLOCK,
  SYNC_WRITE_LIMIT_MS,
} from '../src/checkpoint/journal.js'
import { CheckpointStore, LEASE_FILE, StateError } from '../src/checkpoint/store.js'
import type { FileCheckpoint } from '../src/checkpoint/store.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function cp(id: string, over: Partial<FileCheckpoint> = {}): FileCheckpoint {
  return {
    id,
    path: `/var/log/nginx/${id}.log`,
    dev: 2049,
    ino: 1234,
    gzip: false,
    size: 4096,
    acked: 1000,
    dispatched: 1500,
    doneAhead: [1200],
    ackedTailHash: 'ab'.repeat(16),
    ackedLine: 12,
    updatedAt: '2025-01-01T00:00:00.000Z',
    ...over,
  }
}

function memFs() {
  const { fs, vol } = memfs()
  const p = fs.promises as unknown as FsPromises
  return {
    fs: p,
    vol,
    journal: () => vol.readFileSync(`/s/${JOURNAL_FILE}`) as Buffer,
    setJournal: (b: Uint8Array) => vol.writeFileSync(`/s/${JOURNAL_FILE}`, b),
    state: () => JSON.parse(vol.readFileSync('/s/state.json', 'utf8') as string) as { journalSeq?: number; files: Record<string, FileCheckpoint> },
  }
}

type Write = (b: Buffer, offset: number, length: number, position: number) => Promise<unknown>

/** An fs whose opened file handles take the methods `patch` returns (given the real handle's write
 *  and datasync, and the open flags). */
function patchHandles(fs: FsPromises, patch: (write: Write, datasync: () => Promise<void>, flags: unknown) => Record<string, unknown>): FsPromises {
  return {
    ...fs,
    open: (async (...args: Parameters<FsPromises['open']>) => {
      const fh = await fs.open(...args)
      return Object.assign(Object.create(fh) as typeof fh, patch(fh.write.bind(fh) as Write, fh.datasync.bind(fh), args[1]))
    }) as FsPromises['open'],
  }
}

/** Counts atomic saves (renames) and journal writes made through the fs. */
function counting(fs: FsPromises) {
  const n = { renames: 0, writes: 0 }
  const patched = patchHandles(fs, (write, _datasync, flags) => ({
    write: (b: Buffer, o: number, l: number, p: number) => {
      if (flags === 'r+') n.writes++
      return write(b, o, l, p)
    },
  }))
  const wrapped: FsPromises = {
    ...patched,
    rename: async (a, b) => {
      n.renames++
      return fs.rename(a, b)
    },
  }
  return { fs: wrapped, n }
}

describe('record encoding', () => {
  it('decodes what it encodes, and any single flipped byte makes the record torn, never a different record', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 300, unit: 'grapheme' }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.nat(),
        (payload, seq, at) => {
          const slot = Buffer.alloc(SLOT_SIZE)
          const n = encodeRecord(slot, seq, payload)
          expect(decodeSlot(slot)).toEqual({ kind: 'record', seq, payload })
          const i = at % n
          slot[i] = slot[i]! ^ 0x01
          const after = decodeSlot(slot)
          expect(after.kind === 'torn' || (i >= 24 && i < HEADER_SIZE)).toBe(true) // only the padding after the CRC is unchecked
        },
      ),
    )
  })

  it('refuses a payload larger than a slot and accepts one that exactly fits', () => {
    const slot = Buffer.alloc(SLOT_SIZE)
    expect(encodeRecord(slot, 1, 'x'.repeat(MAX_PAYLOAD + 1))).toBe(-1)
    expect(encodeRecord(slot, 1, 'é'.repeat(MAX_PAYLOAD / 2 + 1))).toBe(-1) // 2 bytes each in UTF-8
    expect(encodeRecord(slot, 7, 'x'.repeat(MAX_PAYLOAD))).toBe(SLOT_SIZE)
    expect(decodeSlot(slot)).toMatchObject({ kind: 'record', seq: 7 })
  })

  it('tells a never-written slot from a damaged one', () => {
    expect(decodeSlot(new Uint8Array(SLOT_SIZE))).toEqual({ kind: 'empty' })
    const slot = new Uint8Array(SLOT_SIZE)
    slot[SLOT_SIZE - 1] = 1
    expect(decodeSlot(slot)).toEqual({ kind: 'torn' })
    const both = Buffer.alloc(JOURNAL_SIZE)
    encodeRecord(both.subarray(SLOT_SIZE), 3, '{}')
    expect(readSlots(both).newest).toEqual({ slot: 1, seq: 3, payload: '{}' })
  })
})

describe('CheckpointStore.saveProgress (in memory fs)', () => {
  it('is durable on its own: a new store sees the progress without any save()', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    const a = cp('a', { acked: 10, dispatched: 90, doneAhead: [40, 60] })
    await store.saveProgress(a)
    expect(store.get('a')).toEqual(a)
    expect(Object.keys(m.vol.toJSON()).sort()).toEqual([`/s/${JOURNAL_FILE}`]) // no state.json written
    expect(m.journal().length).toBe(JOURNAL_SIZE)
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')).toEqual(a)
  })

  it('writes progress to the journal, not state.json: one journal write and no rename per call', async () => {
    const m = memFs()
    const c = counting(m.fs)
    const store = await CheckpointStore.open('/s', { fs: c.fs })
    await store.saveProgress(cp('a', { dispatched: 1 })) // creates the journal (one rename)
    const before = { ...c.n }
    for (let i = 2; i <= 20; i++) await store.saveProgress(cp('a', { dispatched: 1000 + i }))
    expect(c.n).toEqual({ renames: before.renames, writes: before.writes + 19 })
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(1020)
  })

  it('a journal record newer than state.json wins', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    store.set(cp('a', { acked: 100, dispatched: 100 }))
    store.set(cp('b'))
    await store.save()
    await store.saveProgress(cp('a', { acked: 100, dispatched: 300 }))
    const again = await CheckpointStore.open('/s', { fs: m.fs })
    expect(again.get('a')?.dispatched).toBe(300)
    expect(again.get('b')).toEqual(cp('b'))
  })

  it('a save() after saveProgress supersedes the journal: its record is not applied over newer state', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    await store.saveProgress(cp('a', { acked: 100, dispatched: 300 }))
    store.set(cp('a', { acked: 50, dispatched: 50, doneAhead: [] })) // deliberately "behind" the journal
    await store.save()
    expect(m.state().journalSeq).toBe(1)
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')).toEqual(cp('a', { acked: 50, dispatched: 50, doneAhead: [] }))
  })

  it('a save() of newer state made while a saveProgress is still writing is not undone by it', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    const progress = store.saveProgress(cp('a', { dispatched: 2000 }))
    store.set(cp('a', { dispatched: 2000, complete: true }))
    await Promise.all([progress, store.save()])
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.complete).toBe(true)
  })

  it('a save() started before a saveProgress does not hide it', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    store.set(cp('a', { dispatched: 1000 }))
    const saving = store.save()
    const progress = store.saveProgress(cp('a', { dispatched: 2000 }))
    await Promise.all([saving, progress])
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(2000)
  })

  it("sequence numbers continue across runs, so a new run's records beat the old ones", async () => {
    const m = memFs()
    let dispatched = 1000
    for (let run = 0; run < 4; run++) {
      const store = await CheckpointStore.open('/s', { fs: m.fs })
      expect(store.get('a')?.dispatched ?? 1000).toBe(dispatched)
      for (let i = 0; i < run + 1; i++) await store.saveProgress(cp('a', { dispatched: ++dispatched }))
      if (run === 2) await store.save()
      await store.close()
    }
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(dispatched)
  })

  it('progress of several files shares the journal: one record holds them all, no full save', async () => {
    const m = memFs()
    const c = counting(m.fs)
    const store = await CheckpointStore.open('/s', { fs: c.fs })
    await store.saveProgress(cp('a', { dispatched: 1111 }))
    const renames = c.n.renames
    await store.saveProgress(cp('b', { dispatched: 2222 }))
    await store.saveProgress(cp('b', { dispatched: 2223 }))
    await store.saveProgress(cp('b', { dispatched: 2224 }))
    expect(c.n.renames).toBe(renames)
    const again = await CheckpointStore.open('/s', { fs: m.fs })
    expect([again.get('a')?.dispatched, again.get('b')?.dispatched]).toEqual([1111, 2224])
  })

  it('group commit: calls for several files made while two writes run share the next write', async () => {
    const m = memFs()
    const c = counting(m.fs)
    const store = await CheckpointStore.open('/s', { fs: c.fs })
    await store.saveProgress(cp('x', { acked: 0, dispatched: 1 })) // creates the journal
    const writes = c.n.writes
    await Promise.all(
      ['a', 'b', 'c', 'd'].flatMap((id, i) => [
        store.saveProgress(cp(id, { acked: 0, dispatched: 100 + i })),
        store.saveProgress(cp(id, { acked: 0, dispatched: 200 + i })),
      ]),
    )
    // The first two calls start a write each; the six made meanwhile share a third.
    expect(c.n.writes - writes).toBe(3)
    const again = await CheckpointStore.open('/s', { fs: m.fs })
    expect(['a', 'b', 'c', 'd', 'x'].map((id) => again.get(id)?.dispatched)).toEqual([200, 201, 202, 203, 1])
  })

  it('after a save(), only files with newer progress go into the next journal record', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    await store.saveProgress(cp('a', { dispatched: 1111 }))
    await store.save()
    await store.saveProgress(cp('b', { dispatched: 2222 }))
    const { newest } = readSlots(m.journal())
    expect(JSON.parse(newest!.payload).id).toBe('b')
  })

  it('a journal record applied on open is folded before another file uses the journal', async () => {
    const m = memFs()
    const first = await CheckpointStore.open('/s', { fs: m.fs })
    await first.saveProgress(cp('a', { dispatched: 1111 }))
    const second = await CheckpointStore.open('/s', { fs: m.fs })
    await second.saveProgress(cp('b', { dispatched: 2222 }))
    await second.saveProgress(cp('b', { dispatched: 2223 }))
    const third = await CheckpointStore.open('/s', { fs: m.fs })
    expect([third.get('a')?.dispatched, third.get('b')?.dispatched]).toEqual([1111, 2223])
  })

  it('a checkpoint too large for a slot is saved to state.json instead', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    const big = cp('a', { acked: 0, dispatched: 10_000_000, doneAhead: Array.from({ length: 10_000 }, (_, i) => 1000 * i) })
    await store.saveProgress(big)
    expect(m.state().files.a).toEqual(big)
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')).toEqual(big)
  })

  it('runs at most two journal writes at once (a reservation does not queue behind one); the last call wins', async () => {
    const m = memFs()
    let active = 0
    let most = 0
    const fs = patchHandles(m.fs, (write, datasync) => ({
      write: (b: Buffer, o: number, l: number, p: number) => {
        most = Math.max(most, ++active)
        return write(b, o, l, p)
      },
      datasync: async () => {
        await new Promise((r) => setImmediate(r))
        active--
        return datasync()
      },
    }))
    const store = await CheckpointStore.open('/s', { fs })
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.saveProgress(cp('a', { dispatched: 2000 + i }))))
    expect(most).toBe(2)
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(2049)
  })

  it('after a failed (partial) write the same slot is written next, so the last good record survives', async () => {
    const m = memFs()
    let failNext = 0
    const fs = patchHandles(m.fs, (write) => ({
      write: async (b: Buffer, o: number, l: number, p: number) => {
        if (failNext > 0) {
          failNext--
          await write(Buffer.alloc(l, 0xee), 0, Math.floor(l / 2), p) // half a record of junk
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
        }
        return write(b, o, l, p)
      },
    }))
    const store = await CheckpointStore.open('/s', { fs })
    await store.saveProgress(cp('a', { dispatched: 2001 }))
    await store.saveProgress(cp('a', { dispatched: 2002 }))
    failNext = 2
    await expect(store.saveProgress(cp('a', { dispatched: 2003 }))).rejects.toThrow('EIO')
    await expect(store.saveProgress(cp('a', { dispatched: 2004 }))).rejects.toThrow('EIO')
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(2002)
    await store.saveProgress(cp('a', { dispatched: 2005 }))
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(2005)
  })

  it('a torn newest record falls back to the other slot', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    await store.saveProgress(cp('a', { dispatched: 2001 })) // seq 1, slot 0
    await store.saveProgress(cp('a', { dispatched: 2002 })) // seq 2, slot 1
    const j = m.journal()
    const newest = readSlots(j).newest!
    const at = newest.slot * SLOT_SIZE + HEADER_SIZE + 5
    j[at] = j[at]! ^ 0x20 // one flipped payload byte
    m.setJournal(j)
    const again = await CheckpointStore.open('/s', { fs: m.fs })
    expect(again.get('a')?.dispatched).toBe(2001)
    // ... and the next record goes into the damaged slot, keeping the good one
    await again.saveProgress(cp('a', { dispatched: 2003 }))
    expect(readSlots(m.journal()).slots[1 - newest.slot]).toMatchObject({ kind: 'record', seq: 1 })
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(2003)
  })

  it('every slot damaged is an error naming the journal, never a silent fallback', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    for (let i = 1; i <= SLOTS; i++) await store.saveProgress(cp('a', { dispatched: 2000 + i }))
    const j = m.journal()
    for (let slot = 0; slot < SLOTS; slot++) j[slot * SLOT_SIZE + HEADER_SIZE + 3] = j[slot * SLOT_SIZE + HEADER_SIZE + 3]! ^ 1
    m.setJournal(j)
    const err = await CheckpointStore.open('/s', { fs: m.fs }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StateError)
    expect((err as Error).message).toContain(`/s/${JOURNAL_FILE}`)
    expect((err as Error).message).toContain('move it aside')
    expect(m.journal()).toEqual(j) // left as it was
  })

  it('a two-slot journal (written before three slots) loads, keeps one write at a time, and both slots damaged is an error', async () => {
    const m = memFs()
    m.vol.mkdirSync('/s')
    const j = Buffer.alloc(2 * SLOT_SIZE)
    encodeRecord(j, 1, JSON.stringify(cp('a', { dispatched: 5001 })))
    encodeRecord(j.subarray(SLOT_SIZE), 2, JSON.stringify(cp('a', { dispatched: 5002 })))
    m.setJournal(j)
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    expect([store.get('a')?.dispatched, store.progressConcurrency]).toEqual([5002, 1])
    await Promise.all([5003, 5004, 5005].map((d) => store.saveProgress(cp('a', { dispatched: d }))))
    expect(m.journal().length).toBe(2 * SLOT_SIZE)
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(5005)
    const torn = m.journal()
    torn[HEADER_SIZE + 3] = torn[HEADER_SIZE + 3]! ^ 1
    torn[SLOT_SIZE + HEADER_SIZE + 3] = torn[SLOT_SIZE + HEADER_SIZE + 3]! ^ 1
    m.setJournal(torn)
    await expect(CheckpointStore.open('/s', { fs: m.fs })).rejects.toThrow(StateError)
  })

  it('concurrent appends cut by a crash at any point: the newest completed record survives, and no record from the future', async () => {
    // A model of the device: each started write lands whole, torn or not at all when the crash comes;
    // completed writes are on disk. Loading must find a record at least as new as the newest
    // completed one, and never one that was not started.
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.nat(3)), { minLength: 1, maxLength: 40 }),
        fc.array(fc.constantFrom('whole', 'torn', 'none')),
        async (steps, fates) => {
          const m = memFs()
          m.vol.mkdirSync('/s')
          const writes: { slot: number; bytes: Buffer; finish: () => void }[] = []
          const fs = patchHandles(m.fs, (write) => ({
            // Held until the model finishes it, in any order.
            write: (b: Buffer, o: number, l: number, p: number) =>
              new Promise((done) => writes.push({ slot: p / SLOT_SIZE, bytes: Buffer.from(b.subarray(o, o + l)), finish: () => done(write(b, o, l, p)) })),
            datasync: async () => {},
          }))
          const journal = new ProgressJournal(`/s/${JOURNAL_FILE}`, fs, [])
          let seq = 0
          let newestDone = 0
          const running = new Map<number, Promise<unknown>>()
          const tick = () => new Promise((r) => setImmediate(r))
          for (const [start, pick] of steps) {
            if (start && running.size < journal.maxConcurrent) {
              const n = ++seq
              running.set(
                n,
                journal.append(n, JSON.stringify(cp('a', { dispatched: n }))).then(() => {
                  newestDone = Math.max(newestDone, n)
                  running.delete(n)
                }),
              )
              await tick()
            } else if (writes.length > 0) {
              writes.splice(pick % writes.length, 1)[0]!.finish()
              await tick()
              await tick()
            }
          }
          // The crash: writes still held land whole, torn or not at all.
          const disk = m.vol.existsSync(`/s/${JOURNAL_FILE}`) ? m.journal() : Buffer.alloc(JOURNAL_SIZE)
          writes.forEach((w, i) => {
            const fate = fates[i % Math.max(1, fates.length)] ?? 'none'
            if (fate === 'whole') w.bytes.copy(disk, w.slot * SLOT_SIZE)
            if (fate === 'torn') w.bytes.subarray(0, w.bytes.length >> 1).copy(disk, w.slot * SLOT_SIZE)
          })
          const { slots, newest } = readSlots(disk)
          expect(slots.every((x) => x.kind === 'torn')).toBe(false)
          expect(newest?.seq ?? 0).toBeGreaterThanOrEqual(newestDone)
          expect(newest?.seq ?? 0).toBeLessThanOrEqual(seq)
        },
      ),
      { numRuns: 300 },
    )
  })

  it.each([
    ['a size other than two or three slots', () => new Uint8Array(SLOT_SIZE), 'bytes'],
    [
      'a newer format version',
      () => {
        const j = Buffer.alloc(JOURNAL_SIZE)
        encodeRecord(j, 1, JSON.stringify(cp('a')))
        j[4] = 9
        return j
      },
      'format version 9',
    ],
    [
      'a checksummed record that is not a checkpoint',
      () => {
        const j = Buffer.alloc(JOURNAL_SIZE)
        encodeRecord(j, 1, JSON.stringify({ ...cp('a'), acked: -5 }))
        return j
      },
      'bad "acked"',
    ],
    [
      'a bad entry in a record of several files',
      () => {
        const j = Buffer.alloc(JOURNAL_SIZE)
        encodeRecord(j, 4, JSON.stringify({ boot: 'b', files: [cp('a'), { ...cp('c'), ino: 'x' }] }))
        return j
      },
      'record 4, entry "c", has a bad "ino"',
    ],
  ])('refuses a journal with %s', async (_what, content, says) => {
    const m = memFs()
    m.vol.mkdirSync('/s')
    m.setJournal(content())
    const err = await CheckpointStore.open('/s', { fs: m.fs }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StateError)
    expect((err as Error).message).toContain(says)
  })

  it('an all-zero journal (created, never written) is ignored', async () => {
    const m = memFs()
    m.vol.fromJSON({ '/s/state.json': JSON.stringify({ version: 1, files: { a: cp('a') } }) })
    m.setJournal(new Uint8Array(JOURNAL_SIZE))
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    expect(store.all()).toEqual([cp('a')])
    await store.saveProgress(cp('a', { dispatched: 7777 }))
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(7777)
  })

  it('a state.json without journalSeq (written before the journal) loads, and the journal applies over it', async () => {
    const m = memFs()
    m.vol.fromJSON({ '/s/state.json': JSON.stringify({ version: 1, files: { a: cp('a'), b: cp('b') } }) })
    const j = Buffer.alloc(JOURNAL_SIZE)
    encodeRecord(j, 1, JSON.stringify(cp('a', { dispatched: 5000 })))
    m.setJournal(j)
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    expect([store.get('a')?.dispatched, store.get('b')]).toEqual([5000, cp('b')])
  })

  it('refuses a state.json with a bad journalSeq', async () => {
    const m = memFs()
    m.vol.fromJSON({ '/s/state.json': JSON.stringify({ version: 1, journalSeq: -1, files: {} }) })
    await expect(CheckpointStore.open('/s', { fs: m.fs })).rejects.toThrow(/state.json has a bad "journalSeq"/)
  })

  it('close() is harmless when the journal was never opened, and the store stays usable after it', async () => {
    const m = memFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs })
    await store.close()
    await store.saveProgress(cp('a', { dispatched: 3001 }))
    await store.close()
    await store.saveProgress(cp('a', { dispatched: 3002 }))
    await store.close()
    expect((await CheckpointStore.open('/s', { fs: m.fs })).get('a')?.dispatched).toBe(3002)
  })
})

describe('progress journal on a real directory', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('creates the journal 0600 at its full size, leaving no temp file', async () => {
    const store = await CheckpointStore.open(dir)
    await store.saveProgress(cp('a'))
    await store.save()
    await store.close()
    const st = await stat(join(dir, JOURNAL_FILE))
    expect(st.mode & 0o777).toBe(0o600)
    expect(st.size).toBe(JOURNAL_SIZE)
    // The lease journal too (this machine tells its boot id).
    expect((await stat(join(dir, LEASE_FILE))).mode & 0o777).toBe(0o600)
    expect((await readdir(dir)).sort()).toEqual([JOURNAL_FILE, LEASE_FILE, 'state.json'])
  })

  it('writes records on the calling thread while the disk is fast and the loop has time, through the thread pool otherwise', async () => {
    // The fake clock makes every write on the calling thread take `writeMs` (it is read before and
    // after each one), and the loop spend `otherMs` on other work and `idleMs` waiting per write.
    let t = 0
    let writeMs = 0.3
    let otherMs = 0.2
    let idleMs = 2
    const loop = { active: 0, idle: 0 }
    let timing = false
    const clock = {
      now: () => {
        if (timing) {
          t += writeMs
          loop.active += writeMs
        }
        timing = !timing
        return t
      },
      loop: () => ({ ...loop }),
    }
    const file = join(dir, JOURNAL_FILE)
    const journal = new ProgressJournal(file, nodeFs, [], clock)
    let seq = 0
    const append = async () => {
      loop.active += otherMs
      loop.idle += idleMs
      expect(await journal.append(++seq, JSON.stringify({ seq }))).toBe(true)
    }
    const block = async (n = SYNC_WRITE_BLOCK) => {
      for (let i = 0; i < n; i++) await append()
    }
    await append()
    expect(journal.writesOnCallingThread).toBe(true)
    // A block with slow writes among fast ones (a busy start, a file-system commit) keeps them here.
    for (let i = 1; i < SYNC_WRITE_BLOCK; i++) {
      writeMs = i % 16 === 0 ? 6 : 0.3
      await append()
    }
    writeMs = 0.3
    await append()
    expect(journal.writesOnCallingThread).toBe(true)
    // A loop busy with other work (loopback: the CPU bounds the rate) moves the writes off it once a
    // block shows it, though the disk is fast...
    otherMs = 2
    idleMs = 0.5
    await block(SYNC_WRITE_BLOCK - 1)
    expect(journal.writesOnCallingThread).toBe(true)
    await append()
    expect(journal.writesOnCallingThread).toBe(false)
    // ...and a loop that waits again (a distant API) brings them back.
    otherMs = 0.2
    idleMs = 2
    await block()
    expect(journal.writesOnCallingThread).toBe(true)
    // A block that averages over the limit (a disk that stays slow) moves them for good.
    writeMs = SYNC_WRITE_LIMIT_MS + 1
    await block()
    expect(journal.writesOnCallingThread).toBe(false)
    writeMs = 0.3
    await block(2 * SYNC_WRITE_BLOCK)
    expect(journal.writesOnCallingThread).toBe(false)
    await journal.close()
    // Both ways wrote valid records: the newest is the last one appended.
    expect(readSlots(await readFile(file)).newest).toMatchObject({ seq, payload: JSON.stringify({ seq }) })
  })

  it('prepareJournals() creates both journals before the first record; a journal that cannot be created fails that record', async () => {
    const store = await CheckpointStore.open(dir)
    store.prepareJournals()
    await store.close() // waits for the creation
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(JOURNAL_SIZE)
    expect((await stat(join(dir, LEASE_FILE))).size).toBe(JOURNAL_SIZE)
    const missing = new ProgressJournal(join(dir, 'gone', JOURNAL_FILE), nodeFs, [])
    missing.prepare()
    await expect(missing.append(1, '{}')).rejects.toThrow(/ENOENT/)
    await missing.close()
  })

  it('a lease journal writes every synced record through the thread pool (renewals never block the loop), and they are valid', async () => {
    let timed = 0
    const clock = { now: () => ++timed, loop: () => ({ active: 0, idle: 1 }) }
    const file = join(dir, 'progress.lease')
    const journal = new ProgressJournal(file, nodeFs, [], clock, true, true)
    for (let seq = 1; seq <= 8; seq++) expect(await journal.append(seq, JSON.stringify({ seq }))).toBe(true)
    expect(journal.writesOnCallingThread).toBe(false)
    expect(timed).toBe(0) // no write was timed on the calling thread
    await journal.close()
    expect(readSlots(await readFile(file)).newest).toMatchObject({ seq: 8, payload: JSON.stringify({ seq: 8 }) })
  })

  it('a process SIGKILLed while it saves progress leaves a state at or after its last completed save', { timeout: 60_000 }, async () => {
    // The child runs the current sources, transpiled next to it (dist/ may be stale), in the same
    // layout as src/ and with the repository's node_modules (zod) reachable.
    const lib = join(dir, 'lib')
    await mkdir(join(lib, 'checkpoint'), { recursive: true })
    await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'))
    const sources = [...(await readdir(join(repoRoot, 'src/checkpoint'))).map((f) => `checkpoint/${f}`), 'errors.ts']
    for (const name of sources.filter((f) => f.endsWith('.ts'))) {
      const src = await readFile(join(repoRoot, 'src', name), 'utf8')
      const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } })
      await writeFile(join(lib, name.replace(/\.ts$/, '.js')), out.outputText)
    }
    // Offsets are i * 7; every 64th step also saves state.json, so both paths are crossed.
    await writeFile(
      join(lib, 'child.mjs'),
      `
      import { CheckpointStore } from './checkpoint/store.js'
      const store = await CheckpointStore.open(process.argv[2])
      let i = (store.get('a')?.dispatched ?? 0) / 7
      process.stdout.write('start ' + i + '\\n')
      for (;;) {
        i++
        const cp = { id: 'a', path: '/var/log/a.log', dev: 1, ino: 2, gzip: false, size: i * 7, acked: i * 7 - (i % 5), dispatched: i * 7, doneAhead: [i], ackedLine: i, updatedAt: new Date().toISOString() }
        await store.saveProgress(cp)
        if (i % 64 === 0) await store.save()
        process.stdout.write(i + '\\n')
      }
    `,
    )
    const stateDir = join(dir, 'state')
    let seed = 0x5eed
    const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32
    let lastReported = 0
    let recovered = 0
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, [join(lib, 'child.mjs'), stateDir], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const target = 20 + Math.floor(random() * 300)
      let seen = 0
      let resumedAt = -1
      let buf = ''
      const exited = new Promise<void>((r) => child.on('close', () => r()))
      await new Promise<void>((resolveKill, reject) => {
        child.on('close', () => reject(new Error(`child exited early: ${stderr}`)))
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          buf += d
          const lines = buf.split('\n')
          buf = lines.pop()!
          for (const line of lines) {
            if (line.startsWith('start ')) {
              resumedAt = Number(line.slice(6))
              continue
            }
            lastReported = Number(line)
            if (++seen === target) {
              child.kill('SIGKILL')
              resolveKill()
            }
          }
        })
      })
      await exited
      expect(resumedAt).toBe(recovered) // the child resumed from the state the previous round left
      // Reported lines that arrived between the kill and the exit count too.
      for (const line of buf.split('\n')) if (/^\d+$/.test(line)) lastReported = Number(line)
      const store = await CheckpointStore.open(stateDir)
      const a = store.get('a')!
      expect(a.dispatched % 7).toBe(0)
      const i = a.dispatched / 7
      expect(i).toBeGreaterThanOrEqual(lastReported)
      expect(i).toBeLessThanOrEqual(lastReported + 1) // the one in flight at most
      expect(a).toMatchObject({ size: i * 7, acked: i * 7 - (i % 5), doneAhead: [i], ackedLine: i })
      recovered = i
    }
  })

  it.runIf(process.env.SWX_BENCH)('timing: saveProgress vs save() (SWX_BENCH=1)', { timeout: 120_000 }, async () => {
    const store = await CheckpointStore.open(dir)
    const iterations = 1000
    const time = async (fn: (i: number) => Promise<void>) => {
      const t: number[] = []
      for (let i = 0; i < iterations; i++) {
        const t0 = process.hrtime.bigint()
        await fn(i)
        t.push(Number(process.hrtime.bigint() - t0) / 1e6)
      }
      t.sort((x, y) => x - y)
      return { median: t[iterations >> 1]!, p95: t[Math.floor(iterations * 0.95)]! }
    }
    const doneAhead = Array.from({ length: 8 }, (_, k) => 100_000 + k * 180)
    const progress = await time((i) => store.saveProgress(cp('a', { acked: 100_000 + i, dispatched: 102_000 + i, doneAhead })))
    const full = await time((i) => {
      store.set(cp('a', { acked: 100_000 + i, dispatched: 102_000 + i, doneAhead }))
      return store.save()
    })
    await store.close()
    console.log(
      `saveProgress median ${progress.median.toFixed(3)} ms p95 ${progress.p95.toFixed(3)} ms; save() median ${full.median.toFixed(3)} ms p95 ${full.p95.toFixed(3)} ms`,
    )
    expect(progress.median).toBeLessThan(full.median)
  })
})
