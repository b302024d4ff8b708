// `--dry-run` sink: prints each event as the exact request (one NDJSON line) instead of sending it.
import { once } from 'node:events'
import type { EventSink, SendOutcome } from './contract.js'
import { safeJson } from '../output/safe-text.js'

const ACCEPTED: SendOutcome = Object.freeze({ kind: 'accepted', status: 0, attempts: 0 }) as SendOutcome

export function createStdoutSink(out: NodeJS.WritableStream): EventSink {
  // Lines are written in call order; a full stream makes later sends wait for 'drain' together.
  let drained: Promise<unknown> | undefined
  return {
    async send(ev) {
      if (drained) await drained
      // The same shape as `check --events`; control characters from log lines escaped (terminal safety).
      const line = `${safeJson({ endpoint: ev.endpoint, headers: ev.headers, body: ev.body })}\n`
      if (!out.write(line)) {
        drained ??= once(out, 'drain').finally(() => {
          drained = undefined
        })
        await drained
      }
      return ACCEPTED
    },
    async close() {
      if (drained) await drained
    },
  }
}
