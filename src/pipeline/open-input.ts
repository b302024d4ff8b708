// Opens one input (a file, a gzip file or `-` for stdin) and settles its format from a sample of
// its first lines. Errors a user can fix become one-line UsageErrors (exit 2).
import { stat } from 'node:fs/promises'
import { parserForInput, type LogParser } from '../../parsers/types.js'
import { detectFormat } from '../../parsers/detect.js'
import { readLines, type LineBatch, type ReadOptions } from '../source/reader.js'
import { UsageError } from '../errors.js'
import { safeText } from '../output/safe-text.js'

const SAMPLE_LINES = 200
/** Read size: big enough to amortise syscalls, small enough to keep peak RSS low (measured: 1 MiB
 *  chunks cost ~20 MB more RSS than 256 KiB for the same speed). */
export const READ_CHUNK_BYTES = 128 * 1024

export interface OpenedInput {
  label: string
  /** null: the input has no lines at all (nothing to detect, nothing to do). */
  parser: LogParser | null
  batches: AsyncGenerator<LineBatch>
}

export interface OpenInputOptions extends ReadOptions {
  /** A fixed parser, or 'auto' to pick one of `candidates` from the sample. */
  format: LogParser | 'auto'
  candidates: readonly LogParser[]
  stdin?: NodeJS.ReadableStream
  /** Include the failing line's text in a detection error (it may hold a visitor's IP). */
  verbose?: boolean
}

/** Checks that `path` is a readable regular file, with the one-line message a user needs. */
export async function assertReadableFile(path: string): Promise<void> {
  let st
  try {
    st = await stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file`)
    if (code === 'EACCES') throw new UsageError(`${path}: permission denied`)
    throw new UsageError(`${path}: cannot read (${code ?? (err as Error).message})`)
  }
  if (st.isDirectory()) throw new UsageError(`${path}: is a directory, not a log file`)
}

export async function openInput(path: string, o: OpenInputOptions): Promise<OpenedInput> {
  const isStdin = path === '-'
  if (!isStdin) await assertReadableFile(path)
  const label = isStdin ? '(stdin)' : path
  const source = isStdin ? { stream: o.stdin ?? process.stdin } : { path }
  let it: AsyncGenerator<LineBatch>
  let first: IteratorResult<LineBatch>
  try {
    it = readLines(source, { chunkSize: READ_CHUNK_BYTES, ...o })
    first = await it.next()
  } catch (err) {
    throw asInputError(label, err)
  }
  if (first.done || first.value.starts.length === 0) {
    return { label, parser: o.format === 'auto' ? null : parserForInput(o.format), batches: empty() }
  }
  const batch = first.value
  let parser: LogParser
  if (o.format !== 'auto') parser = o.format
  else {
    const sample: Buffer[] = []
    // Blank lines stay in the sample (detection skips them) so its line numbers are the file's.
    for (let i = 0; i < batch.starts.length && sample.length < SAMPLE_LINES; i++) {
      sample.push(Buffer.from(batch.buf.subarray(batch.starts[i], batch.contentEnds[i])))
    }
    const detected = detectFormat(sample, o.candidates)
    if (!detected.ok) {
      if (detected.reason === 'empty') return { label, parser: null, batches: rest(batch, it, label) }
      const failing = detected.firstFailedLine > 0 ? sample[detected.firstFailedLine - 1] : undefined
      const shown = o.verbose && failing ? `: ${safeText(failing.toString('utf8').slice(0, 200))}` : ' (--verbose shows it)'
      throw new UsageError(
        `${label}: no known log format matches (tried ${detected.tried.join(', ')}); ` +
          `line ${detected.firstFailedLine} fails${shown}; ${detected.reason}. ` +
          `Name the format with --format, e.g. --format 'nginx:<your log_format>'`,
      )
    }
    parser = detected.parser
  }
  // One instance per input for formats with per-file state (W3C `#Fields:`).
  return { label, parser: parserForInput(parser), batches: rest(batch, it, label) }
}

async function* empty(): AsyncGenerator<LineBatch> {}

async function* rest(first: LineBatch, it: AsyncGenerator<LineBatch>, label: string): AsyncGenerator<LineBatch> {
  yield first
  try {
    yield* it
  } catch (err) {
    throw asInputError(label, err)
  }
}

function asInputError(label: string, err: unknown): Error {
  if (err instanceof UsageError) return err
  const e = err as NodeJS.ErrnoException
  if (e.code === 'EISDIR') return new UsageError(`${label}: is a directory, not a log file`)
  if (e.code === 'ENOENT') return new UsageError(`${label}: no such file`)
  if (e.code === 'EACCES') return new UsageError(`${label}: permission denied`)
  if (e.name === 'IncompleteGzipError' || e.code === 'Z_BUF_ERROR' || e.code === 'Z_DATA_ERROR')
    return new UsageError(`${label}: damaged or incomplete gzip data (${e.message})`)
  return err as Error
}
