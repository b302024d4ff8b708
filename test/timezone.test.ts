// Times logged without an offset (HAProxy accept dates, IIS date-local/time-local, Apache %{...}t
// without %z): read in --timezone when given, else in the machine's zone; DST gaps read with the
// offset before the change, repeated hours as the earlier instant.
import { spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { combined } from '../parsers/clf.js'
import { compileApacheFormat } from '../parsers/custom-apache.js'
import { createHaproxyParser } from '../parsers/haproxy.js'
import { resolveFormat } from '../parsers/registry.js'
import { FormatError, isRejection, parserForInput, type LogParser, type ParseResult } from '../parsers/types.js'
import { checkTimeZone, createWallClock, localTimeZoneLabel } from '../parsers/util/wall-clock.js'
import { createW3cParser } from '../parsers/w3c.js'
import { repoRoot, runCli, withTempDir } from './helpers/cli.js'

const wall = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number => Date.UTC(y, mo - 1, d, h, mi, s)
const iso = (ms: number): string => new Date(ms).toISOString()

function timeOf(result: ParseResult): number | null {
  if (isRejection(result)) throw new Error(`expected a record, got rejection ${result.rejected}`)
  return result.time
}

/** Wall times in Europe/Berlin around 2026's two DST changes and on ordinary days -> the UTC instant. */
const BERLIN: ReadonlyArray<readonly [wall: readonly [number, number, number, number, number, number], utc: string]> = [
  [[2026, 11, 20, 10, 0, 0], '2026-11-20T09:00:00.000Z'], // CET
  [[2026, 7, 15, 12, 0, 0], '2026-07-15T10:00:00.000Z'], // CEST
  [[2026, 3, 29, 1, 59, 59], '2026-03-29T00:59:59.000Z'], // just before the spring change
  [[2026, 3, 29, 2, 30, 0], '2026-03-29T01:30:00.000Z'], // skipped: the offset before (= 03:30 CEST)
  [[2026, 3, 29, 3, 0, 0], '2026-03-29T01:00:00.000Z'], // CEST from here
  [[2026, 10, 25, 1, 59, 59], '2026-10-24T23:59:59.000Z'], // CEST
  [[2026, 10, 25, 2, 30, 0], '2026-10-25T00:30:00.000Z'], // repeated: the earlier (CEST)
  [[2026, 10, 25, 3, 0, 0], '2026-10-25T02:00:00.000Z'], // CET from here
]

describe('wall clock', () => {
  it('converts Europe/Berlin wall times, with DST gaps and repeated hours resolved the "compatible" way', () => {
    const clock = createWallClock('Europe/Berlin')
    for (const [[y, mo, d, h, mi, s], utc] of BERLIN) expect(iso(clock.fromWall(wall(y, mo, d, h, mi, s))), `${y}-${mo}-${d} ${h}:${mi}`).toBe(utc)
  })

  it('handles zones whose changes are not whole hours (Lord Howe: 30 minutes) and zones without DST', () => {
    const lordHowe = createWallClock('Australia/Lord_Howe')
    // 2026-10-04 02:00 LHST (+10:30) -> 02:30 LHDT (+11): 02:10 is skipped, 02:40 is after.
    expect(iso(lordHowe.fromWall(wall(2026, 10, 4, 1, 50)))).toBe('2026-10-03T15:20:00.000Z')
    expect(iso(lordHowe.fromWall(wall(2026, 10, 4, 2, 10)))).toBe('2026-10-03T15:40:00.000Z')
    expect(iso(lordHowe.fromWall(wall(2026, 10, 4, 2, 40)))).toBe('2026-10-03T15:40:00.000Z')
    // 2026-04-05 02:00 LHDT -> 01:30 LHST: 01:45 happens twice, the earlier is +11.
    expect(iso(lordHowe.fromWall(wall(2026, 4, 5, 1, 45)))).toBe('2026-04-04T14:45:00.000Z')
    expect(iso(createWallClock('Asia/Kolkata').fromWall(wall(2026, 3, 29, 2, 30)))).toBe('2026-03-28T21:00:00.000Z')
    expect(iso(createWallClock('UTC').fromWall(wall(2026, 3, 29, 2, 30)))).toBe('2026-03-29T02:30:00.000Z')
  })

  it('every instant comes back from its own wall time, or the earlier instant of a repeated wall time (property)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'America/Sao_Paulo', 'Pacific/Chatham', 'Asia/Tehran']
    const fields = { hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' } as const
    const formats = new Map(zones.map((z) => [z, new Intl.DateTimeFormat('en-US', { timeZone: z, ...fields })]))
    const clocks = new Map(zones.map((z) => [z, createWallClock(z)]))
    const wallOf = (zone: string, instant: number): number => {
      const parts = Object.fromEntries(
        formats
          .get(zone)!
          .formatToParts(instant)
          .map((p) => [p.type, p.value]),
      )
      return Date.UTC(
        Number(parts['year']),
        Number(parts['month']) - 1,
        Number(parts['day']),
        Number(parts['hour']),
        Number(parts['minute']),
        Number(parts['second']),
      )
    }
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.integer({ min: Date.UTC(2000, 0, 1) / 1000, max: Date.UTC(2040, 0, 1) / 1000 }), (zone, seconds) => {
        const instant = seconds * 1000
        const back = clocks.get(zone)!.fromWall(wallOf(zone, instant))
        expect(back).toBeLessThanOrEqual(instant)
        expect(wallOf(zone, back)).toBe(wallOf(zone, instant))
        // Earlier than the instant only inside a repeated hour: at most the size of a DST change.
        expect(instant - back).toBeLessThanOrEqual(3_600_000)
      }),
      { numRuns: 3000 },
    )
  })

  it("the machine's zone reads exactly as the Date constructor, per-hour cache included (child processes under TZ)", () => {
    const script = `
      const { createWallClock } = await import(${JSON.stringify(join(repoRoot, 'dist/parsers/util/wall-clock.js'))})
      const clock = createWallClock()
      let mismatches = 0, n = 0
      const check = (y, mo, d, h, mi, s) => {
        n++
        if (clock.fromWall(Date.UTC(y, mo, d, h, mi, s)) !== new Date(y, mo, d, h, mi, s).getTime()) mismatches++
      }
      for (const [y, mo] of [[2026, 2], [2026, 3], [2026, 9], [2026, 10]]) for (let d = 1; d <= 28; d++) for (let h = 0; h < 24; h++) for (let mi = 0; mi < 60; mi += 10) check(y, mo, d, h, mi, 59)
      let seed = 7
      const r = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
      for (let i = 0; i < 20000; i++) check(1970 + Math.floor(r() * 100), Math.floor(r() * 12), 1 + Math.floor(r() * 28), Math.floor(r() * 24), Math.floor(r() * 60), Math.floor(r() * 61))
      console.log(JSON.stringify({ zone: clock.timeZone, machine: clock.isMachineZone, n, mismatches }))`
    for (const zone of ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe']) {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, TZ: zone }, encoding: 'utf8', timeout: 30_000 })
      expect(child.stderr).toBe('')
      expect(JSON.parse(child.stdout)).toMatchObject({ zone, machine: true, mismatches: 0 })
    }
  })

  it('an unknown zone is a FormatError with a one-line message; names are matched case-insensitively', async () => {
    expect(() => checkTimeZone('Mars/Olympus_Mons')).toThrow(FormatError)
    expect(() => checkTimeZone('Mars/Olympus_Mons')).toThrow(/^unknown time zone "Mars\/Olympus_Mons": use an IANA zone name such as Europe\/Berlin/)
    expect(() => checkTimeZone('')).toThrow(FormatError)
    expect(() => createWallClock('Not/AZone')).toThrow(FormatError)
    await expect(resolveFormat('auto', { timeZone: 'Not/AZone' })).rejects.toThrow(FormatError)
    expect(checkTimeZone('europe/berlin')).toBe('Europe/Berlin')
    expect(checkTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata')
    expect(localTimeZoneLabel('Europe/Berlin')).toBe('Europe/Berlin')
    expect(localTimeZoneLabel()).toMatch(/\(the machine's zone\)$/)
  })
})

const HAPROXY_LINE = (acceptDate: string): string =>
  `Nov 20 10:00:00 lb haproxy[6801]: 203.0.113.5:55008 [${acceptDate}] ft~ bk/web1 0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 {www.example.com|Mozilla/5.0} "GET /p HTTP/1.1"`
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number): string => String(n).padStart(2, '0')

describe('parsers read times without an offset in options.timeZone', () => {
  it('HAProxy accept dates (fraction kept)', () => {
    const parser = createHaproxyParser({ timeZone: 'Europe/Berlin' })
    for (const [[y, mo, d, h, mi, s], utc] of BERLIN) {
      const line = HAPROXY_LINE(`${two(d)}/${MONTHS[mo - 1]}/${y}:${two(h)}:${two(mi)}:${two(s)}.250`)
      expect(iso(timeOf(parser.parse(Buffer.from(line)))!)).toBe(utc.replace('.000Z', '.250Z'))
    }
  })

  it('IIS date-local/time-local; date/time and a time with the #Date: directive stay UTC', () => {
    const parser = parserForInput(createW3cParser({ timeZone: 'Europe/Berlin' }))
    parser.parse(Buffer.from('#Fields: date-local time-local c-ip cs-method cs-uri-stem sc-status'))
    expect(parser.localTime).toBe(false)
    for (const [[y, mo, d, h, mi, s], utc] of BERLIN) {
      expect(iso(timeOf(parser.parse(Buffer.from(`${y}-${two(mo)}-${two(d)} ${two(h)}:${two(mi)}:${two(s)} 203.0.113.5 GET / 200`)))!)).toBe(utc)
    }
    expect(parser.localTime).toBe(true)

    const utcLayout = parserForInput(createW3cParser({ timeZone: 'Europe/Berlin' }))
    utcLayout.parse(Buffer.from('#Fields: date time c-ip cs-method cs-uri-stem sc-status'))
    expect(iso(timeOf(utcLayout.parse(Buffer.from('2026-11-20 10:00:00 203.0.113.5 GET / 200')))!)).toBe('2026-11-20T10:00:00.000Z')
    const draft = parserForInput(createW3cParser({ timeZone: 'Europe/Berlin' }))
    draft.parse(Buffer.from('#Date: 2026-11-20 00:00:00'))
    draft.parse(Buffer.from('#Fields: time c-ip cs-method cs-uri-stem sc-status'))
    expect(iso(timeOf(draft.parse(Buffer.from('10:00:00 203.0.113.5 GET / 200')))!)).toBe('2026-11-20T10:00:00.000Z')
    expect(utcLayout.localTime || draft.localTime).toBe(false)
  })

  it('Apache %{...}t without %z; with %z the logged offset wins', () => {
    const local = compileApacheFormat('%h [%{%d/%b/%Y:%H:%M:%S}t] "%r" %>s', { timeZone: 'Europe/Berlin' })
    expect(iso(timeOf(local.parse(Buffer.from('203.0.113.5 [25/Oct/2026:02:30:00] "GET / HTTP/1.1" 200')))!)).toBe('2026-10-25T00:30:00.000Z')
    const zoned = compileApacheFormat('%h [%{%d/%b/%Y:%H:%M:%S %z}t] "%r" %>s', { timeZone: 'Europe/Berlin' })
    expect(iso(timeOf(zoned.parse(Buffer.from('203.0.113.5 [25/Oct/2026:02:30:00 -0500] "GET / HTTP/1.1" 200')))!)).toBe('2026-10-25T07:30:00.000Z')
    expect(local.localTime).toBe(true)
    expect(zoned.localTime).toBe(false)
  })

  it('parsers say whether they read local times', async () => {
    expect(createHaproxyParser().localTime).toBe(true)
    expect(combined.localTime ?? false).toBe(false)
    expect(((await resolveFormat('nginx_json')) as LogParser).localTime ?? false).toBe(false)
    expect(((await resolveFormat('apache:%h %t "%r" %>s')) as LogParser).localTime).toBe(false)
  })
})

const IIS_LOCAL = [
  '#Software: Microsoft Internet Information Services 10.0',
  '#Fields: date-local time-local s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip cs(User-Agent) sc-status time-taken',
  '2026-11-20 10:00:00 192.0.2.1 GET /winter - 443 203.0.113.5 Mozilla/5.0+(X11) 200 15',
  '2026-03-29 02:30:00 192.0.2.1 GET /spring-gap - 443 203.0.113.5 Mozilla/5.0+(X11) 200 15',
  '2026-03-29 03:30:00 192.0.2.1 GET /spring-after - 443 203.0.113.5 Mozilla/5.0+(X11) 200 15',
  '2026-10-25 02:30:00 192.0.2.1 GET /autumn-repeated - 443 203.0.113.5 Mozilla/5.0+(X11) 200 15',
  '2026-10-25 03:30:00 192.0.2.1 GET /autumn-after - 443 203.0.113.5 Mozilla/5.0+(X11) 200 15',
]
const HAPROXY_LOCAL = [
  '20/Nov/2026:10:00:00.584',
  '29/Mar/2026:02:30:00.000',
  '25/Oct/2026:02:30:00.000',
  '08/Mar/2026:02:30:00.000',
  '01/Nov/2026:01:30:00.000',
].map(HAPROXY_LINE)

async function recordTimes(args: string[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const r = await runCli(['check', '--records', ...args], { env })
  expect(r.code).toBe(0)
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time?: string | null })
    .flatMap((rec) => (typeof rec.time === 'string' ? [rec.time] : []))
}

