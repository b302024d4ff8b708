// The progress journal `<state-dir>/progress.journal`: a preallocated file of two fixed-size slots,
// each holding one record (the JSON of one FileCheckpoint). A hot progress update is one positional
// write into the slot NOT holding the newest durable record, then fdatasync (~0.3 ms, versus ~1 ms
// for the atomic rename of state.json). A write torn by a crash damages only the slot being written;
// the other slot still holds the previous record, so at most one slot is ever invalid.
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
import { constants } from 'node:fs'
import * as nodeFs from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { writeFileAtomic } from './atomic.js'
import type { FsPromises } from './atomic.js'

export const JOURNAL_FILE = 'progress.journal'
export const JOURNAL_VERSION = 1
export const SLOT_SIZE = 64 * 1024
export const JOURNAL_SIZE = 2 * SLOT_SIZE
export const HEADER_SIZE = 32
export const MAX_PAYLOAD = SLOT_SIZE - HEADER_SIZE
const MAGIC = 0x4a585753 // 'SWXJ' read as little-endian u32

export type Slot = 0 | 1

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
  slots: [SlotContent, SlotContent]
  /** The valid record with the highest sequence number, if any. */
  newest: { slot: Slot; seq: number; payload: string } | null
}

/** Splits a whole journal file (JOURNAL_SIZE bytes) into its two slots. */
export function readSlots(file: Uint8Array): JournalContents {
  const slots: [SlotContent, SlotContent] = [decodeSlot(file.subarray(0, SLOT_SIZE)), decodeSlot(file.subarray(SLOT_SIZE, JOURNAL_SIZE))]
  let newest: JournalContents['newest'] = null
  for (const slot of [0, 1] as const) {
    const s = slots[slot]
    if (s.kind === 'record' && (newest === null || s.seq > newest.seq)) newest = { slot, seq: s.seq, payload: s.payload }
  }
  return { slots, newest }
}

/** Appends records to the journal file. Not reentrant: the caller serialises `append` calls. */
export class ProgressJournal {
  private fh: FileHandle | null = null
  private buf: Buffer | null = null
  private dsync = false

  /**
   * @param writeSlot the slot not holding the newest valid record (written next)
   * @param exists whether the file exists (at JOURNAL_SIZE); otherwise the first append creates it
   */
  constructor(
    readonly file: string,
    private readonly fs: FsPromises,
    private writeSlot: Slot,
    private exists: boolean,
  ) {}

  /** Writes a record durably; false (nothing written) when the payload does not fit a slot. After a
   *  failed write the same slot is written next, so the other slot keeps the last good record. */
  async append(seq: number, payload: string): Promise<boolean> {
    this.buf ??= Buffer.alloc(SLOT_SIZE)
    const n = encodeRecord(this.buf, seq, payload)
    if (n < 0) return false
    const fh = this.fh ?? (await this.openHandle())
    await fh.write(this.buf, 0, n, this.writeSlot * SLOT_SIZE)
    // With O_DSYNC the write returned only once the data was on disk (one syscall, one thread-pool
    // trip: measured 0.15 ms against 0.21 ms for write + fdatasync).
    if (!this.dsync) await fh.datasync()
    this.writeSlot = this.writeSlot === 0 ? 1 : 0
    return true
  }

  async close(): Promise<void> {
    const fh = this.fh
    this.fh = null
    await fh?.close()
  }

  private async openHandle(): Promise<FileHandle> {
    if (!this.exists) {
      // Created full-size and zeroed in one atomic step, so a crash never leaves a short journal and
      // later writes overwrite allocated blocks (fdatasync then need not flush a size change).
      await writeFileAtomic(this.file, new Uint8Array(JOURNAL_SIZE), { mode: 0o600, fs: this.fs })
      this.exists = true
    }
    // O_DSYNC where the file system API takes numeric flags (node:fs); an injected fs (memfs in
    // tests) gets 'r+' and an explicit fdatasync.
    if (this.fs === nodeFs && typeof constants.O_DSYNC === 'number') {
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
