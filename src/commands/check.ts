// `swetrix-ingest check <file...>`: parse and map without network or state, and report.
import type { Writable } from 'node:stream'
import type { LogParser } from '../../parsers/types.js'
import { recordJson } from '../record-json.js'
import { classifyLine, countOutcome, outcomeLabel, type LineOutcome, type Mapper } from '../pipeline/classify.js'
import { openInput } from '../pipeline/open-input.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import { LineWriter } from '../output/writer.js'
import { safeJson } from '../output/safe-text.js'
import { formatFileReport, type FileReport } from '../output/report.js'

export interface CheckOptions {
  format: LogParser | 'auto'
  candidates: readonly LogParser[]
  mapper: Mapper
  output: 'human' | 'json' | 'records' | 'events'
  stdout: Writable
  stderr: Writable
  stdin?: NodeJS.ReadableStream
}

const FIRST_REJECTED_KEPT = 5

export async function scanInput(path: string, o: CheckOptions, writer: LineWriter | null): Promise<FileReport> {
  const input = await openInput(path, { format: o.format, candidates: o.candidates, final: true, stdin: o.stdin })
  const counters = emptyCounters()
  const firstRejected: Record<string, number[]> = {}
  const parser = input.parser
  const mapper = o.mapper
  const records = o.output === 'records'
  const events = o.output === 'events'
  let lineNo = 0
  for await (const batch of input.batches) {
    const { buf, starts, contentEnds, truncated } = batch
    for (let i = 0; i < starts.length; i++) {
      lineNo++
      // No parser means the sample held only blank lines: every line is one.
      const outcome: LineOutcome =
        parser === null
          ? { kind: 'rejected', reason: 'empty-line' }
          : classifyLine(parser, mapper, buf.subarray(starts[i], contentEnds[i]), truncated?.[i] === true)
      countOutcome(counters, outcome)
      if (outcome.kind === 'rejected') {
        const kept = (firstRejected[outcome.reason] ??= [])
        if (kept.length < FIRST_REJECTED_KEPT) kept.push(lineNo)
      }
      if (writer !== null) {
        if (records) {
          const parsed = outcome.kind === 'rejected' ? { rejected: outcome.reason } : outcome.record
          await writer.line(safeJson(recordJson(parsed, lineNo, batch.base + starts[i]!, outcomeLabel(outcome))))
        } else if (events && outcome.kind === 'event') {
          const ev = outcome.event
          await writer.line(safeJson({ endpoint: ev.endpoint, headers: ev.headers, body: ev.body }))
        }
      }
    }
  }
  return { path: input.label, format: parser?.name ?? null, ...counters, firstRejected }
}

export async function runCheck(files: string[], o: CheckOptions): Promise<number> {
  const writer = o.output === 'records' || o.output === 'events' ? new LineWriter(o.stdout) : null
  const reports: FileReport[] = []
  for (const file of files) {
    reports.push(await scanInput(file, o, writer))
    await writer?.flush()
  }
  const totals: LineCounters = emptyCounters()
  for (const r of reports) addCounters(totals, r)
  if (o.output === 'json') {
    const files = reports.map(({ firstRejected: _f, ...r }) => r)
    o.stdout.write(safeJson({ files, totals }) + '\n')
  } else {
    // With NDJSON on stdout, the human summary goes to stderr so pipes stay clean.
    const out = writer ? o.stderr : o.stdout
    out.write(reports.map(formatFileReport).join('\n') + '\n')
    if (reports.length > 1) out.write(formatFileReport({ path: 'TOTAL', format: null, ...totals, firstRejected: {} }) + '\n')
  }
  return 0
}
