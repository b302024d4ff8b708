// `<state-dir>/import-sessions.json`: the sessions a backfill left open, for the next backfill of the
// same log (a visit spanning the two runs keeps one session). Bounded: per project the
// MAX_CARRIED_SESSIONS most recent sessions that the input can still extend (~60 bytes each).
// Crash safety without a common write with state.json: the file is saved (atomically, mode 0600)
// after the ledger and before the checkpoints, and holds two slots, the state the run started from
// and the new one, each with the checkpoints (file id, offset) it belongs to. A run restores the
// newest slot whose checkpoints are the store's: after a crash between the two saves that is the
// old slot, so the rerun reads the same lines with the same sessions and writes the same rows
// (the ledger knows them by content); a later `run` moving a checkpoint retires the slot.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../checkpoint/atomic.js'
import type { CheckpointStore, FileCheckpoint } from '../checkpoint/store.js'
import type { CarriedSession } from './sessions.js'

export const SESSION_STATE_FILE = 'import-sessions.json'
/** Sessions carried per project: a site with more visitors in 30 minutes splits the oldest ones. */
export const MAX_CARRIED_SESSIONS = 50_000

/** Per group ('' without sites, else the project id): [visitor key, id after the key, first, last]. */
type Groups = Record<string, [string, string, number, number][]>

export interface SessionSlot {
  checkpoints: [string, number][]
  groups: Groups
}

interface SessionStateFile {
  version: 1
  slots: SessionSlot[]
}

/** The slot that belongs to the store's checkpoints, or null (none, or the file is unreadable). */
export async function loadSessionSlot(stateDir: string, store: CheckpointStore): Promise<SessionSlot | null> {
  let doc: SessionStateFile
  try {
    doc = JSON.parse(await readFile(join(stateDir, SESSION_STATE_FILE), 'utf8')) as SessionStateFile
  } catch {
    return null // none yet; a damaged file only costs split sessions
  }
  if (doc?.version !== 1 || !Array.isArray(doc.slots)) return null
  const current = (slot: SessionSlot) => Array.isArray(slot?.checkpoints) && slot.checkpoints.every(([id, acked]) => store.get(id)?.acked === acked)
  return doc.slots.filter(current).at(-1) ?? null
}

export function sessionsOf(slot: SessionSlot | null): Record<string, CarriedSession[]> {
  const out: Record<string, CarriedSession[]> = {}
  for (const [group, list] of Object.entries(slot?.groups ?? {}))
    out[group] = list.map(([key, suffix, first, last]) => ({ key, id: key + suffix, first, last }))
  return out
}

export function slotOf(checkpoints: readonly FileCheckpoint[], groups: Record<string, readonly CarriedSession[]>): SessionSlot {
  const encoded: Groups = {}
  for (const [group, list] of Object.entries(groups)) encoded[group] = list.map((c) => [c.key, c.id.slice(c.key.length), c.first, c.last])
  return { checkpoints: checkpoints.map((cp) => [cp.id, cp.acked]), groups: encoded }
}

/** Saves `next` beside `previous` (the slot this run started from). Nothing read: nothing to save. */
export async function saveSessionSlot(stateDir: string, previous: SessionSlot | null, next: SessionSlot): Promise<void> {
  if (next.checkpoints.length === 0) return
  const doc: SessionStateFile = { version: 1, slots: previous === null ? [next] : [previous, next] }
  await writeFileAtomic(join(stateDir, SESSION_STATE_FILE), JSON.stringify(doc) + '\n', { mode: 0o600 })
}
