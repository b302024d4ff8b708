// The NDJSON files a run keeps in its state directory (dead letters, uncertain events, retries
// after an unanswered request), each created (0600) only when its first entry is written.
import { basename, dirname, join } from 'node:path'
import { asStateWriteError } from '../errors.js'
import { openNdjsonAppender, type NdjsonAppender } from '../sink/ndjson.js'

export interface NdjsonLog {
  readonly path: string
  write(obj: unknown): Promise<void>
  close(): Promise<void>
}

export function lazyAppender(path: string): NdjsonLog {
  let appender: NdjsonAppender | null = null
  return {
    path,
    // A full or read-only state directory ends the run as the checkpoint's own errors do (exit 74:
    // retry later), naming the file, rather than as an unexpected error.
    async write(obj) {
      appender ??= openNdjsonAppender(path)
      try {
        await appender.write(obj)
      } catch (err) {
        throw asStateWriteError(err, dirname(path), 'run', `writing ${basename(path)}`)
      }
    },
    async close() {
      try {
        await appender?.close()
      } catch (err) {
        throw asStateWriteError(err, dirname(path), 'run', `closing ${basename(path)}`)
      }
    },
  }
}

export interface StateLogs {
  deadLetter: NdjsonLog
  uncertain: NdjsonLog
  unansweredRetries: NdjsonLog
  close(): Promise<void>
}

export function stateLogs(stateDir: string): StateLogs {
  const logs = {
    deadLetter: lazyAppender(join(stateDir, 'dead-letter.ndjson')),
    uncertain: lazyAppender(join(stateDir, 'uncertain.ndjson')),
    unansweredRetries: lazyAppender(join(stateDir, 'unanswered-retries.ndjson')),
  }
  return {
    ...logs,
    async close() {
      await Promise.all(Object.values(logs).map((l) => l.close()))
    },
  }
}
