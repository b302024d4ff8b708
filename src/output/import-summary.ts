// What `backfill --via import` prints when it ends: per input its counts and rows, the files
// written with their ranges, the sessions, the dates, rows per day, and what happened to the errors
// (Data Import takes none) and to the upload; with several sites, the same per project; or all of it
// as one JSON document.
import { join } from 'node:path'
import type { DeliveryStats } from '../delivery/engine.js'
import type { ImportFileInfo } from '../sink/import-csv.js'
import type { SiteMap } from '../mapper/sites.js'
import type { ProjectTally } from './projects.js'
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

/** One project's rows and files (project null: the only one, without sites). */
export interface ImportGroup {
  project: string | null
  rows: number
  sessions: { sessions: number; late: number }
  files: ImportFileInfo[]
}

export interface ImportSummary {
  outDir: string
  dryRun: boolean
  reports: ImportReport[]
  groups: ImportGroup[]
  perDay: Map<number, number>
  /** `--errors-via-api`: what the live error events became (absent without it). */
  errorsViaApi?: DeliveryStats
  upload: boolean
  /** Files imported now, per project (the only one's key: its id or ''). */
  uploaded: ReadonlyMap<string, number>
  stateDir: string
  /** Several sites: the lines per project, and where each project comes from. */
  projects?: { tally: ProjectTally; sites: SiteMap } | null
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z')

export function printImportSummary(out: NodeJS.WritableStream, s: ImportSummary, json: boolean): void {
  const written = s.groups.flatMap((g) => g.files.map((f) => ({ ...f, project: g.project })))
  const sessions = { sessions: 0, late: 0 }
  for (const g of s.groups) {
    sessions.sessions += g.sessions.sessions
    sessions.late += g.sessions.late
  }
  const uploaded = [...s.uploaded.values()].reduce((a, b) => a + b, 0)
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
      files: written.map((f) => ({
        name: f.name,
        ...(f.project === null ? {} : { project: f.project }),
        rows: f.rows,
        bytes: f.bytes,
        from: iso(f.firstMs),
        to: iso(f.lastMs),
        sha256: f.sha256 || undefined,
      })),
      rows,
      sessions: sessions.sessions,
      lateRows: sessions.late,
      noTime,
      errorsNotImported: totals.events.error,
      ...(s.errorsViaApi ? { errorsViaApi: s.errorsViaApi } : {}),
      range,
      rowsPerDay: Object.fromEntries(days.map((d) => [iso(d * DAY_MS).slice(0, 10), s.perDay.get(d)!])),
      uploaded,
      ...(s.projects ? { projects: projectsDoc(s) } : {}),
    }
    out.write(safeJson({ files, totals, import: doc }) + '\n')
    return
  }
  for (const r of s.reports) {
    if (r.skippedAsDone) out.write(`${safeText(r.path)}  already imported by an earlier backfill\n`)
    else out.write(`${formatFileReport({ ...r, firstRejected: {} })}\n  rows      ${formatCount(r.rows)}\n`)
  }
  const perProject = s.projects ? ' (a directory per project)' : ''
  out.write(`\n${s.dryRun ? 'would write' : 'wrote'} ${formatCount(rows)} rows in ${written.length} file(s) to ${safeText(s.outDir)}${perProject}\n`)
  for (const f of written)
    out.write(
      `  ${safeText(f.project === null ? f.name : `${f.project}/${f.name}`)}  ${formatCount(f.rows)} rows  ${(f.bytes / 1e6).toFixed(1)} MB  ${iso(f.firstMs)} .. ${iso(f.lastMs)}\n`,
    )
  const late = sessions.late
  out.write(
    `sessions  ${formatCount(sessions.sessions)}${late ? ` (${late} rows arrived more than 10,000 rows out of time order and were placed by their visitor's session)` : ''}\n`,
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
  if (s.projects) out.write(`${projectBlocks(s)}\n`)
  if (s.upload) out.write(`uploaded  ${uploaded} file(s) now; see ${safeText(join(s.stateDir, 'imports.json'))}\n`)
  else if (!s.dryRun && written.length > 0)
    out.write(`upload with --upload (SWETRIX_EMAIL/SWETRIX_PASSWORD or SWETRIX_TOKEN), or in Swetrix: Project settings > Data import > Simple Analytics\n`)
}

/** `import.projects`: per project its lines (events, skips), rows, sessions, files and uploads. */
function projectsDoc(s: ImportSummary): Record<string, unknown> {
  const lines = s.projects!.tally.toJSON(false)
  const doc: Record<string, unknown> = {}
  for (const g of s.groups) {
    const pid = g.project ?? ''
    doc[pid] = {
      ...lines[pid],
      rows: g.rows,
      sessions: g.sessions.sessions,
      lateRows: g.sessions.late,
      files: g.files.map((f) => f.name),
      ...(s.upload ? { uploaded: s.uploaded.get(pid) ?? 0 } : {}),
    }
  }
  return doc
}

/** One block per project, as `run` prints them, with its rows and files. */
function projectBlocks(s: ImportSummary): string {
  const { tally, sites } = s.projects!
  const blocks = tally.format((pid) => sites.sourceOf(pid), false).split(/\n(?=project )/)
  return blocks
    .map((block) => {
      const pid = s.groups.find((g) => g.project === /^project (\S+)/.exec(block)?.[1])
      if (pid === undefined) return block
      const where = pid.files.length > 0 ? ` in ${safeText(join(s.outDir, pid.project ?? ''))}` : ''
      const up = s.upload ? `\n  uploaded  ${s.uploaded.get(pid.project ?? '') ?? 0} file(s) now` : ''
      return `${block}\n  rows      ${formatCount(pid.rows)} in ${pid.files.length} file(s)${where}, sessions ${formatCount(pid.sessions.sessions)}${up}`
    })
    .join('\n')
}
