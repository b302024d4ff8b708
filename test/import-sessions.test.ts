// Sessions as Swetrix forms them (reference §9): same IP + User-Agent, same UTC day, a gap of
// more than 1800 s starts a new one. Checked against an independent computation on shuffled input.
import { describe, expect, it } from 'vitest'
import { DAY_MS, DEFAULT_MAX_BUFFERED, Sessionizer, visitorHash } from '../src/import/sessions.js'

interface Row {
  time: number
  ip: string
  ua: string
  tag: string
}

/** A Sessionizer fed rows as the import feeds it: a handle per row, its visitor and salted hash. */
function sessionsFor(salt: string, o: { reorderMs?: number; maxBuffered?: number } = {}) {
  const rows: Row[] = []
  const out: { tag: string; time: number; id: string }[] = []
  const s = new Sessionizer({
    ...o,
    visitorHash: (h) => visitorHash(salt, rows[h]!.ip, rows[h]!.ua, Math.floor(rows[h]!.time / DAY_MS)),
    emit: (h, id) => out.push({ tag: rows[h]!.tag, time: rows[h]!.time, id }),
  })
  const push = (time: number, ip: string, ua: string, tag: string) => s.push(time, rows.push({ time, ip, ua, tag }) - 1)
  return { s, out, push }
}

function runSessions(rows: Row[], reorderMs?: number) {
  const { s, out, push } = sessionsFor('test-salt', { reorderMs })
  for (const r of rows) push(r.time, r.ip, r.ua, r.tag)
  s.flush()
  return { out, stats: s.stats, sessionizer: s }
}

/** The rule written out plainly: sort each visitor's rows by time, split on gap > 1800 s or a new UTC day. */
function referenceSessions(rows: Row[]): Map<string, number> {
  const byVisitor = new Map<string, Row[]>()
  for (const r of rows) {
    const k = `${r.ip}|${r.ua}`
    byVisitor.set(k, [...(byVisitor.get(k) ?? []), r])
  }
  const sessionOf = new Map<string, number>()
  let n = 0
  for (const list of byVisitor.values()) {
    list.sort((a, b) => a.time - b.time)
    let prev: Row | null = null
    for (const r of list) {
      const newDay = prev !== null && new Date(prev.time).toISOString().slice(0, 10) !== new Date(r.time).toISOString().slice(0, 10)
      if (prev === null || newDay || r.time - prev.time > 1800_000) n++
      sessionOf.set(r.tag, n)
      prev = r
    }
  }
  return sessionOf
}

/** Same partition: two rows share a session in one iff they do in the other. */
function expectSamePartition(ids: Map<string, string>, ref: Map<string, number>) {
  const a = new Map<string, string>() // our id -> reference session seen with it
  const b = new Map<number, string>()
  for (const [tag, id] of ids) {
    const r = ref.get(tag)!
    if (a.has(id)) expect(a.get(id), `row ${tag}`).toBe(String(r))
    else a.set(id, String(r))
    if (b.has(r)) expect(b.get(r), `row ${tag}`).toBe(id)
    else b.set(r, id)
  }
}

const T0 = Date.UTC(2026, 10, 1, 10, 0, 0)
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'

