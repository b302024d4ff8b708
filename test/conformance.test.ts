// Peer conformance: our parse of each input file of ../shared/corpus/conformance, written as
// `--records` objects, compared field by field with what elastic/beats, Matomo and CrowdSec expect
// (rules: conformance/README.md "How a checker should compare").
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { BUILTIN_FORMAT_NAMES, resolveFormat } from '../parsers/registry.js'
import { parserForInput, type LogParser } from '../parsers/types.js'
import { recordJson } from '../src/record-json.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const conformanceDir = join(resolve(repoRoot, '../shared/corpus'), 'conformance')
const haveCorpus = existsSync(join(conformanceDir, 'index.json'))

interface IndexEntry {
  dir: string
  file: string
  format: string
}
type ExpectedLine = Record<string, unknown> & { line: number; valid: boolean; debatable?: string[] }
interface Mismatch {
  set: string
  line: number
  field: string
  expected: unknown
  actual: unknown
}

/** Splits exactly as the reader does: on `\n`, a trailing `\r` stripped, a final piece without a
 *  newline counted as a line. */
function splitLines(buf: Buffer): Array<{ text: Buffer; offset: number }> {
  const lines: Array<{ text: Buffer; offset: number }> = []
  let start = 0
  for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, start)) {
    const end = nl > start && buf[nl - 1] === 0x0d ? nl - 1 : nl
    lines.push({ text: buf.subarray(start, end), offset: start })
    start = nl + 1
  }
  if (start < buf.length) {
    const end = buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length
    lines.push({ text: buf.subarray(start, end), offset: start })
  }
  return lines
}

/** An ISO 8601 UTC instant in microseconds, and the size of one unit of its last written digit. */
function instant(iso: string): { micros: number; unit: number } | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(iso)
  if (m === null) return null
  const seconds = Date.parse(m[1] + 'Z') / 1000
  const digits = m[2] ?? ''
  const fraction = digits === '' ? 0 : Number('0.' + digits)
  return { micros: seconds * 1e6 + Math.round(fraction * 1e6 * 1000) / 1000, unit: 10 ** (6 - digits.length) }
}

function sameValue(field: string, expected: unknown, actual: unknown): boolean {
  if (field === 'time' && typeof expected === 'string') {
    if (typeof actual !== 'string') return false
    const e = instant(expected)
    const a = instant(actual)
    return e !== null && a !== null && Math.abs(e.micros - a.micros) <= e.unit + 1e-6
  }
  return Object.is(expected, actual ?? null)
}

/** A value for the summary, cut to one readable line. */
function short(v: unknown): string {
  const text = JSON.stringify(v) ?? 'undefined'
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** Sets whose format is a definition rather than a built-in name. */
const FORMAT_SPECS: Readonly<Record<string, string>> = {
  // mod_ssl's request log, as beats' apache module reads it.
  apache_ssl_request: 'apache:[%t] %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x "%r" %b',
}

const SKIPPED_KEYS = new Set(['line', 'valid', 'debatable', 'note'])
const debatableMismatches: Mismatch[] = []
const unsupported = new Set<string>()

const index: IndexEntry[] = haveCorpus ? (JSON.parse(readFileSync(join(conformanceDir, 'index.json'), 'utf8')) as IndexEntry[]) : []

describe.skipIf(!haveCorpus)('peer conformance (../shared/corpus/conformance)', () => {
  afterAll(() => {
    if (unsupported.size > 0) console.log(`conformance: skipped formats we do not support: ${[...unsupported].join(', ')}`)
    if (debatableMismatches.length === 0) return
    const lines = debatableMismatches.map((m) => `  ${m.set} line ${m.line} ${m.field}: expected ${short(m.expected)}, got ${short(m.actual)}`)
    console.log(`conformance: ${debatableMismatches.length} debatable field(s) differ (reported, not failing):\n${lines.join('\n')}`)
  })

  for (const entry of index) {
    const supported = (BUILTIN_FORMAT_NAMES as readonly string[]).includes(entry.format) || FORMAT_SPECS[entry.format] !== undefined
    const bz2 = entry.file.endsWith('.bz2')
    if (!supported) unsupported.add(entry.format)
    const title = `${entry.dir} (${entry.format})`
    if (!supported || bz2) {
      it.skip(`${title}${bz2 ? ' - bzip2 input, not read by the tool' : ' - format not supported'}`, () => {})
      continue
    }
    it(title, async () => {
      const setDir = join(conformanceDir, entry.dir)
      const expected = JSON.parse(readFileSync(join(setDir, 'expected.json'), 'utf8')) as {
        file_lines: number
        lines: ExpectedLine[]
      }
      let input = readFileSync(join(setDir, entry.file))
      if (input[0] === 0x1f && input[1] === 0x8b) input = gunzipSync(input)
      const lines = splitLines(input)
      expect(lines.length, 'lines as the reader splits them').toBe(expected.file_lines)
      // One parser instance per file, fed every line in order, as check does (W3C reads its layout
      // from the file's own #Fields: lines).
      const parser = parserForInput((await resolveFormat(FORMAT_SPECS[entry.format] ?? entry.format)) as LogParser)
      const parsed = lines.map((l) => parser.parse(l.text))

      const failures: Mismatch[] = []
      for (const want of expected.lines) {
        const got = lines[want.line - 1]
        if (got === undefined) {
          failures.push({ set: entry.dir, line: want.line, field: '(line missing)', expected: 'a line', actual: null })
          continue
        }
        const ours = recordJson(parsed[want.line - 1]!, want.line, got.offset)
        if ((ours['valid'] ?? true) !== want.valid) {
          const detail = ours['valid'] === false ? `rejected: ${String(ours['reason'])}` : 'accepted'
          const mismatch = { set: entry.dir, line: want.line, field: 'valid', expected: want.valid, actual: detail }
          // A set may mark validity itself debatable (an ELB TCP-listener entry): reported, not failing.
          if (want.debatable?.includes('valid') === true) debatableMismatches.push(mismatch)
          else failures.push(mismatch)
          continue
        }
        if (!want.valid) continue
        const debatable = new Set(want.debatable ?? [])
        for (const [field, value] of Object.entries(want)) {
          if (SKIPPED_KEYS.has(field)) continue
          if (sameValue(field, value, ours[field])) continue
          const mismatch = { set: entry.dir, line: want.line, field, expected: value, actual: ours[field] ?? null }
          if (debatable.has(field)) debatableMismatches.push(mismatch)
          else failures.push(mismatch)
        }
      }
      const report = failures.map((m) => `line ${m.line} ${m.field}: expected ${JSON.stringify(m.expected)}, got ${JSON.stringify(m.actual)}`)
      expect(report, `${failures.length} non-debatable mismatch(es) against ${entry.dir}/expected.json`).toEqual([])
    })
  }
})

describe.skipIf(haveCorpus)('peer conformance', () => {
  it.skip(`skipped: no conformance corpus at ${conformanceDir}`, () => {})
})
