// Counts per Swetrix project when one run sends to several (many sites on one server): the
// `projects` part of the summary. Lines are counted by the project they were routed to; events
// carry theirs in the body's `pid`. Lines skipped as `no-site` and rejected lines belong to no
// project, so: sum over projects of events = the files' events, of skipped[r] = the files'
// skipped[r] for every reason but `no-site`, of delivery = the run's delivery (retries: those of
// events that got an answer).
import type { LineOutcome } from '../pipeline/classify.js'
import { mayHaveReachedServer, SendStoppedError } from '../sink/contract.js'
import type { EventSink, SendOutcome } from '../sink/contract.js'
import type { OutgoingEvent } from '../types.js'
import { SKIP_NO_SITE } from '../mapper/sites.js'
import { formatDelivery, type DeliveryTotals } from './report.js'
import { safeText } from './safe-text.js'
import { formatCount } from './count.js'

export interface ProjectCounts {
  events: { pageview: number; error: number; custom: number }
  skipped: Record<string, number>
  delivery: DeliveryTotals
}

/** A skipped record's project (src/mapper/sites.ts Router). */
export type ProjectOf = (record: { host: string | null }) => string | null

const n = formatCount

export class ProjectTally {
  private readonly byPid = new Map<string, ProjectCounts>()

  /** `known`: projects listed even when nothing went to them (the configured sites, the default). */
  constructor(known: readonly string[] = []) {
    for (const pid of known) this.counts(pid)
  }

  private counts(pid: string): ProjectCounts {
    let c = this.byPid.get(pid)
    if (c === undefined) {
      c = {
        events: { pageview: 0, error: 0, custom: 0 },
        skipped: {},
        delivery: { sent: 0, accepted: 0, botIgnored: 0, deadLettered: 0, uncertain: 0, retries: 0, unansweredRetries: 0 },
      }
      this.byPid.set(pid, c)
    }
    return c
  }

  /** One classified line of a file whose records are routed by `projectOf`. */
  line(outcome: LineOutcome, projectOf: ProjectOf): void {
    if (outcome.kind === 'event') {
      this.counts(String(outcome.event.body.pid)).events[outcome.event.kind]++
    } else if (outcome.kind === 'skipped' && outcome.reason !== SKIP_NO_SITE) {
      const pid = projectOf(outcome.record)
      if (pid === null) return
      const skipped = this.counts(pid).skipped
      skipped[outcome.reason] = (skipped[outcome.reason] ?? 0) + 1
    }
  }

  /** An event found in flight after a crash (reported uncertain by this run). */
  uncertain(event: OutgoingEvent): void {
    this.counts(String(event.body.pid)).delivery.uncertain++
  }

  /** The same sink, counting each send and its outcome for the event's project. */
  wrapSink(sink: EventSink): EventSink {
    return {
      send: async (ev, signal, control) => {
        const d = this.counts(String(ev.body.pid)).delivery
        d.sent++
        let outcome: SendOutcome
        try {
          outcome = await sink.send(ev, signal, control)
        } catch (err) {
          // As the delivery engine decides: uncertain only when a request may have reached the server.
          if (mayHaveReachedServer(err)) d.uncertain++
          if (err instanceof SendStoppedError) d.unansweredRetries = (d.unansweredRetries ?? 0) + err.unansweredRetries
          throw err
        }
        if (outcome.attempts > 1) d.retries += outcome.attempts - 1
        if (outcome.unansweredRetries) d.unansweredRetries = (d.unansweredRetries ?? 0) + outcome.unansweredRetries
        if (outcome.kind === 'accepted') d.accepted++
        else if (outcome.kind === 'bot') d.botIgnored++
        else if (outcome.kind === 'unanswered') d.uncertain++
        else d.deadLettered++
        return outcome
      },
      close: () => sink.close(),
    }
  }

  /** Adds counts taken elsewhere (a `check` worker thread). */
  add(from: Record<string, Partial<ProjectCounts>>): void {
    for (const [pid, c] of Object.entries(from)) {
      const into = this.counts(pid)
      for (const k of ['pageview', 'error', 'custom'] as const) into.events[k] += c.events?.[k] ?? 0
      for (const [r, v] of Object.entries(c.skipped ?? {})) into.skipped[r] = (into.skipped[r] ?? 0) + v
      for (const [k, v] of Object.entries(c.delivery ?? {})) into.delivery[k as keyof DeliveryTotals] = (into.delivery[k as keyof DeliveryTotals] ?? 0) + v
    }
  }

  /** `projects` of the JSON summary; `check` leaves out `delivery` (it sends nothing). */
  toJSON(withDelivery = true): Record<string, ProjectCounts | Omit<ProjectCounts, 'delivery'>> {
    if (withDelivery) return Object.fromEntries(this.byPid)
    return Object.fromEntries([...this.byPid].map(([pid, { delivery: _d, ...rest }]) => [pid, rest]))
  }

  /** The human summary: one block per project; `sourceOf` names the site entries mapping to it. */
  format(sourceOf: (pid: string) => string | null, withDelivery: boolean): string {
    const blocks: string[] = []
    for (const [pid, c] of this.byPid) {
      const source = sourceOf(pid)
      const skipped = Object.entries(c.skipped)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${safeText(k)} ${n(v)}`)
      const lines = [`project ${safeText(pid)}${source ? `  (${safeText(source)})` : ''}`]
      lines.push(`  events    pageview ${n(c.events.pageview)}, error ${n(c.events.error)}, custom ${n(c.events.custom)}`)
      lines.push(`  skipped   ${skipped.length ? skipped.join(', ') : 'none'}`)
      if (withDelivery) lines.push(`  ${formatDelivery(c.delivery)}`)
      blocks.push(lines.join('\n'))
    }
    return blocks.join('\n')
  }
}
