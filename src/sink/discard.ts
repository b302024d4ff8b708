// A sink that takes every event and sends nothing: what a dry run counts when it prints no requests
// (`backfill --via import --errors-via-api --dry-run`, whose stdout holds the summary).
import type { EventSink, SendOutcome } from './contract.js'

const ACCEPTED: SendOutcome = Object.freeze({ kind: 'accepted', status: 0, attempts: 0 }) as SendOutcome

export function createDiscardSink(): EventSink {
  return { send: () => Promise.resolve(ACCEPTED), close: () => Promise.resolve() }
}
