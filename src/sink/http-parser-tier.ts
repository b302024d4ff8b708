// Which V8 compiler runs undici's HTTP parser. llhttp is WebAssembly, compiled when the first
// connection opens: V8 starts it on its baseline compiler (Liftoff) and, once it is hot, compiles it
// again with its optimizing compiler (TurboFan) in the background. Node waits for that compile before
// the process ends (natural exit and process.exit() alike): 100-180 ms on the 2-core VM, more than a
// short cron run gains from it. With much to send the optimized parser saves ~3 µs of main-thread CPU
// per event (perf on loopback: 62 -> 58 µs per event). So `run` and `backfill` keep the parser on
// Liftoff unless they have at least OPTIMIZED_PARSER_FROM_BYTES to read; `follow`, a service, never
// does.
import { setFlagsFromString } from 'node:v8'

/** About 80k lines of 200 bytes: ~0.25 s of CPU saved on loopback against the ~0.15 s exit wait. */
export const OPTIMIZED_PARSER_FROM_BYTES = 16 * 1024 * 1024

/** Keeps WebAssembly compiled from now on (llhttp) on Liftoff; call before the first connection. */
export function keepHttpParserOnBaseline(): void {
  setFlagsFromString('--liftoff-only')
}
