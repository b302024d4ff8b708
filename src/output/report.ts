// Human-readable summaries (check, run, backfill). Paths and reasons pass through safeText:
// a file name or a third-party parser's reason could carry control characters.
import type { LineCounters } from '../types.js'
import { safeText } from './safe-text.js'
import { formatCount } from './count.js'

export interface FileReport extends LineCounters {
  path: string
  format: string | null
  /** reason -> the first few 1-based line numbers rejected for it. */
  firstRejected: Record<string, number[]>
  /** Set when the format logs times without an offset: the zone they were read in. */
  timeZone?: string
}

export interface DeliveryTotals {
  sent: number
  accepted: number
  botIgnored: number
  deadLettered: number
  uncertain: number
  retries: number
  unansweredRetries?: number
}

const n = formatCount

function counts(obj: Record<string, number>): string {
  const parts = Object.entries(obj)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${safeText(k)} ${n(v)}`)
  return parts.length ? parts.join(', ') : 'none'
}

export function formatFileReport(r: FileReport): string {
  const lines = [`${safeText(r.path)}${r.format ? `  (format: ${safeText(r.format)})` : ''}`]
  if (r.timeZone !== undefined) lines.push(`  times     logged without an offset, read in ${safeText(r.timeZone)}; --timezone to change`)
  lines.push(`  lines     ${n(r.lines)}  parsed ${n(r.parsed)}  rejected ${n(r.rejected)}`)
  lines.push(`  events    pageview ${n(r.events.pageview)}, error ${n(r.events.error)}, custom ${n(r.events.custom)}`)
  lines.push(`  skipped   ${counts(r.skipped)}`)
  if (r.repaired) lines.push(`  repaired  ${counts(r.repaired)} (lines read after dropping the NUL bytes before them)`)
  if (r.rejected > 0) {
    const rej = Object.entries(r.rejectedReasons).map(([reason, count]) => {
      const first = r.firstRejected[reason]
      return `${safeText(reason)} ${n(count)}${first?.length ? ` (first at line ${first.join(', ')})` : ''}`
    })
    lines.push(`  rejected  ${rej.join('; ')}`)
  }
  return lines.join('\n')
}

export function formatDelivery(d: DeliveryTotals): string {
  return (
    `delivery  sent ${n(d.sent)}, accepted ${n(d.accepted)}, bot-ignored ${n(d.botIgnored)}, ` +
    `dead-lettered ${n(d.deadLettered)}, uncertain ${n(d.uncertain)}, retries ${n(d.retries)}` +
    (d.unansweredRetries ? ` (${n(d.unansweredRetries)} after an unanswered request: may duplicate)` : '')
  )
}
