// What `backfill --via import` prints when it ends: per input its counts and rows, the files
// written with their ranges, the sessions, the dates, rows per day, and what happened to the errors
// (Data Import takes none) and to the upload; or all of it as one JSON document.
import { join } from 'node:path'
import type { DeliveryStats } from '../delivery/engine.js'
import type { ImportFileInfo } from '../sink/import-csv.js'
import type { FileReport } from './report.js'
import { formatFileReport } from './report.js'
import { safeJson, safeText } from './safe-text.js'
import { dayChart } from './day-chart.js'
import { formatCount } from './count.js'
import { totalsOf } from '../runtime/summary.js'

const DAY_MS = 86_400_000

export interface ImportReport extends FileReport {
  rows: number
  noTime: number
  /** Read to its end by an earlier backfill: not read again. */
  skippedAsDone: boolean
}

export interface ImportSummary {
  outDir: string
  dryRun: boolean
  reports: ImportReport[]
  written: ImportFileInfo[]
  sessions: { sessions: number; late: number }
  perDay: Map<number, number>
  /** `--errors-via-api`: what the live error events became (absent without it). */
  errorsViaApi?: DeliveryStats
  upload: boolean
  uploaded: number
  stateDir: string
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')

export function printImportSummary(out: NodeJS.WritableStream, s: ImportSummary, json: boolean): void {
  const totals = totalsOf(s.reports)
  const rows = s.reports.reduce((a, r) => a + r.rows, 0)
  const noTime = s.reports.reduce((a, r) => a + r.noTime, 0)
  const days = [...s.perDay.keys()].sort((a, b) => a - b)
  const range = days.length ? { from: iso(days[0]! * DAY_MS).slice(0, 10), to: iso(days.at(-1)! * DAY_MS).slice(0, 10) } : null
  if (json) {
    const files = s.reports.map(({ skippedAsDone, firstRejected: _f, ...r }) => ({ ...r, alreadyImported: skippedAsDone }))
    const doc = {
      dir: s.outDir,
      dryRun: s.dryRun,
      files: s.written.map((f) => ({ name: f.name, rows: f.rows, bytes: f.bytes, from: iso(f.firstMs), to: iso(f.lastMs), sha256: f.sha256 || undefined })),
      rows,
      sessions: s.sessions.sessions,
      lateRows: s.sessions.late,
      noTime,
      errorsNotImported: totals.events.error,
      ...(s.errorsViaApi ? { errorsViaApi: s.errorsViaApi } : {}),
      range,
      rowsPerDay: Object.fromEntries(days.map((d) => [iso(d * DAY_MS).slice(0, 10), s.perDay.get(d)!])),
      uploaded: s.uploaded,
    }
    out.write(safeJson({ files, totals, import: doc }) + '\n')
    return
  }
  for (const r of s.reports) {
    if (r.skippedAsDone) out.write(`${safeText(r.path)}  already imported by an earlier backfill\n`)
    else out.write(`${formatFileReport({ ...r, firstRejected: {} })}\n  rows      ${formatCount(r.rows)}\n`)
  }
  out.write(`\n${s.dryRun ? 'would write' : 'wrote'} ${formatCount(rows)} rows in ${s.written.length} file(s) to ${safeText(s.outDir)}\n`)
  for (const f of s.written)
    out.write(`  ${safeText(f.name)}  ${formatCount(f.rows)} rows  ${(f.bytes / 1e6).toFixed(1)} MB  ${iso(f.firstMs)} .. ${iso(f.lastMs)}\n`)
  const late = s.sessions.late
  out.write(
    `sessions  ${formatCount(s.sessions.sessions)}${late ? ` (${late} rows arrived more than 10,000 rows out of time order and were placed by their visitor's session)` : ''}\n`,
  )
  if (range) out.write(`dates     ${range.from} .. ${range.to} (UTC)\n`)
  const e = s.errorsViaApi
  if (e) {
    out.write(
      `errors    ${formatCount(e.sent)} error events ${s.dryRun ? 'would be sent' : 'sent'} live to the Events API (stamped with the time they arrive)` +
        `${e.accepted || e.botIgnored ? `: ${e.accepted} accepted, ${e.botIgnored} ignored as bots` : ''}${e.deadLettered ? `, ${e.deadLettered} refused` : ''}` +
        `${e.uncertain ? `; ${e.uncertain} were in flight when an earlier run was killed, not sent again` : ''}\n`,
    )
  } else if (totals.events.error > 0)
    out.write(`errors    ${formatCount(totals.events.error)} error events not imported (Data Import takes pageviews and custom events only)\n`)
  if (noTime > 0) out.write(`no time   ${formatCount(noTime)} events without a logged time not imported\n`)
  const chart = dayChart(s.perDay)
  if (chart.length) out.write(`rows per day:\n${chart.join('\n')}\n`)
  if (s.upload) out.write(`uploaded  ${s.uploaded} file(s) now; see ${safeText(join(s.stateDir, 'imports.json'))}\n`)
  else if (!s.dryRun && s.written.length > 0)
    out.write(`upload with --upload (SWETRIX_EMAIL/SWETRIX_PASSWORD or SWETRIX_TOKEN), or in Swetrix: Project settings > Data import > Simple Analytics\n`)
}
