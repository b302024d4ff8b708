// The NDJSON files a run keeps in its state directory (dead letters, uncertain events, retries
// after an unanswered request), each created (0600) only when its first entry is written.
import { join } from 'node:path'
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
    write(obj) {
      appender ??= openNdjsonAppender(path)
      return appender.write(obj)
    },
    async close() {
      await appender?.close()
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
