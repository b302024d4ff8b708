// Exit codes (documented in the README) and the errors that map to them.
export const EXIT_OK = 0
export const EXIT_DELIVERY_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_LOCKED = 75

/** A usage, input or configuration problem: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A file system error a user can fix (a missing or unreadable input) as a one-line UsageError. */
export function asUsage(err: unknown): never {
  const e = err as NodeJS.ErrnoException
  if (e?.name === 'InputError' || e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') throw new UsageError(e.message)
  throw err
}
