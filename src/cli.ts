// The command-line entry: runs the program (src/program.ts) and turns what ends it into an exit
// code and, for errors a user can act on, one line on stderr (the README's exit-code table).
import type { Writable } from 'node:stream'
import { CommanderError } from 'commander'
import { EXIT_DELIVERY_FAILED, EXIT_LOCKED, EXIT_STATE_UNWRITABLE, EXIT_USAGE, type StateWriteError } from './errors.js'
import { buildProgram } from './program.js'
import type { CliIO } from './runtime/io.js'

export type { CliIO }
export { VERSION } from './version.js'

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    now: io.now ?? Date.now,
  }
  // An empty variable (`SWETRIX_API_URL=` in an env file) means unset, as in most tools; commander
  // reads process.env and would take '' for the value.
  for (const [name, value] of Object.entries(process.env)) if (name.startsWith('SWETRIX_') && value === '') delete process.env[name]
  // `swetrix-ingest check --records big.log | head` closes the pipe early: that is not an error.
  if (full.stdout === process.stdout) ignoreBrokenPipe(process.stdout)
  let code = 0
  const program = buildProgram(full, (c) => (code = c))
  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (err) {
    return exitCodeFor(err, full.stderr)
  }
}

function exitCodeFor(err: unknown, stderr: Writable): number {
  if (err instanceof CommanderError) {
    // help and version exit 0; commander already printed parse errors
    return err.exitCode === 0 ? 0 : EXIT_USAGE
  }
  const e = err as Error & { exitCode?: number }
  const line = (msg: string) => stderr.write(`swetrix-ingest: ${msg.split('\n')[0]}\n`)
  switch (e?.name) {
    case 'UsageError':
    case 'FormatError':
    case 'ConfigError':
    case 'InputError':
    case 'StateError':
    case 'FatalApiError':
      line(e.message)
      return EXIT_USAGE
    case 'LockedError':
      line(e.message)
      return EXIT_LOCKED
    case 'DeliveryError':
      line(e.message)
      return EXIT_DELIVERY_FAILED
    case 'StateWriteError':
      // Full, quota, I/O error, or turned read-only during a run: retry later; otherwise configuration.
      line(e.message)
      return (e as StateWriteError).transient ? EXIT_STATE_UNWRITABLE : EXIT_USAGE
  }
  if (typeof e?.exitCode === 'number') {
    line(e.message)
    return e.exitCode
  }
  line(`unexpected error: ${e?.message ?? String(err)}`)
  if (process.env.SWETRIX_INGEST_DEBUG) stderr.write(`${e?.stack}\n`)
  return EXIT_DELIVERY_FAILED
}

function ignoreBrokenPipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
}
