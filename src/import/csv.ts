// RFC 4180 cells for Swetrix Data Import files (Simple Analytics CSV), as Swetrix's importer reads
// them (csv-parse with `trim`, `relax_quotes`): a cell is quoted when it holds `,` `"` CR or LF
// (embedded quotes doubled). A cell a spreadsheet would run as a formula (first character
// `= + - @`, tab or CR) gets one space before it, outside any quotes: spreadsheets then read it as
// text, and the importer's `trim` removes the space, so Swetrix stores the value unchanged.
const NEEDS_QUOTES = /[",\r\n]/
const FORMULA_START = /^[=+\-@\t\r]/

export function csvCell(value: string): string {
  if (value === '') return ''
  let cell = NEEDS_QUOTES.test(value) ? `"${value.replace(/"/g, '""')}"` : value
  if (FORMULA_START.test(value)) cell = ` ${cell}`
  return cell
}

/** The columns written, in order. `country_code` and `session_id` come last: they are per visitor
 *  and known once the row's session is (sessions.ts); the rest is formatted per row before. */
export const IMPORT_COLUMNS = [
  'added_iso',
  'datapoint',
  'hostname',
  'path',
  'document_referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'browser_name',
  'browser_version',
  'os_name',
  'os_version',
  'device_type',
  'lang_language',
  'lang_region',
  'country_code',
  'session_id',
] as const

export const IMPORT_HEADER = IMPORT_COLUMNS.join(',') + '\n'

/** Field limits of the importer (JS string length), applied before writing so nothing is cut
 *  differently on the server. */
export const IMPORT_LIMITS = {
  datapoint: 256,
  path: 2048,
  hostname: 253,
  document_referrer: 2048,
  utm: 256,
  browser_name: 30,
  browser_version: 20,
  os_name: 25,
  os_version: 20,
  lang: 35,
} as const

/** The importer trims values; cutting and trimming here keeps the written value the stored one. */
export function fit(value: string | undefined | null, max: number): string {
  if (value === undefined || value === null) return ''
  const v = value.length > max ? value.slice(0, max) : value
  return v.trim()
}

/** `2026-01-26T08:14:03Z`: the importer keeps second precision. */
export function isoSeconds(ms: number): string {
  const s = new Date(Math.floor(ms / 1000) * 1000).toISOString()
  return s.slice(0, 19) + 'Z'
}
