// "Most referrers are the site itself": when no host tells the mapper which site a line belongs to,
// the site's own pages are sent as referrers and become the dashboard's top referrer. A tally over
// the mapped events spots that and gives one line naming the option that fixes it. Plain data, so
// tallies from worker threads can be merged.
import type { OutgoingEvent } from '../types.js'
import { formatCount } from '../output/count.js'
import { urlHost } from './filters.js'

export interface ReferrerTally {
  /** Events with a referrer, of lines whose site host was not known. */
  referrers: number
  /** Referrer host (normalised, `www.` removed) -> events; at most MAX_HOSTS hosts. */
  byHost: Map<string, number>
}

/** Enough distinct hosts for a majority to be among them (a host that holds most referrers is met
 *  long before this many others). */
const MAX_HOSTS = 10_000
/** Fewer referrers than this say nothing. */
const MIN_REFERRERS = 20

export function createReferrerTally(): ReferrerTally {
  return { referrers: 0, byHost: new Map() }
}

/** Counts the event's referrer host, unless the mapper knew the line's site host (the event then
 *  has an `Origin`, and the site's own referrers are already dropped). */
export function observeReferrer(t: ReferrerTally, event: OutgoingEvent): void {
  if (event.headers.Origin !== undefined) return
  const ref = event.body.ref
  if (typeof ref === 'string') countReferrer(t, ref)
}

/** The same count from a parsed record, for counting without building the request (`check`):
 *  `siteHostKnown` when the options name the site's host for every line. */
export function observeRecordReferrer(t: ReferrerTally, record: { host: string | null; referrer: string | null }, siteHostKnown: boolean): void {
  if (siteHostKnown || (record.host !== null && record.host !== '' && record.host !== '-')) return
  if (record.referrer !== null) countReferrer(t, record.referrer)
}

function countReferrer(t: ReferrerTally, ref: string): void {
  const host = urlHost(ref)
  if (host === null) return
  t.referrers++
  addHost(t, host, 1)
}

function addHost(t: ReferrerTally, host: string, n: number): void {
  const known = t.byHost.get(host)
  if (known !== undefined) t.byHost.set(host, known + n)
  else if (t.byHost.size < MAX_HOSTS) t.byHost.set(host, n)
}

export function mergeReferrerTally(into: ReferrerTally, from: ReferrerTally): void {
  into.referrers += from.referrers
  for (const [host, n] of from.byHost) addHost(into, host, n)
}

/** One line when more than half of the referrers share one host, else null. `command` picks the
 *  option to name: `backfill` has `--hostname`; every command has `--host` and `--site`. */
export function selfReferrerHint(t: ReferrerTally, command: 'check' | 'run' | 'backfill' | 'follow'): string | null {
  if (t.referrers < MIN_REFERRERS) return null
  let top: string | null = null
  let most = 0
  for (const [host, n] of t.byHost)
    if (n > most) {
      top = host
      most = n
    }
  if (top === null || most * 2 <= t.referrers) return null
  const option = command === 'backfill' ? `--hostname ${top}` : `--host ${top}`
  return (
    `${formatCount(most)} of ${formatCount(t.referrers)} referrers are pages of ${top}: if that is this site, pass ${option} ` +
    `(or --site ${top}=PROJECT) so its own pages are not counted as referrers`
  )
}
