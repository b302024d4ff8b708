// `swetrix-ingest check <file...>`: parse and map without network or state, and report. Each input
// is one session into the counting destination; a large plain file is counted in parts at once.
import type { CliIO } from '../runtime/io.js'
import { noter } from '../runtime/io.js'
import { printSummary } from '../runtime/summary.js'
import { buildPipeline, parsePositiveInt, projectIdOf, type PipelineFlags } from '../options.js'
import { UsageError } from '../errors.js'
import { createReferrerTally, selfReferrerHint } from '../mapper/referrer-hint.js'
import { safeText } from '../output/safe-text.js'
import type { FileReport } from '../output/report.js'
import { ProjectTally } from '../output/projects.js'
import { LineWriter } from '../output/writer.js'
import { runSession, type SessionEnv } from '../pipeline/session.js'
import { countingDestination } from '../destinations/counting.js'
import { countInParts, defaultThreads, splitPoints } from '../destinations/parallel-count.js'

export interface CheckFlags extends PipelineFlags {
  project?: string
  json?: boolean
  records?: boolean
  events?: boolean
  threads: string
}

export async function runCheck(files: string[], flags: CheckFlags, io: CliIO): Promise<number> {
  if ([flags.json, flags.records, flags.events].filter(Boolean).length > 1) throw new UsageError('choose one of --json, --records, --events')
  const pid = projectIdOf(flags)
  const now = io.now()
  const parts = await buildPipeline(flags, pid, now, false)
  const threads = flags.threads === 'auto' ? defaultThreads() : parsePositiveInt(flags.threads, '--threads')
  const print = flags.records ? 'records' : flags.events ? 'events' : 'nothing'
  const writer = print === 'nothing' ? null : new LineWriter(io.stdout)
  const projects = parts.sites.active ? new ProjectTally(parts.sites.projects()) : null
  const referrers = createReferrerTally()
  const env: SessionEnv = { parts, signal: new AbortController().signal, verbose: flags.verbose === true, now: io.now, note: noter(io), projects, referrers }
  const destination = countingDestination({ print, writer })
  const reports: FileReport[] = []
  for (const file of files) {
    if (file === '-') {
      await runSession(env, { stream: io.stdin, label: '(stdin)' }, destination, { reports })
      continue
    }
    const points = print === 'nothing' ? await splitPoints(file, threads) : null
    if (points === null) await runSession(env, { path: file }, destination, { reports })
    else reports.push(await countInParts(env, file, points, { flags, projectId: pid, now }))
  }
  // With NDJSON on stdout, the human summary goes to stderr so pipes stay clean.
  printSummary(writer ? io.stderr : io.stdout, { reports, projects, sites: parts.sites }, { json: flags.json === true, files: 'each' })
  const hint = selfReferrerHint(referrers, 'check')
  if (hint !== null) env.note(safeText(hint))
  return 0
}
