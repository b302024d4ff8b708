// What a command may touch of the outside world: its streams, environment and clock. The CLI passes
// the process's; tests pass their own.
import type { Writable } from 'node:stream'

export interface CliIO {
  stdout: Writable
  stderr: Writable
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
  /** Wall-clock time (ms): timestamps and `--since` ages, never elapsed time. */
  now: () => number
}

/** A one-line note on stderr, with the tool's name; `text` must already be terminal-safe. */
export function noter(io: CliIO): (text: string) => void {
  return (text) => io.stderr.write(`swetrix-ingest: ${text}\n`)
}
