// SIGINT/SIGTERM for every command: the first asks for a clean stop (in-flight requests finish,
// checkpoints are written, exit 0); the second stops at once (exit 130: the journal then marks what
// was in flight as uncertain, nothing is lost). SIGHUP only for commands that take it (follow).
export interface StopSignals {
  readonly signal: AbortSignal
  /** Stops as the first signal would (a failure elsewhere). */
  stop(): void
  dispose(): void
}

export function stopOnSignals(message: string, note: (text: string) => void, onHup?: () => void): StopSignals {
  const stopper = new AbortController()
  const onSignal = (): void => {
    if (stopper.signal.aborted) process.exit(130)
    note(message)
    stopper.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  if (onHup) process.on('SIGHUP', onHup)
  return {
    signal: stopper.signal,
    stop: () => stopper.abort(),
    dispose() {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      if (onHup) process.off('SIGHUP', onHup)
    },
  }
}
