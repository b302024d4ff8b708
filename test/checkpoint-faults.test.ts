// The store when its directory refuses writes (src/checkpoint/store.ts, errors.ts): a full disk, a
// file system turned read-only, a permission taken away. Modelled on memfs; test/state-dir-faults.test.ts
// runs the CLI on real mounts.
import { memfs } from 'memfs'
import { describe, expect, it } from 'vitest'
import type { FsPromises } from '../src/checkpoint/atomic.js'
import { JOURNAL_FILE } from '../src/checkpoint/journal.js'
import { CheckpointStore, LEASE_FILE } from '../src/checkpoint/store.js'
import type { FileCheckpoint } from '../src/checkpoint/store.js'
import { asStateWriteError, StateWriteError } from '../src/errors.js'

const BOOT = '0b9a7c4e-1111-4222-8333-944455556666'
const NEXT_BOOT = '7d1e2f3a-aaaa-4bbb-8ccc-dddd0000eeee'

function cp(id: string, over: Partial<FileCheckpoint> = {}): FileCheckpoint {
  return {
    id,
    path: `/var/log/${id}.log`,
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

type Fault = null | 'ENOSPC' | 'EROFS' | 'EACCES' | 'EIO'

/** memfs whose writes fail with `fault.code` while it is set: every write to an open file (a
 *  copy-on-write file system is full even for overwrites), and with EROFS/EACCES also every open
 *  for writing and every rename; with `fault.only`, only for paths ending with it. Files stay as
 *  they were. */
function faultyFs() {
  const { fs, vol } = memfs()
  const p = fs.promises as unknown as FsPromises
  const fault: { code: Fault; only?: string } = { code: null }
  const fail = (syscall: string) => Object.assign(new Error(`${fault.code}: simulated, ${syscall}`), { code: fault.code!, syscall })
  const faulty: FsPromises = {
    ...p,
    open: (async (...args: Parameters<FsPromises['open']>) => {
      const flags = args[1]
      const hit = () => fault.code !== null && (fault.only === undefined || String(args[0]).endsWith(fault.only))
      if (hit() && fault.code !== 'ENOSPC' && flags !== 'r' && flags !== undefined) throw fail('open')
      const fh = await p.open(...args)
      const guarded = (name: 'write' | 'writeFile' | 'sync' | 'datasync') =>
        ((...a: unknown[]) => (hit() ? Promise.reject(fail(name)) : (fh[name] as (...x: unknown[]) => Promise<unknown>).apply(fh, a))) as never
      return Object.assign(Object.create(fh) as typeof fh, {
        write: guarded('write'),
        writeFile: guarded('writeFile'),
        sync: guarded('sync'),
        datasync: guarded('datasync'),
      })
    }) as FsPromises['open'],
    rename: async (a, b) => {
      if (fault.code !== null && fault.code !== 'ENOSPC' && fault.only === undefined) throw fail('rename')
      return p.rename(a, b)
    },
  }
  return { fs: faulty, plain: p, vol, fault }
}

async function errorOf(p: Promise<unknown>): Promise<StateWriteError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(StateWriteError)
  return err as StateWriteError
}

describe('a state directory that refuses writes (memfs)', () => {
  it('ENOSPC on a journal write: saveProgress rejects with the typed error, the durable state stays, and after space frees up a save loads exactly', async () => {
    const m = faultyFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs, bootId: null })
    await store.saveProgress(cp('a', { acked: 100, dispatched: 300 }))
    m.fault.code = 'ENOSPC'
    const err = await errorOf(store.saveProgress(cp('a', { acked: 100, dispatched: 500 })))
    expect(err).toMatchObject({ code: 'ENOSPC', dir: '/s', phase: 'run', transient: true })
    expect(err.message).toBe(
      'state directory /s: no space left on device (ENOSPC) while saving progress to progress.journal; nothing more is sent until progress can be recorded; free space and run again',
    )
    // What a restart would load is the last durable record, not the refused one.
    expect((await CheckpointStore.open('/s', { fs: m.plain, bootId: null })).get('a')).toMatchObject({ acked: 100, dispatched: 300 })
    // The engine's stopped snapshot fails the same way, and so does the save that follows it.
    const stopped = cp('a', { acked: 250, dispatched: 300, doneAhead: [260], stoppedCleanly: true, unsent: [280] })
    await errorOf(store.saveProgress(stopped))
    expect((await errorOf(store.save())).message).toContain('while saving state.json;')
    expect(Object.keys(m.vol.toJSON()).sort()).toEqual([`/s/${JOURNAL_FILE}`]) // no temp file left behind
    m.fault.code = null
    await store.save()
    expect((await CheckpointStore.open('/s', { fs: m.plain, bootId: null })).get('a')).toEqual(stopped)
  })

  it('a lease record that could not be written covers nothing: a reservation beyond the old lease keeps failing until one is written', async () => {
    const m = faultyFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs, bootId: BOOT })
    await store.saveProgress(cp('a', { acked: 0, dispatched: 100 }), 1000)
    // Only the lease journal fails (the progress journal's preallocated slots still take writes).
    Object.assign(m.fault, { code: 'EIO', only: LEASE_FILE })
    const err = await errorOf(store.saveProgress(cp('a', { acked: 0, dispatched: 1500 }), 3000))
    expect(err.message).toContain(`input/output error (EIO) while saving a lease to ${LEASE_FILE};`)
    await errorOf(store.saveProgress(cp('a', { acked: 0, dispatched: 1500 }), 3000))
    await store.saveProgress(cp('a', { acked: 50, dispatched: 900 }), 3000) // within the old lease: recorded
    // A power loss now: the durable lease (1000) bounds what may have left, and nothing beyond it did.
    expect((await CheckpointStore.open('/s', { fs: m.plain, bootId: NEXT_BOOT })).get('a')).toMatchObject({ acked: 50, dispatched: 1000 })
    m.fault.code = null
    await store.saveProgress(cp('a', { acked: 50, dispatched: 1500 }), 3000)
    expect((await CheckpointStore.open('/s', { fs: m.plain, bootId: NEXT_BOOT })).get('a')!.dispatched).toBeGreaterThanOrEqual(1500)
  })

  it('a failed save() keeps its progress pending: the next journal record still holds it', async () => {
    const m = faultyFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs, bootId: null })
    await store.saveProgress(cp('a', { acked: 700, dispatched: 700 }))
    m.fault.code = 'ENOSPC'
    await errorOf(store.save())
    m.fault.code = null
    // Two records for b: the journal's newest slots now hold only what they were given.
    await store.saveProgress(cp('b', { dispatched: 10 }))
    await store.saveProgress(cp('b', { dispatched: 20 }))
    await store.saveProgress(cp('b', { dispatched: 30 }))
    const again = await CheckpointStore.open('/s', { fs: m.plain, bootId: null })
    expect([again.get('a')?.acked, again.get('b')?.dispatched]).toEqual([700, 30])
  })

  it('a file system turned read-only during a run is transient (retry later); permission taken away is not', async () => {
    const m = faultyFs()
    const store = await CheckpointStore.open('/s', { fs: m.fs, bootId: null })
    await store.saveProgress(cp('a', { dispatched: 1 }))
    m.fault.code = 'EROFS'
    const ro = await errorOf(store.save())
    expect(ro).toMatchObject({ code: 'EROFS', phase: 'run', transient: true })
    expect(ro.message).toContain(
      'read-only file system (EROFS) while saving state.json; nothing more is sent until progress can be recorded; it was remounted read-only',
    )
    m.fault.code = 'EACCES'
    expect(await errorOf(store.saveProgress(cp('a', { dispatched: 2 })))).toMatchObject({ code: 'EACCES', transient: false })
  })

  it('a state directory that cannot be created is refused at open, naming it', async () => {
    const { fs, vol } = memfs()
    vol.fromJSON({ '/var/lib': null })
    const p = fs.promises as unknown as FsPromises
    const denied: FsPromises = {
      ...p,
      mkdir: (() => Promise.reject(Object.assign(new Error('EACCES: permission denied, mkdir'), { code: 'EACCES' }))) as FsPromises['mkdir'],
    }
    const err = await errorOf(CheckpointStore.open('/var/lib/swx', { fs: denied }))
    expect(err).toMatchObject({ phase: 'start', transient: false })
    expect(err.message).toBe(
      'state directory /var/lib/swx: permission denied (EACCES) while creating it; nothing was sent; make it writable by the user swetrix-ingest runs as, or choose another --state-dir',
    )
  })
})

describe('StateWriteError', () => {
  it.each([
    ['ENOSPC', 'start', true],
    ['ENOSPC', 'run', true],
    ['EDQUOT', 'start', true],
    ['EIO', 'start', true],
    ['EROFS', 'start', false],
    ['EROFS', 'run', true],
    ['EACCES', 'start', false],
    ['EACCES', 'run', false],
    ['EPERM', 'run', false],
    ['ENOTDIR', 'start', false],
  ] as const)('%s at %s: transient %s', (code, phase, transient) => {
    const err = asStateWriteError(Object.assign(new Error(code), { code }), '/d', phase, 'saving state.json')
    expect(err).toBeInstanceOf(StateWriteError)
    expect((err as StateWriteError).transient).toBe(transient)
    expect((err as Error).message).toMatch(new RegExp(`^state directory /d: .*\\(${code}\\) while saving state.json; `))
    expect((err as Error).message).not.toContain('\n')
  })

  it('leaves errors that are not file-system errors as they are', () => {
    const bug = new Error('progress journal: too many concurrent appends')
    expect(asStateWriteError(bug, '/d', 'run', 'x')).toBe(bug)
  })
})
