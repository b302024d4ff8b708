// Append-only NDJSON files in the state directory (dead-letter.ndjson, uncertain.ndjson).
// Opened lazily on the first write, so a run with nothing to record leaves no empty file.
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'

export interface NdjsonAppender {
  /** Appends `obj` as one JSON line. Writes are serialised in call order. */
  write(obj: unknown): Promise<void>
  /** Waits for pending writes, fsyncs and closes. Further writes reopen the file. */
  close(): Promise<void>
}

export function openNdjsonAppender(path: string): NdjsonAppender {
  let handle: Promise<FileHandle> | undefined
  // Tail of the write chain; every write and close queues behind it.
  let tail: Promise<void> = Promise.resolve()

  const file = (): Promise<FileHandle> => {
    // New files get 0600 (they hold visitor IPs/UAs); an existing file keeps its mode.
    handle ??= open(path, 'a', 0o600)
    return handle
  }

  return {
    write(obj) {
      const line = `${JSON.stringify(obj)}\n`
      const next = tail.then(async () => {
        const fh = await file()
        await fh.appendFile(line, 'utf8')
      })
      // Keep the chain alive after a failed write; the caller still sees this write's error.
      tail = next.catch(() => {})
      return next
    },
    close() {
      const next = tail.then(async () => {
        if (handle === undefined) return
        const opened = handle
        handle = undefined
        const fh = await opened
        try {
          await fh.sync()
        } finally {
          await fh.close()
        }
      })
      tail = next.catch(() => {})
      return next
    },
  }
}