describe('check --timezone', () => {
  it('reads IIS date-local/time-local and HAProxy accept dates in the given zone, whatever the machine zone', async () => {
    await withTempDir(async (dir) => {
      const iis = join(dir, 'u_ex261120.log')
      const haproxy = join(dir, 'haproxy.log')
      await writeFile(iis, IIS_LOCAL.join('\r\n') + '\r\n')
      await writeFile(haproxy, HAPROXY_LOCAL.join('\n') + '\n')
      const env = { TZ: 'America/New_York' }
      expect(await recordTimes(['--timezone', 'Europe/Berlin', iis], env)).toEqual([
        '2026-11-20T09:00:00Z',
        '2026-03-29T01:30:00Z',
        '2026-03-29T01:30:00Z',
        '2026-10-25T00:30:00Z',
        '2026-10-25T02:30:00Z',
      ])
      expect(await recordTimes(['--timezone', 'Europe/Berlin', haproxy], env)).toEqual([
        '2026-11-20T09:00:00.584Z',
        '2026-03-29T01:30:00Z',
        '2026-10-25T00:30:00Z',
        '2026-03-08T01:30:00Z',
        '2026-11-01T00:30:00Z',
      ])
    })
  })

  it("without --timezone reads them in the machine's zone (TZ), its own DST changes included", async () => {
    await withTempDir(async (dir) => {
      const haproxy = join(dir, 'haproxy.log')
      await writeFile(haproxy, HAPROXY_LOCAL.join('\n') + '\n')
      expect(await recordTimes([haproxy], { TZ: 'America/New_York' })).toEqual([
        '2026-11-20T15:00:00.584Z',
        '2026-03-29T06:30:00Z',
        '2026-10-25T06:30:00Z',
        '2026-03-08T07:30:00Z', // skipped 02:30: EST's offset (= 03:30 EDT)
        '2026-11-01T05:30:00Z', // repeated 01:30: the earlier (EDT)
      ])
      expect(await recordTimes([haproxy], { TZ: 'UTC' })).toEqual([
        '2026-11-20T10:00:00.584Z',
        '2026-03-29T02:30:00Z',
        '2026-10-25T02:30:00Z',
        '2026-03-08T02:30:00Z',
        '2026-11-01T01:30:00Z',
      ])
    })
  })

  it("says which zone it read local times in (the machine's, or --timezone), and nothing for logs with offsets", async () => {
    await withTempDir(async (dir) => {
      const haproxy = join(dir, 'haproxy.log')
      await writeFile(haproxy, HAPROXY_LOCAL.join('\n') + '\n')
      const machine = await runCli(['check', haproxy], { env: { TZ: 'America/New_York' } })
      expect(machine.stdout).toContain("logged without an offset, read in America/New_York (the machine's zone); --timezone to change")
      const given = await runCli(['check', '--json', '--timezone', 'europe/berlin', haproxy])
      expect((JSON.parse(given.stdout) as { files: { timeZone?: string }[] }).files[0]?.timeZone).toBe('Europe/Berlin')
      const withOffsets = await runCli(['check', '--json', join(repoRoot, 'fixtures/sample.access.log')])
      expect((JSON.parse(withOffsets.stdout) as { files: { timeZone?: string }[] }).files[0]).not.toHaveProperty('timeZone')
    })
  })

  it('an unknown zone is a usage error (exit 2) with one line', async () => {
    const r = await runCli(['check', '--timezone', 'Mars/Olympus_Mons', join(repoRoot, 'fixtures/sample.access.log')])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')[0]).toMatch(/--timezone: unknown time zone "Mars\/Olympus_Mons"/)
  })
})
