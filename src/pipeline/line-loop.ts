// The line loop of every command: each line of a batch is classified (parser -> mapper), counted,
// and handed to the destination's visitor with its absolute byte offsets and line number. `check`,
// `run`, `backfill` (both ways) and `follow` all read their lines through this one function, in the
// main thread and in worker threads alike.
import type { LogParser } from '../../parsers/types.js'
import type { LineBatch } from '../source/reader.js'
import type { LineCounters } from '../types.js'
import type { ProjectOf, ProjectTally } from '../output/projects.js'
import { observeRecordReferrer, observeReferrer, type ReferrerTally } from '../mapper/referrer-hint.js'
import { classifyLine, classifyRange, countOutcome, EMPTY, NOT_ACCESS, TOO_LONG, type ClassifyMode, type LineOutcome, type Mapper } from './classify.js'
import { hasNul, NUL_BYTES, nulRepair } from './nul-bytes.js'

/** Lines unwrapped from a runtime wrapper (CRI, Docker json-file): per line its inner text and its
 *  absolute offsets in the runtime's file (a joined partial run spans several physical lines). */
export interface FramedLines {
  starts: number[]
  ends: number[]
  contents: Buffer[]
  truncated: boolean[]
  /** Per line: null, or why it is passed over without parsing (another stream, not a wrapper line). */
  skips: (string | null)[]
}

export interface SessionBatch {
  /** The reader's lines: line i spans `base + starts[i]` .. `base + ends[i]`. */
  raw: LineBatch
  /** The lines inside the runtime wrapper, when the input has one (then they replace `raw`'s). */
  framed: FramedLines | null
  /** null until the input's first non-blank line settled the format: every line before is blank. */
  parser: LogParser | null
  /** Lines of the input before this batch (line numbers are 1-based). */
  linesBefore: number
}

/** Where the loop counts: the file's counters, the first rejected line numbers per reason, and with
 *  several sites the per-project tally. */
export interface LineTally {
  counters: LineCounters
  firstRejected: Record<string, number[]>
  projects: ProjectTally | null
  projectOf: ProjectOf | null
  /** Referrer hosts of events whose site host is not known (the "most referrers are the site" hint). */
  referrers?: ReferrerTally | null
  /** The options name the site's host for every line (`--hostname`, one plain `--host`). */
  siteHostKnown?: boolean
}

/** A line, classified: its outcome, its absolute start and end offsets, its 1-based number. */
export type LineVisitor = (outcome: LineOutcome, start: number, end: number, line: number) => void

const FIRST_REJECTED_KEPT = 5
const COMMENT: LineOutcome = Object.freeze({ kind: 'passed', reason: 'comment' })

/** Before the format is known every line is blank, a `#` comment or over-long (detection waits for
 *  another). `first` is the line's first byte (undefined when it is empty). */
function beforeFormat(first: number | undefined, truncated: boolean): LineOutcome {
  return truncated ? TOO_LONG : first === 0x23 ? COMMENT : EMPTY
}

export function linesIn(b: SessionBatch): number {
  return b.framed ? b.framed.starts.length : b.raw.starts.length
}

/** Classifies, counts and visits every line of `b`; returns the number of lines. */
export function scanLines(b: SessionBatch, mode: ClassifyMode, mapper: Mapper, tally: LineTally, visit: LineVisitor | null): number {
  const { parser, framed } = b
  const n = linesIn(b)
  let line = b.linesBefore
  const nulsIn = framed === null && hasNul(b.raw.buf)
  for (let i = 0; i < n; i++) {
    line++
    let outcome: LineOutcome
    let start: number
    let end: number
    if (framed !== null) {
      start = framed.starts[i]!
      end = framed.ends[i]!
      const skip = framed.skips[i]
      outcome =
        skip != null
          ? { kind: 'passed', reason: skip }
          : parser === null
            ? framed.truncated[i] === true
              ? TOO_LONG
              : NOT_ACCESS
            : classifyLine(parser, mapper, framed.contents[i]!, framed.truncated[i] === true, true, mode)
    } else {
      const { raw } = b
      start = raw.base + raw.starts[i]!
      end = raw.base + raw.ends[i]!
      const from = raw.starts[i]!
      const to = raw.contentEnds[i]!
      const truncated = raw.truncated?.[i] === true
      if (!nulsIn) {
        outcome =
          parser === null ? beforeFormat(from < to ? raw.buf[from] : undefined, truncated) : classifyRange(parser, mapper, raw.buf, from, to, truncated, mode)
      } else {
        // A batch with NUL bytes (power loss): lines are judged one by one, NULs before a line dropped.
        let content = raw.buf.subarray(from, to)
        const repair = truncated ? null : nulRepair(content)
        if (repair?.outcome) outcome = repair.outcome
        else {
          if (repair?.stripped) {
            content = repair.line
            const repaired = (tally.counters.repaired ??= {})
            repaired[NUL_BYTES] = (repaired[NUL_BYTES] ?? 0) + 1
          }
          outcome = parser === null ? beforeFormat(content[0], truncated) : classifyLine(parser, mapper, content, truncated, false, mode)
        }
      }
    }
    countOutcome(tally.counters, outcome)
    if (outcome.kind === 'rejected') {
      const kept = (tally.firstRejected[outcome.reason] ??= [])
      if (kept.length < FIRST_REJECTED_KEPT) kept.push(line)
    }
    if (tally.projects !== null) tally.projects.line(outcome, tally.projectOf!)
    if (tally.referrers) {
      if (outcome.kind === 'event') observeReferrer(tally.referrers, outcome.event)
      else if (outcome.kind === 'counted') observeRecordReferrer(tally.referrers, outcome.record, tally.siteHostKnown === true)
    }
    visit?.(outcome, start, end, line)
  }
  return n
}
