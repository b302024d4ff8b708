// Exit codes (documented in the README) and the errors that map to them.
export const EXIT_OK = 0
export const EXIT_DELIVERY_FAILED = 1
export const EXIT_USAGE = 2
/** The state directory could not be written for a cause that clears (no space, quota, I/O error, a
 *  file system turned read-only during a run): retry later (sysexits' EX_IOERR). */
export const EXIT_STATE_UNWRITABLE = 74
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

/** When a state-dir write failed: before anything was sent (lock, state dir), or during a run. */
export type StateWritePhase = 'start' | 'run'

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EEXIST: 'file exists',
}

/**
 * A write to the state directory failed (journal, lease, state.json, lock file). One line naming the
 * directory, the cause and what to do. `transient`: the cause clears without changing the command
 * (space freed, disk repaired), so a retry later is right; otherwise it is configuration (exit 2).
 * EACCES/EPERM are always configuration (the user or the directory is wrong); EROFS at start is too
 * (a --state-dir on a read-only mount, systemd's ProtectSystem without StateDirectory=), while EROFS
 * during a run means the file system was remounted read-only after errors.
 */
export class StateWriteError extends Error {
  override readonly name = 'StateWriteError'
  readonly transient: boolean

  constructor(
    readonly dir: string,
    readonly code: string,
    readonly phase: StateWritePhase,
    action: string,
    options?: { cause?: unknown },
  ) {
    super(`state directory ${dir}: ${ERRNO_TEXT[code] ?? 'cannot write'} (${code}) while ${action}; ${consequence(phase)}; ${remedy(code, phase)}`, options)
    this.transient = code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || (phase === 'run' && code !== 'EACCES' && code !== 'EPERM')
  }
}

function consequence(phase: StateWritePhase): string {
  return phase === 'start' ? 'nothing was sent' : 'nothing more is sent until progress can be recorded'
}

function remedy(code: string, phase: StateWritePhase): string {
  switch (code) {
    case 'ENOSPC':
      return 'free space and run again'
    case 'EDQUOT':
      return 'free space or raise the quota, and run again'
    case 'EIO':
      return 'check the disk (dmesg) and run again'
    case 'EROFS':
      return phase === 'start'
        ? 'choose a --state-dir on a writable file system (systemd: StateDirectory=)'
        : 'it was remounted read-only (after disk errors?): repair it, remount it read-write and run again'
    case 'EACCES':
    case 'EPERM':
      return 'make it writable by the user swetrix-ingest runs as, or choose another --state-dir'
    default:
      return 'check the directory and run again'
  }
}

/** `err` as a StateWriteError when it is a file-system error (an errno code), else unchanged. */
export function asStateWriteError(err: unknown, dir: string, phase: StateWritePhase, action: string): unknown {
  if (err instanceof StateWriteError) return err
  const code = (err as NodeJS.ErrnoException | null)?.code
  if (typeof code !== 'string' || !/^E[A-Z0-9]+$/.test(code)) return err
  return new StateWriteError(dir, code, phase, action, { cause: err })
}
