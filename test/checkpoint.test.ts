import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memfs } from 'memfs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { writeFileAtomic } from '../src/checkpoint/atomic.js'
import type { FsPromises } from '../src/checkpoint/atomic.js'
import { CheckpointStore, StateError } from '../src/checkpoint/store.js'
import type { FileCheckpoint } from '../src/checkpoint/store.js'

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

function memFs(): { fs: FsPromises; vol: ReturnType<typeof memfs>['vol'] } {
  const { fs, vol } = memfs()
  return { fs: fs.promises as unknown as FsPromises, vol }
}

describe('CheckpointStore (in memory fs)', () => {
  it('starts empty in a new directory and round-trips every field', async () => {
    const { fs, vol } = memFs()
    const store = await CheckpointStore.open('/state/swx', { fs })
    expect(store.all()).toEqual([])
    const a = cp('a')
    const b = cp('b', { gzip: true, complete: true, doneAhead: [], ackedTailHash: undefined })
    store.set(a)
    store.set(b)
    await store.save()
    const again = await CheckpointStore.open('/state/swx', { fs })
    expect(again.get('a')).toEqual(a)
    expect(again.get('b')).toEqual(JSON.parse(JSON.stringify(b)))
    expect(
      again
        .all()
        .map((c) => c.id)
        .sort(),
    ).toEqual(['a', 'b'])
    expect(JSON.parse(vol.toJSON()['/state/swx/state.json'] as string).version).toBe(1)
  })

  it('stores a copy: changing the object after set does not change the state', async () => {
    const { fs } = memFs()
    const store = await CheckpointStore.open('/s', { fs })
    const a = cp('a')
    store.set(a)
    a.acked = 9999
    a.doneAhead.push(5)
    expect(store.get('a')).toMatchObject({ acked: 1000, doneAhead: [1200] })
  })

  it('deletes entries', async () => {
    const { fs } = memFs()
    const store = await CheckpointStore.open('/s', { fs })
    store.set(cp('a'))
    store.set(cp('b'))
    store.delete('a')
    await store.save()
    expect((await CheckpointStore.open('/s', { fs })).all().map((c) => c.id)).toEqual(['b'])
  })

  it.each([
    ['empty', ''],
    ['truncated', '{"version":1,"files":{"a":{"id":"a","pa'],
    ['not an object', '[1,2]'],
    ['unknown version', '{"version":2,"files":{}}'],
    ['no version', '{"files":{}}'],
    ['a bad entry', JSON.stringify({ version: 1, files: { a: { ...cp('a'), acked: -1 } } })],
    ['dispatched behind acked', JSON.stringify({ version: 1, files: { a: cp('a', { acked: 10, dispatched: 5 }) } })],
    ['an entry under a foreign key', JSON.stringify({ version: 1, files: { b: cp('a') } })],
  ])('refuses a state file that is %s, naming it and the way out', async (_what, content) => {
    const { fs, vol } = memFs()
    vol.fromJSON({ '/s/state.json': content })
    const err = await CheckpointStore.open('/s', { fs }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StateError)
    expect((err as Error).name).toBe('StateError') // the CLI maps errors by name
    expect((err as Error).message).toContain('/s/state.json')
    expect((err as Error).message).toContain('move it aside')
    expect(vol.toJSON()['/s/state.json']).toBe(content) // never reset behind the user's back
  })

  it.each([
    ['a negative offset', { a: { ...cp('a'), acked: -1 } }, 'entry "a" has a bad "acked" (expected a whole number >= 0)'],
    ['a missing field', { a: { ...cp('a'), path: undefined } }, 'entry "a" lacks "path"'],
    ['a field of the wrong type', { a: { ...cp('a'), gzip: 'no' } }, 'entry "a" has a bad "gzip" (expected true or false)'],
    ['a bad list', { a: { ...cp('a'), doneAhead: [1, 'x'] } }, 'entry "a" has a bad "doneAhead"'],
    ['a tail hash beyond the acknowledged offset', { a: cp('a', { tailHashAt: 1001 }) }, 'entry "a" has a bad "tailHashAt"'],
    ['a bad stop marker', { a: { ...cp('a'), unsent: 'all' } }, 'entry "a" has a bad "unsent"'],
  ])('names the entry and the field of a state file with %s', async (_what, files, says) => {
    const { fs, vol } = memFs()
    vol.fromJSON({ '/s/state.json': JSON.stringify({ version: 1, files }) })
    const err = await CheckpointStore.open('/s', { fs }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(StateError)
    expect((err as Error).message).toContain(`state file /s/state.json: ${says}`)
    expect((err as Error).message).toContain('move it aside (mv /s/state.json /s/state.json.bad)')
    expect((err as Error).message).not.toContain('\n')
  })

  it("a state.json edited by hand is checked against the schema although it still carries the store's checksum", async () => {
    const { fs, vol } = memFs()
    const store = await CheckpointStore.open('/s', { fs })
    store.set(cp('a'))
    await store.save()
    const written = JSON.parse(vol.toJSON()['/s/state.json'] as string)
    expect(written.checksum).toMatch(/^crc32:[0-9a-f]{8}$/)
    // A valid edit (the checksum no longer matches): validated, and taken.
    vol.writeFileSync('/s/state.json', JSON.stringify({ ...written, files: { a: { ...written.files.a, acked: 1100, dispatched: 1100 } } }))
    expect((await CheckpointStore.open('/s', { fs })).get('a')).toMatchObject({ acked: 1100, dispatched: 1100 })
    // A bad one: refused with the schema's message.
    vol.writeFileSync('/s/state.json', JSON.stringify({ ...written, files: { a: { ...written.files.a, dispatched: 10 } } }))
    await expect(CheckpointStore.open('/s', { fs })).rejects.toThrow('state file /s/state.json: entry "a" has dispatched < acked')
  })

  it('keeps fields it does not know (a newer build of the same version may have written them)', async () => {
    const { fs, vol } = memFs()
    vol.fromJSON({ '/s/state.json': JSON.stringify({ version: 1, files: { a: { ...cp('a'), future: { x: 1 } } } }) })
    const store = await CheckpointStore.open('/s', { fs })
    await store.save()
    expect(JSON.parse(vol.toJSON()['/s/state.json'] as string).files.a.future).toEqual({ x: 1 })
  })

  it('ignores a stray temp file from an interrupted save', async () => {
    const { fs, vol } = memFs()
    const good = JSON.stringify({ version: 1, files: { a: cp('a') } })
    vol.fromJSON({ '/s/state.json': good, '/s/state.json.0badc0ffee00.tmp': '{"version":1,"fil' })
    const store = await CheckpointStore.open('/s', { fs })
    expect(store.get('a')).toEqual(cp('a'))
  })

  it('coalesces saves requested while one runs into one more write holding the latest state', async () => {
    const { fs } = memFs()
    let renames = 0
    const counting: FsPromises = {
      ...fs,
      rename: async (a, b) => {
        renames++
        return fs.rename(a, b)
      },
    }
    const store = await CheckpointStore.open('/s', { fs: counting })
    store.set(cp('a', { acked: 1 }))
    const first = store.save()
    store.set(cp('a', { acked: 2 }))
    const later = [store.save(), store.save(), store.save()]
    store.set(cp('a', { acked: 3, dispatched: 3 }))
    await Promise.all([first, ...later])
    expect(renames).toBe(2)
    expect((await CheckpointStore.open('/s', { fs })).get('a')?.acked).toBe(3)
    await store.save() // idle again: a plain write
    expect(renames).toBe(3)
  })

  it('keeps the previous state and leaves no temp file when a write fails', async () => {
    const { fs, vol } = memFs()
    const store = await CheckpointStore.open('/s', { fs })
    store.set(cp('a', { acked: 1 }))
    await store.save()
    const failing: FsPromises = { ...fs, rename: () => Promise.reject(Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' })) }
    const broken = await CheckpointStore.open('/s', { fs: failing })
    broken.set(cp('a', { acked: 2 }))
    await expect(broken.save()).rejects.toThrow('ENOSPC')
    expect(Object.keys(vol.toJSON())).toEqual(['/s/state.json'])
    expect((await CheckpointStore.open('/s', { fs })).get('a')?.acked).toBe(1)
    // a failed save does not block the next one
    const queued = [broken.save().catch(() => 'failed'), broken.save().catch(() => 'failed')]
    expect(await Promise.all(queued)).toEqual(['failed', 'failed'])
  })
})

describe('CheckpointStore and writeFileAtomic on a real directory', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'swx-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('creates the state dir 0700 and state.json 0600, leaving no temp file', async () => {
    const stateDir = join(dir, 'nested', 'state')
    const store = await CheckpointStore.open(stateDir)
    store.set(cp('a'))
    await store.save()
    await store.save()
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700)
    expect((await stat(join(stateDir, 'state.json'))).mode & 0o777).toBe(0o600)
    expect(await readdir(stateDir)).toEqual(['state.json'])
  })

  it('after a crash between temp write and rename the old state is what loads', async () => {
    const store = await CheckpointStore.open(dir)
    store.set(cp('a', { acked: 100 }))
    await store.save()
    // What a crash leaves: a complete or partial temp file next to the intact old state.
    await writeFile(join(dir, 'state.json.1a2b3c4d5e6f.tmp'), JSON.stringify({ version: 1, files: { a: cp('a', { acked: 200 }) } }).slice(0, 40))
    const reopened = await CheckpointStore.open(dir)
    expect(reopened.get('a')?.acked).toBe(100)
    reopened.set(cp('a', { acked: 300 }))
    await reopened.save()
    expect(JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')).files.a.acked).toBe(300)
  })

  it('writeFileAtomic replaces content and mode of an existing file', async () => {
    const p = join(dir, 'f.json')
    await writeFile(p, 'old', { mode: 0o644 })
    await writeFileAtomic(p, 'new')
    expect(await readFile(p, 'utf8')).toBe('new')
    expect((await stat(p)).mode & 0o777).toBe(0o600)
    expect(await readdir(dir)).toEqual(['f.json'])
  })

  it('refuses an unreadable state file rather than starting over', async () => {
    await writeFile(join(dir, 'state.json'), '\0\0\0\0')
    await expect(CheckpointStore.open(dir)).rejects.toBeInstanceOf(StateError)
  })
})
