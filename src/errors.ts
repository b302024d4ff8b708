// Exit codes (documented in the README) and the errors that map to them.
export const EXIT_OK = 0
export const EXIT_DELIVERY_FAILED = 1
export const EXIT_USAGE = 2
export const EXIT_LOCKED = 75

/** A usage, input or configuration problem: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}