describe('sessions', () => {
  it('keeps a session over a gap of exactly 30 minutes and splits after more', () => {
    // Swetrix's session key lives 1800 s after each event and expires only once that is passed.
    const rows: Row[] = [
      { time: T0, ip: '192.0.2.1', ua: UA, tag: 'a' },
      { time: T0 + 1800_000, ip: '192.0.2.1', ua: UA, tag: 'b' }, // exactly 30:00 after a: same
      { time: T0 + 1800_000 + 1801_000, ip: '192.0.2.1', ua: UA, tag: 'c' }, // 30:01 after b: new
      { time: T0 + 2 * 1800_000 + 1000, ip: '192.0.2.1', ua: UA, tag: 'd' }, // 29:59 after c: same
    ]
    const { out, stats } = runSessions(rows)
    const id = Object.fromEntries(out.map((o) => [o.tag, o.id]))
    expect(id.a).toBe(id.b)
    expect(id.c).not.toBe(id.b)
    expect(id.d).toBe(id.c)
    expect(stats.sessions).toBe(2)
  })

  it('applies the same 30-minute bound to a row that arrives late', () => {
    // Rows leave the buffer once more than maxBuffered wait; a row older than the ones gone is late
    // and joins a remembered session within 1800 s of it (inclusive).
    const { s, out, push } = sessionsFor('test-salt', { maxBuffered: 1 })
    push(T0 + 3600_000, '192.0.2.1', UA, 'a')
    push(T0 + 3600_000, '192.0.2.2', UA, 'b')
    for (let i = 1; i <= 3; i++) push(T0 + 3600_000 + i * 1000, '192.0.2.9', UA, `x${i}`)
    push(T0 + 1800_000, '192.0.2.1', UA, 'late-exact') // exactly 30:00 before a: joins a's session
    push(T0 + 1799_000, '192.0.2.2', UA, 'late-over') // 30:01 before b: a session of its own
    s.flush()
    const id = Object.fromEntries(out.map((o) => [o.tag, o.id]))
    expect(s.stats.late).toBe(2)
    expect(id['late-exact']).toBe(id.a)
    expect(id['late-over']).not.toBe(id.b)
  })

  it('splits at UTC midnight, and keeps IPs and User-Agents apart', () => {
    const mid = Date.UTC(2026, 10, 2)
    const rows: Row[] = [
      { time: mid - 60_000, ip: '192.0.2.1', ua: UA, tag: 'before' },
      { time: mid + 60_000, ip: '192.0.2.1', ua: UA, tag: 'after' },
      { time: mid + 61_000, ip: '192.0.2.2', ua: UA, tag: 'other-ip' },
      { time: mid + 62_000, ip: '192.0.2.1', ua: `${UA} X`, tag: 'other-ua' },
    ]
    const { out } = runSessions(rows)
    const ids = new Set(out.map((o) => o.id))
    expect(ids.size).toBe(4)
  })

  it('places out-of-order rows where they belong', () => {
    // b is logged after c (a slow request): in time order a, b, c are one session (gaps 20 min);
    // read in file order without reordering, a -> c would be a 40 min gap.
    const rows: Row[] = [
      { time: T0, ip: '192.0.2.1', ua: UA, tag: 'a' },
      { time: T0 + 40 * 60_000, ip: '192.0.2.1', ua: UA, tag: 'c' },
      { time: T0 + 20 * 60_000, ip: '192.0.2.1', ua: UA, tag: 'b' },
    ]
    const { out } = runSessions(rows, 30 * 60_000)
    expect(out.map((o) => o.tag)).toEqual(['a', 'b', 'c'])
    expect(new Set(out.map((o) => o.id)).size).toBe(1)
  })

  it('agrees with an independent computation of the rule on shuffled input', () => {
    let seed = 7
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const rows: Row[] = []
    let t = Date.UTC(2026, 10, 1, 22, 0, 0)
    for (let i = 0; i < 20_000; i++) {
      t += Math.floor(rnd() * 4000) // spans several UTC midnights
      rows.push({ time: t, ip: `198.51.100.${1 + Math.floor(rnd() * 40)}`, ua: rnd() < 0.5 ? UA : `${UA} B`, tag: `r${i}` })
    }
    // Disorder as servers produce it (each row moved up to 4 minutes later in the file), and one
    // block of rows logged hours late (a merged log).
    const shuffled = rows
      .map((r) => ({ r, key: r.time + rnd() * 240_000 }))
      .sort((a, b) => a.key - b.key)
      .map((x) => x.r)
    shuffled.splice(8500, 0, ...shuffled.splice(3000, 500)) // ~6,000 rows (~3 h) late
    const { out, stats } = runSessions(shuffled)
    expect(stats.late).toBe(0)
    expect(out).toHaveLength(rows.length)
    expectSamePartition(new Map(out.map((o) => [o.tag, o.id])), referenceSessions(rows))
    // Emitted in time order.
    for (let i = 1; i < out.length; i++) expect(out[i]!.time).toBeGreaterThanOrEqual(out[i - 1]!.time)
  })

  it('forgets visitors the input has moved past (bounded memory)', () => {
    const { s, push } = sessionsFor('s')
    let maxRemembered = 0
    for (let i = 0; i < 100_000; i++) {
      // a new visitor every second for ~28 hours
      push(T0 + i * 1000, `2001:db8::${i.toString(16)}`, UA, 'x')
      maxRemembered = Math.max(maxRemembered, s.remembered)
    }
    // The reorder buffer, 30 minutes of visitors and one sweep interval: thousands, not 100,000.
    expect(maxRemembered).toBeLessThan(DEFAULT_MAX_BUFFERED + 1800 + 4096 + 1)
    expect(s.buffered).toBeLessThanOrEqual(DEFAULT_MAX_BUFFERED)
  })

  it('ids are salted: no IP or User-Agent in them, and another salt gives other ids', () => {
    const rows: Row[] = [{ time: T0, ip: '192.0.2.1', ua: UA, tag: 'a' }]
    const a = runSessions(rows).out[0]!.id
    const other = sessionsFor('another')
    other.push(T0, '192.0.2.1', UA, 'a')
    other.s.flush()
    expect(a).toMatch(/^[0-9a-z]+$/)
    expect(a).not.toContain('192')
    expect(other.out[0]!.id).not.toBe(a)
  })
})
