// The progress journal `<state-dir>/progress.journal`: a preallocated file of fixed-size slots (three;
// two in files from earlier builds), each holding one record (the JSON of the checkpoints). A hot
// progress update is one positional write into the slot holding the oldest record: with O_DSYNC, or
// to the page cache alone for a journal opened unsynced (the store's leases cover a power loss).
// Up to SLOTS - 1 writes run at once (a durable write costs 0.3-2 ms on the disks measured, and a
// send waits for its reservation's write, so a second write must not queue behind the first); the
// slot not being written always holds the newest record whose write completed (on a fast disk the
// write is made on the calling thread, see SYNC_WRITE_LIMIT_MS, so one ends before the next starts).
// A write torn by a crash damages only a slot being written, so loading takes the valid record with
// the highest sequence number, and only a journal with no valid and no empty slot is damaged.
//
// Slot layout (little-endian):
//   0  u32  magic 'SWXJ'
//   4  u8   format version (JOURNAL_VERSION)
//   5  3    zero
//   8  f64  sequence number (safe integer >= 1; increases across records and runs)
//  16  u32  payload length in bytes (1..MAX_PAYLOAD)
//  20  u32  CRC-32 of bytes 4..20 followed by the payload
//  24  8    zero
//  32  ...  payload (UTF-8 JSON)
import { constants, writeSync } from 'node:fs'
import * as nodeFs from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { writeFileAtomic } from './atomic.js'
import type { FsPromises } from './atomic.js'

export const JOURNAL_FILE = 'progress.journal'
export const JOURNAL_VERSION = 1
export const SLOT_SIZE = 64 * 1024
/** Slots in a journal this version creates. */
export const SLOTS = 3
export const JOURNAL_SIZE = SLOTS * SLOT_SIZE
/** Sizes of journals this version reads: three slots, or two (from earlier builds). */
export const JOURNAL_SIZES: readonly number[] = [JOURNAL_SIZE, 2 * SLOT_SIZE]
export const HEADER_SIZE = 32
export const MAX_PAYLOAD = SLOT_SIZE - HEADER_SIZE
const MAGIC = 0x4a585753 // 'SWXJ' read as little-endian u32
/** Records are written on the calling thread while the disk is fast and the event loop has time to
 *  spare (a freed send slot is reused sooner than through the thread pool), through the thread pool
 *  otherwise (a busy loop would block on every record). Judged per block of SYNC_WRITE_BLOCK writes:
 *  a block averaging over SYNC_WRITE_LIMIT_MS on the calling thread (a slow disk: blocking would
 *  stall the network as long) moves every later record to the thread pool; otherwise a block in
 *  which the loop was busy for more than LOOP_BUSY_HIGH of the time moves the writes to the thread
 *  pool, and one busy less than LOOP_BUSY_LOW brings them back. A block is long enough to ride out
 *  the slow first writes of a run and an occasional file-system commit. The measurements behind
 *  these numbers are in NOTES.md ("Benchmark history"). */
export const SYNC_WRITE_LIMIT_MS = 2
export const SYNC_WRITE_BLOCK = 256
export const LOOP_BUSY_HIGH = 0.5
export const LOOP_BUSY_LOW = 0.25

/** Time of the calling thread's event loop: cumulative ms spent working and waiting for events
 *  (performance.eventLoopUtilization()). */
export interface LoopTime {
  active: number
  idle: number
}
/** What the journal reads to choose where it writes; tests pass fakes. */
export interface JournalClock {
  /** ms, to time the writes made on the calling thread. */
  now(): number
  loop(): LoopTime
}
const systemClock: JournalClock = {
  now: () => performance.now(),
  loop: () => performance.eventLoopUtilization(),
}

/** What one slot holds. `torn`: written to but not valid (a write cut short by a crash, or damage);
 *  `newer`: a journal format this code does not know. */
export type SlotContent = { kind: 'empty' } | { kind: 'torn' } | { kind: 'newer'; version: number } | { kind: 'record'; seq: number; payload: string }

/** Writes a record for `payload` into `into` (at least HEADER_SIZE + payload bytes long) and returns
 *  the number of bytes to write, or -1 when the payload does not fit a slot. */
export function encodeRecord(into: Buffer, seq: number, payload: string): number {
  // A UTF-16 unit encodes to at most 3 UTF-8 bytes: skip the exact count for the common small case.
  if (payload.length * 3 > MAX_PAYLOAD && Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD) return -1
  const len = into.write(payload, HEADER_SIZE, 'utf8')
  into.fill(0, 0, HEADER_SIZE)
  into.writeUInt32LE(MAGIC, 0)
  into.writeUInt8(JOURNAL_VERSION, 4)
  into.writeDoubleLE(seq, 8)
  into.writeUInt32LE(len, 16)
  into.writeUInt32LE(recordCrc(into, len), 20)
  return HEADER_SIZE + len
}

