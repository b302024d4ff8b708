// One import row from the mapper's event: the same decision `check` and `run` make, written as a
// Simple Analytics CSV row (without its session id, which sessions.ts appends).
import type { OutgoingEvent, RequestRecord } from '../types.js'
import { boundedMemo } from '../util/memo.js'
import { csvCell, fit, IMPORT_LIMITS as L, isoSeconds } from './csv.js'
import { createUaColumns } from './ua.js'

/** The mapper names the site's host of a line (`--hostname`, the logged host, or the one `--host`)
 *  in the event's `Origin`, where Swetrix takes a live event's host from: the row's hostname is
 *  that name, so imported and live rows carry the same. */
const ORIGIN_PREFIX = 'https://'

export interface RowFormatter {
  /** The row text up to its country and session id (sessions.ts adds them), or null when the line has no time. Sets `ip` and `ua`. */
  (event: OutgoingEvent, record: RequestRecord): string | null
  /** The visitor of the last formatted row: client IP and User-Agent as sent live. */
  ip: string
  ua: string
}

export function createRowFormatter(): RowFormatter {
  const uaColumns = createUaColumns()
  // The five UA cells and the hostname cell, formatted once per distinct value.
  const uaSegment = boundedMemo((ua: string): string => {
    const c = uaColumns(ua)
    return `${csvCell(c.browserName)},${csvCell(c.browserVersion)},${csvCell(c.osName)},${csvCell(c.osVersion)},${csvCell(c.deviceType)}`
  }, 10_000)
  const originCell = boundedMemo(
    (origin: string): string => csvCell(fit(origin.startsWith(ORIGIN_PREFIX) ? origin.slice(ORIGIN_PREFIX.length) : '', L.hostname)),
    1000,
  )
  let lastSecond = NaN
  let lastIso = ''
  let lastMinute = NaN
  let lastMinutePrefix = ''

  const format = ((event: OutgoingEvent, record: RequestRecord): string | null => {
    const t = record.time
    if (t === null || !Number.isFinite(t)) return null
    const second = Math.floor(t / 1000)
    if (second !== lastSecond) {
      lastSecond = second
      // Most rows share the minute of the one before: its prefix is formatted once, then ss only.
      const minute = Math.floor(second / 60)
      if (minute !== lastMinute) {
        lastMinute = minute
        lastMinutePrefix = isoSeconds(t).slice(0, 17)
      }
      const ss = second - minute * 60
      lastIso = `${lastMinutePrefix}${ss < 10 ? '0' : ''}${ss}Z`
    }
    const b = event.body
    const ua = event.headers['User-Agent'] ?? ''
    const ip = event.headers['X-Client-IP-Address'] ?? ''
    const origin = event.headers.Origin
    format.ip = ip
    format.ua = ua
    const datapoint = event.kind === 'custom' ? csvCell(fit(event.name, L.datapoint)) : 'pageview'
    const lc = b.lc as string | undefined
    let lang = ','
    if (lc !== undefined) {
      const dash = lc.indexOf('-')
      lang = dash < 0 ? `${csvCell(fit(lc, L.lang))},` : `${csvCell(fit(lc.slice(0, dash), L.lang))},${csvCell(fit(lc.slice(dash + 1), L.lang))}`
    }
    return (
      `${lastIso},${datapoint},${origin === undefined ? '' : originCell(origin)},${csvCell(fit(b.pg as string, L.path))},${cell(b.ref, L.document_referrer)},` +
      `${cell(b.so, L.utm)},${cell(b.me, L.utm)},${cell(b.ca, L.utm)},${cell(b.te, L.utm)},${cell(b.co, L.utm)},` +
      `${uaSegment(ua)},${lang},`
    )
  }) as RowFormatter
  format.ip = ''
  format.ua = ''
  return format
}

function cell(v: unknown, max: number): string {
  return typeof v === 'string' && v !== '' ? csvCell(fit(v, max)) : ''
}
