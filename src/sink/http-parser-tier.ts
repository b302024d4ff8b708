// Which V8 compiler runs undici's HTTP parser. llhttp is WebAssembly, compiled when the first
// connection opens: V8 starts it on its baseline compiler (Liftoff) and, once it is hot, compiles it
// again with its optimizing compiler (TurboFan) in the background. Node waits for that compile before
// the process ends (natural exit and process.exit() alike), longer than a short cron run gains from
// it, while with much to send the optimized parser saves main-thread CPU on every event. So `run`
// and `backfill` keep the parser on Liftoff unless they have at least OPTIMIZED_PARSER_FROM_BYTES to
// read; `follow`, a service, never does.
import { setFlagsFromString } from 'node:v8'

/** About 80k lines of 200 bytes: where the CPU the optimized parser saves outweighs the exit wait. */
export const OPTIMIZED_PARSER_FROM_BYTES = 16 * 1024 * 1024

/** Keeps WebAssembly compiled from now on (llhttp) on Liftoff; call before the first connection. */
export function keepHttpParserOnBaseline(): void {
  setFlagsFromString('--liftoff-only')
}