/** Reads one slot (SLOT_SIZE bytes). */
export function decodeSlot(slot: Uint8Array): SlotContent {
  const b = Buffer.from(slot.buffer, slot.byteOffset, slot.byteLength)
  if (b.length < HEADER_SIZE || b.readUInt32LE(0) !== MAGIC) return isZero(b) ? { kind: 'empty' } : { kind: 'torn' }
  const version = b.readUInt8(4)
  if (version > JOURNAL_VERSION) return { kind: 'newer', version }
  const len = b.readUInt32LE(16)
  if (version !== JOURNAL_VERSION || len === 0 || len > MAX_PAYLOAD || HEADER_SIZE + len > b.length) return { kind: 'torn' }
  if (b.readUInt32LE(20) !== recordCrc(b, len)) return { kind: 'torn' }
  const seq = b.readDoubleLE(8)
  if (!Number.isSafeInteger(seq) || seq < 1) return { kind: 'torn' }
  return { kind: 'record', seq, payload: b.toString('utf8', HEADER_SIZE, HEADER_SIZE + len) }
}

export interface JournalContents {
  slots: SlotContent[]
  /** The valid record with the highest sequence number, if any. */
  newest: { slot: number; seq: number; payload: string } | null
}

/** Splits a whole journal file (one of JOURNAL_SIZES) into its slots. */
export function readSlots(file: Uint8Array): JournalContents {
  const slots: SlotContent[] = []
  for (let at = 0; at + SLOT_SIZE <= file.length; at += SLOT_SIZE) slots.push(decodeSlot(file.subarray(at, at + SLOT_SIZE)))
  let newest: JournalContents['newest'] = null
  slots.forEach((s, slot) => {
    if (s.kind === 'record' && (newest === null || s.seq > newest.seq)) newest = { slot, seq: s.seq, payload: s.payload }
  })
  return { slots, newest }
}

/** Appends records to the journal file. Up to `maxConcurrent` appends may run at once; a caller
 *  that starts them in sequence-number order keeps the newest completed record safe. */
export class ProgressJournal {
  private fh: FileHandle | null = null
  private opening: Promise<FileHandle> | null = null
  private dsync = false
  /** Whether the file exists (at its full size); otherwise the first append creates it. */
  private exists: boolean
  /** Per slot: the sequence number of the valid record it holds (0: empty, torn, or a write failed). */
  private readonly slotSeq: number[]
  private readonly busy: boolean[]
  private readonly buffers: (Buffer | undefined)[]
  /** Appends that may run at once: one slot always holds the newest completed record. */
  readonly maxConcurrent: number
  /** The current block: its writes, the time spent in those made on the calling thread (ms), and
   *  the loop's time when it began. */
  private blockWrites = 0
  private blockSyncMs = 0
  private blockStart: LoopTime | undefined
  private syncWrites = true
  /** A block of writes on the calling thread was slow: the disk is, and they stay off it. */
  private slowDisk = false

  /**
   * @param slotSeqs per slot of the existing file, the sequence number of its valid record or 0
   *   (their count is the file's slot count); empty when the file does not exist yet (the first
   *   append creates it with SLOTS slots)
   */
  constructor(
    readonly file: string,
    private readonly fs: FsPromises,
    slotSeqs: readonly number[],
    private readonly clock: JournalClock = systemClock,
    /** false: records go to the page cache only (no O_DSYNC, no fdatasync), written on the calling
     *  thread: they survive the process being killed, not a power loss or kernel crash (the store's
     *  lease journal covers those). */
    readonly synced = true,
    /** true: synced writes always go through the thread pool (lease records: renewed beside the
     *  sends, so the event loop keeps answering while the disk syncs). */
    private readonly offThread = false,
  ) {
    this.exists = slotSeqs.length > 0
    this.slotSeq = this.exists ? [...slotSeqs] : new Array<number>(SLOTS).fill(0)
    this.busy = this.slotSeq.map(() => false)
    this.buffers = this.slotSeq.map(() => undefined)
    this.maxConcurrent = this.slotSeq.length - 1
  }

  /** Whether the next record is written on the calling thread (O_DSYNC on a fast disk). */
  get writesOnCallingThread(): boolean {
    return this.dsync && this.syncWrites && !this.offThread
  }

  /** Appends running now. */
  get inFlight(): number {
    return this.busy.filter(Boolean).length
  }

