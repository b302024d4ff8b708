// Rows per UTC day as a small terminal bar chart, every day between the first and the last shown
// (a day with no rows stands out: deleted or missing logs). Long ranges are drawn per week.
import { formatCount } from './count.js'
const DAY_MS = 86_400_000
const WIDTH = 40

export function dayChart(perDay: Map<number, number>): string[] {
  if (perDay.size === 0) return []
  const days = [...perDay.keys()]
  const first = Math.min(...days)
  const last = Math.max(...days)
  const step = last - first > 62 ? 7 : 1
  const buckets: { label: string; rows: number }[] = []
  for (let d = first; d <= last; d += step) {
    let rows = 0
    for (let k = d; k < d + step; k++) rows += perDay.get(k) ?? 0
    const label = new Date(d * DAY_MS).toISOString().slice(0, 10)
    buckets.push({ label: step === 7 ? `${label} wk` : label, rows })
  }
  const max = Math.max(...buckets.map((b) => b.rows), 1)
  return buckets.map((b) => {
    const len = b.rows === 0 ? 0 : Math.max(1, Math.round((b.rows / max) * WIDTH))
    return `  ${b.label.padEnd(13)} ${'#'.repeat(len).padEnd(WIDTH)} ${formatCount(b.rows)}${b.rows === 0 ? '  (no rows)' : ''}`
  })
}
