// Backfill progress on stderr: a bar on a terminal, a plain line every few seconds otherwise.
import { open } from 'node:fs/promises'
import { SingleBar, Presets } from 'cli-progress'
import { systemClock } from '../util/clock.js'

/** What the bar's rate counts: events sent (`run`, `backfill --via api`) or bytes read (the import). */
export type RateUnit = 'events' | 'bytes'

export class ProgressView {
  private done = new Map<string, number>()
  // Elapsed time on the monotonic clock: a step of the system clock must not skew the rate.
  private started = systemClock.monotonic()
  private lastDraw = -Infinity
  private constructor(
    private bar: SingleBar,
    private sizes: Map<string, number>,
    private readonly unit: RateUnit,
  ) {}

  static async start(paths: string[], stderr: NodeJS.WritableStream, unit: RateUnit = 'events'): Promise<ProgressView> {
    const sizes = new Map<string, number>()
    for (const p of paths) sizes.set(p, await contentSize(p))
    const total = [...sizes.values()].reduce((a, b) => a + b, 0)
    const bar = new SingleBar(
      {
        stream: stderr as NodeJS.WriteStream,
        format: `backfill [{bar}] {percentage}% | {doneMB}/{totalMB} MB | {rate} ${unit === 'bytes' ? 'MB/s' : 'events/s'} | ETA {eta_formatted}`,
        noTTYOutput: true,
        notTTYSchedule: 2000,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.legacy,
    )
    bar.start(Math.max(total, 1), 0, { doneMB: '0.0', totalMB: (total / 1e6).toFixed(1), rate: unit === 'bytes' ? '0.0' : 0 })
    return new ProgressView(bar, sizes, unit)
  }

  /** Bytes of `path` read so far; with the rate in bytes, the bar is redrawn (at most every 100 ms:
   *  the import calls this for every batch). */
  file(path: string, offset: number): void {
    this.done.set(path, Math.min(offset, this.sizes.get(path) ?? offset))
    if (this.unit !== 'bytes') return
    const now = systemClock.monotonic()
    if (now - this.lastDraw < 100) return
    this.lastDraw = now
    this.draw((secs, value) => (value / 1e6 / secs).toFixed(1))
  }

  /** `sent`: events sent so far in this backfill, all files. */
  update(path: string, acked: number, sent: number): void {
    this.file(path, acked)
    this.draw((secs) => Math.round(sent / secs))
  }

  private draw(rate: (secs: number, value: number) => string | number): void {
    const value = this.total()
    const secs = Math.max((systemClock.monotonic() - this.started) / 1000, 0.001)
    this.bar.update(value, { doneMB: (value / 1e6).toFixed(1), rate: rate(secs, value) })
  }

  stop(): void {
    if (this.unit === 'bytes') {
      const value = this.total()
      this.bar.update(value, { doneMB: (value / 1e6).toFixed(1) })
    }
    this.bar.stop()
  }

  private total(): number {
    let value = 0
    for (const v of this.done.values()) value += v
    return value
  }
}

/** Bytes of log content: the file size, or for gzip the ISIZE trailer (decompressed size mod 2^32). */
export async function contentSize(path: string): Promise<number> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const head = Buffer.alloc(2)
    await fh.read(head, 0, 2, 0)
    if (head[0] !== 0x1f || head[1] !== 0x8b || size < 18) return size
    const tail = Buffer.alloc(4)
    await fh.read(tail, 0, 4, size - 4)
    return tail.readUInt32LE(0)
  } finally {
    await fh.close()
  }
}