  /** Writes a record durably; false (nothing written) when the payload does not fit a slot. It goes
   *  to the free slot with the oldest record, so a failed write's slot is the next one written and
   *  the newest completed record is never overwritten. Throws if `maxConcurrent` appends run. */
  async append(seq: number, payload: string): Promise<boolean> {
    let slot = -1
    for (let i = 0; i < this.slotSeq.length; i++) if (!this.busy[i] && (slot < 0 || this.slotSeq[i]! < this.slotSeq[slot]!)) slot = i
    if (slot < 0 || this.inFlight >= this.maxConcurrent) throw new Error('progress journal: too many concurrent appends')
    const buf = (this.buffers[slot] ??= Buffer.alloc(SLOT_SIZE))
    const n = encodeRecord(buf, seq, payload)
    if (n < 0) return false
    this.busy[slot] = true
    this.slotSeq[slot] = 0
    try {
      const fh = this.fh ?? (await (this.opening ??= this.openHandle()))
      if (!this.synced) {
        // A page-cache write: microseconds, so the calling thread is cheaper than a pool hand-off.
        if (this.fs === nodeFs) writeSync(fh.fd, buf, 0, n, slot * SLOT_SIZE)
        else await fh.write(buf, 0, n, slot * SLOT_SIZE)
        this.slotSeq[slot] = seq
        return true
      }
      // With O_DSYNC the write returns only once the data is on disk (one syscall: measured 0.15 ms
      // against 0.21 ms for write + fdatasync).
      if (this.dsync && !this.offThread) this.countWrite()
      if (this.writesOnCallingThread) this.writeHere(fh.fd, buf, n, slot * SLOT_SIZE)
      else await fh.write(buf, 0, n, slot * SLOT_SIZE)
      if (!this.dsync) await fh.datasync()
      this.slotSeq[slot] = seq
      return true
    } finally {
      this.busy[slot] = false
    }
  }

  private writeHere(fd: number, buf: Buffer, n: number, at: number): void {
    const started = this.clock.now()
    writeSync(fd, buf, 0, n, at)
    this.blockSyncMs += this.clock.now() - started
  }

  /** Counts a write into the current block; at a block's end decides where the next ones go. */
  private countWrite(): void {
    if (this.blockStart === undefined) this.blockStart = this.clock.loop()
    if (++this.blockWrites <= SYNC_WRITE_BLOCK) return
    // The block ended with the previous write: judge it.
    const loop = this.clock.loop()
    const active = loop.active - this.blockStart.active
    const total = active + (loop.idle - this.blockStart.idle)
    if (this.syncWrites && this.blockSyncMs / SYNC_WRITE_BLOCK > SYNC_WRITE_LIMIT_MS) this.slowDisk = true
    // The share of the loop's time spent on other work than these writes.
    const busy = total > 0 ? (active - this.blockSyncMs) / total : 0
    if (this.slowDisk) this.syncWrites = false
    else if (this.syncWrites && busy > LOOP_BUSY_HIGH) this.syncWrites = false
    else if (!this.syncWrites && busy < LOOP_BUSY_LOW) this.syncWrites = true
    this.blockWrites = 1
    this.blockSyncMs = 0
    this.blockStart = loop
  }

  /** Opens the file (creating it when it does not exist) in the background, so that the first
   *  record does not wait for it; a failure is left for that record to report. */
  prepare(): void {
    if (this.fh === null) (this.opening ??= this.openHandle()).catch(() => {})
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => {})
    const fh = this.fh
    this.fh = null
    await fh?.close()
  }

  private async openHandle(): Promise<FileHandle> {
    try {
      return await this.openFile()
    } finally {
      this.opening = null
    }
  }

  private async openFile(): Promise<FileHandle> {
    if (!this.exists) {
      // Created full-size and zeroed in one atomic step, so a crash never leaves a short journal and
      // later writes overwrite allocated blocks (fdatasync then need not flush a size change).
      await writeFileAtomic(this.file, new Uint8Array(JOURNAL_SIZE), { mode: 0o600, fs: this.fs })
      this.exists = true
    }
    // O_DSYNC where the file system API takes numeric flags (node:fs); an injected fs (memfs in
    // tests) gets 'r+' and an explicit fdatasync.
    if (this.synced && this.fs === nodeFs && typeof constants.O_DSYNC === 'number') {
      this.fh = await this.fs.open(this.file, constants.O_RDWR | constants.O_DSYNC)
      this.dsync = true
    } else {
      this.fh = await this.fs.open(this.file, 'r+')
    }
    return this.fh
  }
}

function recordCrc(b: Buffer, len: number): number {
  return crc32(b.subarray(HEADER_SIZE, HEADER_SIZE + len), crc32(b.subarray(4, 20)))
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false
  return true
}
