// Buffered line output with backpressure: per-line NDJSON (--records, --events, --dry-run)
// must not hold the whole output in memory, nor call write() a million times.
import type { Writable } from 'node:stream'

export class LineWriter {
  private chunk = ''
  constructor(
    private readonly out: Writable,
    private readonly limit = 1 << 16,
  ) {}

  /** Appends one line; resolves at once unless the buffer had to be flushed into a full stream. */
  async line(text: string): Promise<void> {
    this.chunk += text + '\n'
    if (this.chunk.length >= this.limit) await this.flush()
  }

  /** Appends one line without waiting (a caller in a synchronous loop); `settle()` after the loop. */
  push(text: string): void {
    this.chunk += text + '\n'
  }

  /** Flushes once the buffer is full, waiting for a full stream to drain. */
  async settle(): Promise<void> {
    if (this.chunk.length >= this.limit) await this.flush()
  }

  async flush(): Promise<void> {
    if (!this.chunk) return
    const data = this.chunk
    this.chunk = ''
    if (!this.out.write(data)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          this.out.off('drain', done)
          this.out.off('error', done)
          if (err) reject(err)
          else resolve()
        }
        this.out.once('drain', done)
        this.out.once('error', done)
      })
    }
  }
}
