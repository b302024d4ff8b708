// The one format detector of every command: settles an input's format from a sample of its first
// non-blank lines (`--format auto`), or takes the named one, and gives the parser instance for this
// input. A file resumed half-way whose sample says nothing (W3C data lines without their
// `#Fields:`) is judged by its head instead. A format that matches nothing stops with one line that
// names the failing line (its text only with --verbose: it holds visitor data).
import { detectFormat } from '../../parsers/detect.js'
import { parserForInput, type LogParser } from '../../parsers/types.js'
import type { LineBatch } from '../source/reader.js'
import { UsageError } from '../errors.js'
import { safeText } from '../output/safe-text.js'
import { nulRepair } from './nul-bytes.js'

export const SAMPLE_LINES = 200

export interface DetectOptions {
  format: LogParser | 'auto'
  candidates: readonly LogParser[]
  /** The input as messages name it. */
  label: string
  /** Lines of the input before the sample (line numbers in messages are the input's). */
  linesBefore: number
  verbose: boolean
  /** The first non-blank lines of the input from its start, when the sample does not begin there. */
  head?: () => Promise<Buffer[]>
  /** Lines inside a container runtime's wrapper: when no format reads them yet, look again later
   *  (a container's first lines are its own messages) instead of stopping. */
  wrapped?: boolean
}

/** The sample lines of a batch (blank lines kept, so its line numbers are the input's; an
 *  over-long line stands as a blank one: it is rejected unseen, it does not tell the format; so does
 *  a line damaged by NUL bytes, and a line after a NUL block is judged without it, as it is read). */
export function sampleOf(batch: Pick<LineBatch, 'buf' | 'starts' | 'contentEnds' | 'truncated'>, count = SAMPLE_LINES): Buffer[] {
  const sample: Buffer[] = []
  for (let i = 0; i < batch.starts.length && sample.length < count; i++) {
    if (batch.truncated?.[i]) {
      sample.push(EMPTY_BUF)
      continue
    }
    const repair = nulRepair(batch.buf.subarray(batch.starts[i], batch.contentEnds[i]))
    sample.push(repair.outcome ? EMPTY_BUF : Buffer.from(repair.line))
  }
  return sample
}

const EMPTY_BUF = Buffer.alloc(0)

function reads(parser: LogParser, line: Buffer): boolean {
  try {
    return (parser.parse(line) as { rejected?: unknown }).rejected === undefined
  } catch {
    return false
  }
}

export function isBlankLine(line: Uint8Array): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false
  }
  return true
}

/** The parser for this input, or null when the sample holds only blank lines (look again later). */
export async function detectInput(sample: readonly Buffer[], o: DetectOptions): Promise<LogParser | null> {
  if (!sample.some((l) => !isBlankLine(l))) return null
  if (o.format !== 'auto') return parserForInput(o.format)
  // A container's stream mixes its own messages with the access log: only lines some format reads
  // tell which one it is.
  if (o.wrapped) sample = sample.filter((line) => o.candidates.some((c) => reads(c, line)))
  let detected = detectFormat(sample, o.candidates)
  if (!detected.ok && o.head) {
    const fromHead = detectFormat(await o.head(), o.candidates)
    if (fromHead.ok) detected = fromHead
  }
  if (detected.ok) return parserForInput(detected.parser)
  if (detected.reason === 'empty' || o.wrapped) return null // only `#` comment lines so far, or a container's own messages
  const failing = detected.firstFailedLine > 0 ? sample[detected.firstFailedLine - 1] : undefined
  const shown = o.verbose && failing ? `: ${safeText(failing.toString('utf8').slice(0, 200))}` : ' (--verbose shows it)'
  const where = detected.firstFailedLine > 0 ? `line ${o.linesBefore + detected.firstFailedLine} fails${shown}; ${detected.reason}. ` : ''
  throw new UsageError(
    `${safeText(o.label)}: no known log format matches (tried ${detected.tried.join(', ')}); ${where}Name the format with --format, e.g. --format 'nginx:<your log_format>'`,
  )
}
