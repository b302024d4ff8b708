// The state directory's import salt: session ids of import rows are hashes keyed by it, so a rerun
// or a later backfill gives a visit the same id. Made once (random), kept in `<state-dir>/import-salt`.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../checkpoint/atomic.js'
import { UsageError } from '../errors.js'

const SALT_FILE = 'import-salt'

export async function loadSalt(stateDir: string): Promise<string> {
  const file = join(stateDir, SALT_FILE)
  try {
    const s = (await readFile(file, 'utf8')).trim()
    if (/^[0-9a-f]{64}$/.test(s)) return s
    throw new UsageError(`${file}: damaged; move it aside (session ids then change for later imports)`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const salt = randomSalt()
  await writeFileAtomic(file, salt + '\n')
  return salt
}

/** A salt for a dry run (nothing is kept). */
export function randomSalt(): string {
  return randomBytes(32).toString('hex')
}
