// The summary a command prints when it ends: each file's counts, the totals, what was delivered and,
// with several sites, the figures per project; as text, or as one JSON document (`--json`).
import type { Writable } from 'node:stream'
import type { DeliveryStats } from '../delivery/engine.js'
import { addCounters, emptyCounters, type LineCounters } from '../types.js'
import { formatDelivery, formatFileReport, type FileReport } from '../output/report.js'
import type { ProjectTally } from '../output/projects.js'
import type { SiteMap } from '../mapper/sites.js'
import { safeJson } from '../output/safe-text.js'

export interface Summary {
  reports: FileReport[]
  /** What was sent; absent for a command that sends nothing (check). */
  delivery?: DeliveryStats
  /** Several sites: the per-project tally, and where each project comes from. */
  projects?: ProjectTally | null
  sites?: SiteMap
}

export interface SummaryStyle {
  json: boolean
  /** `each`: every file, then a total line when there are several; `total`: the total only (follow). */
  files: 'each' | 'total'
  /** A dry run sent nothing: no delivery line. */
  dryRun?: boolean
}

export function totalsOf(reports: readonly LineCounters[]): LineCounters {
  const totals = emptyCounters()
  for (const r of reports) addCounters(totals, r)
  return totals
}

export function printSummary(out: Writable, s: Summary, style: SummaryStyle): void {
  const totals = totalsOf(s.reports)
  const sending = s.delivery !== undefined
  if (style.json) {
    const files = s.reports.map(({ firstRejected: _f, ...r }) => r)
    const doc: Record<string, unknown> = { files, totals: sending ? { ...totals, delivery: s.delivery } : totals }
    if (s.projects && (sending || s.sites?.active)) doc.projects = s.projects.toJSON(sending)
    out.write(safeJson(doc) + '\n')
    return
  }
  const text: string[] = []
  if (style.files === 'each') {
    if (s.reports.length === 0) return
    text.push(...s.reports.map(formatFileReport))
    if (s.reports.length > 1) text.push(formatFileReport({ path: 'TOTAL', format: null, ...totals, firstRejected: {} }))
  } else text.push(formatFileReport({ path: 'TOTAL', format: null, ...totals, firstRejected: {} }))
  if (sending && !style.dryRun) text.push(formatDelivery(s.delivery!))
  if (s.projects && s.sites?.active) text.push(s.projects.format((p) => s.sites!.sourceOf(p), sending && !style.dryRun))
  out.write(text.join('\n') + '\n')
}
