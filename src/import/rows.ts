// The per-line work of an import, one batch of lines at a time: parse, map, format each line to its
// row (CSV up to the country) and count it, with the same decisions as `check`; each row's visitor
// hash (sessions.ts visitorHash) and country. Every result depends on the line alone, so this runs
// in worker threads (row-worker.ts) as well as in the main thread; the sessions and the files
// stay in the main thread, which takes the batches back in file order.
// A batch's rows are packed (UTF-8 bytes, typed arrays, each visitor string once) so that passing
// them between threads is a few copies, not one object per row.
import type { LogParser } from '../../parsers/types.js'
import type { Mapper } from '../pipeline/classify.js'
import { linesIn, scanLines, type LineTally, type SessionBatch } from '../pipeline/line-loop.js'
import type { LineBatch } from '../source/reader.js'
import { createReferrerTally, type ReferrerTally } from '../mapper/referrer-hint.js'
import { ProjectTally, type ProjectCounts, type ProjectOf } from '../output/projects.js'
import { emptyCounters, type LineCounters } from '../types.js'
import { createRowFormatter } from './row.js'
import { DAY_MS, visitorHash } from './sessions.js'
import type { CountryLookup } from './geo.js'
import { boundedMemo } from '../util/memo.js'

/** The lines of a batch from the reader (source/reader.ts LineBatch), as far as the scan needs. */
export interface LinesIn {
  buf: Uint8Array
  starts: ArrayLike<number>
  contentEnds: ArrayLike<number>
  truncated?: ArrayLike<boolean> | undefined
}

export interface RowBatch {
  counters: LineCounters
  /** Lines scanned. */
  lines: number
  /** Referrer hosts of rows whose site host was not known (the "most referrers are the site" hint). */
  referrers: ReferrerTally
  /** Events without a logged time (not imported). */
  noTime: number
  /** The rows' text (each up to its country) as UTF-8, back to back; row i ends at textEnds[i]. */
  text: Uint8Array
  textEnds: Int32Array
  times: Float64Array
  /** Row i's visitor (client IP and User-Agent on the row's UTC day, in one project) is number
   *  visitorOf[i] of the batch: its visitorHash hashes[v] (what sessions.ts remembers it by),
   *  country cell countries[v], project projects[v] (the event's pid). */
  visitorOf: Int32Array
  hashes: string[]
  countries: string[]
  projects: string[]
  /** Several sites: the batch's counts per project (output/projects.ts); null otherwise. */
  projectCounts: Record<string, Partial<ProjectCounts>> | null
}

export interface RowScannerOptions {
  /** Names each row's hostname too (`--hostname`, else the logged host: see row.ts). */
  mapper: Mapper
  salt: string
  /** null: no country (`--no-geoip`). */
  country: CountryLookup | null
}

interface Known {
  day: number
  hash: string
  country: string
  project: string
}

/** Visitor hashes remembered across batches (bounded like the other caches; recomputing one gives
 *  the same value). */
const KNOWN_VISITORS = 10_000

/** Several sites: the mapper of the batch's file and the project of each of its skipped records. */
export interface BatchSite {
  mapper: Mapper
  projectOf: ProjectOf
}

/** Rows of one batch of lines (the line loop's batch, with its parser). */
export type RowScanner = (batch: SessionBatch, site?: BatchSite) => RowBatch

export function createRowScanner(o: RowScannerOptions): RowScanner {
  const format = createRowFormatter()
  // One memo per UTC day (the hash changes with the day anyway), keyed by project, address and
  // User-Agent (a project id and an address have no space in them).
  let memoDay = NaN
  let ofDay: (visitor: string) => Known = () => ({ day: NaN, hash: '', country: '', project: '' })

  function visitor(project: string, ip: string, ua: string, day: number): Known {
    if (day !== memoDay) {
      memoDay = day
      ofDay = boundedMemo((key: string): Known => {
        const a = key.indexOf(' ')
        const b = key.indexOf(' ', a + 1)
        const address = key.slice(a + 1, b)
        const hash = visitorHash(o.salt, address, key.slice(b + 1), day)
        return { day, hash, country: o.country === null ? '' : o.country(address), project: key.slice(0, a) }
      }, KNOWN_VISITORS)
    }
    return ofDay(`${project} ${ip} ${ua}`)
  }

  return (b, site) => {
    const counters = emptyCounters()
    const n = linesIn(b)
    const texts: string[] = []
    const textEnds = new Int32Array(n)
    const times = new Float64Array(n)
    const visitorOf = new Int32Array(n)
    const hashes: string[] = []
    const countries: string[] = []
    const projects: string[] = []
    const indexOf = new Map<Known, number>()
    let noTime = 0
    let rows = 0
    let bytes = 0
    const referrers = createReferrerTally()
    const perProject = site === undefined ? null : new ProjectTally()
    const tally: LineTally = { counters, firstRejected: {}, projects: perProject, projectOf: site?.projectOf ?? null, referrers }
    scanLines(b, 'full', site?.mapper ?? o.mapper, tally, (outcome) => {
      if (outcome.kind !== 'event' || outcome.event.kind === 'error') return
      const text = format(outcome.event, outcome.record)
      if (text === null) {
        noTime++
        return
      }
      const time = outcome.record.time!
      const k = visitor(String(outcome.event.body.pid), format.ip, format.ua, Math.floor(time / DAY_MS))
      let v = indexOf.get(k)
      if (v === undefined) {
        indexOf.set(k, (v = hashes.length))
        hashes.push(k.hash)
        countries.push(k.country)
        projects.push(k.project)
      }
      texts.push(text)
      bytes += Buffer.byteLength(text)
      textEnds[rows] = bytes
      times[rows] = time
      visitorOf[rows] = v
      rows++
    })
    return {
      counters,
      lines: n,
      referrers,
      noTime,
      text: utf8(texts.join(''), bytes),
      textEnds: textEnds.subarray(0, rows),
      times: times.subarray(0, rows),
      visitorOf: visitorOf.subarray(0, rows),
      hashes,
      countries,
      projects,
      projectCounts: perProject === null ? null : perProject.toJSON(false),
    }
  }
}

/** A worker's batch (lines without their offsets, which rows do not use) as the line loop takes it. */
export function batchOfLines(parser: LogParser, lines: LinesIn): SessionBatch {
  const buf = Buffer.from(lines.buf.buffer, lines.buf.byteOffset, lines.buf.byteLength)
  const starts = Array.from(lines.starts)
  const contentEnds = Array.from(lines.contentEnds)
  const raw: LineBatch = { buf, base: 0, starts, contentEnds, ends: contentEnds }
  if (lines.truncated !== undefined) raw.truncated = Array.from(lines.truncated)
  return { raw, framed: null, parser, linesBefore: 0 }
}

function utf8(text: string, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes)
  Buffer.from(out.buffer).write(text)
  return out
}

/** The typed arrays of a batch, to transfer instead of copy when it is posted to another thread. */
export function rowBatchTransfers(b: RowBatch): ArrayBuffer[] {
  return [b.text.buffer, b.textEnds.buffer, b.times.buffer, b.visitorOf.buffer] as ArrayBuffer[]
}
