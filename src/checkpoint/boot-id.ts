// The kernel's boot id: a random id chosen at every boot. A progress record that names the current
// boot id was written since the last boot, so the page cache it went to was never lost (the process
// may have been killed, the kernel did not crash and the power did not fail since).
import { readFile } from 'node:fs/promises'

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id'

/** The boot id, or null where the system does not tell it (then every record is written synced). */
export async function readBootId(file = BOOT_ID_FILE): Promise<string | null> {
  try {
    const id = (await readFile(file, 'utf8')).trim()
    return /^[0-9a-f-]{16,64}$/i.test(id) ? id : null
  } catch {
    return null
  }
}
