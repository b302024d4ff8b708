// The order a backfill reads its inputs in: oldest first by content, so the sessions see a rotated
// set's rows in time order whatever the names say.
import { basename } from 'node:path'
import { parseRotation } from '../source/paths.js'
import { firstRecordTime } from '../pipeline/first-time.js'

export interface PlannedInput {
  path: string
  /** A rotated file: read to its end, then complete. */
  finished: boolean
}

/** Inputs oldest first by the time of each file's first line; names (natural rotation order from
 *  expandInputs) break ties and place files without a readable time. */
export async function oldestFirst(paths: readonly string[], parts: Parameters<typeof firstRecordTime>[1]): Promise<PlannedInput[]> {
  const plan = []
  for (const [index, path] of paths.entries()) {
    plan.push({ path, index, finished: parseRotation(basename(path)).rotation.kind !== 'live', first: await firstRecordTime(path, parts) })
  }
  plan.sort((a, b) => (a.first !== null && b.first !== null && a.first !== b.first ? a.first - b.first : a.index - b.index))
  return plan.map(({ path, finished }) => ({ path, finished }))
}
