// `follow -` (stdin, e.g. `tail -F … | swetrix-ingest follow -` or a container's stdout) is a
// service too: its status lines and /metrics counters follow the API's answers as they arrive, not
// only the final summary (an alert on the accepted rate must not fire on a healthy service).
import { describe, expect, it } from 'vitest'
import { startTestApi } from '../src/testapi/server.js'
import { join } from 'node:path'
import { withTempDir } from './helpers/cli.js'
import { startFollow, until } from './helpers/follow.js'

const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const lines = (from: number, to: number) =>
  Array.from(
    { length: to - from },
    (_, i) => `192.0.2.${1 + ((from + i) % 200)} - - [07/Dec/2026:12:00:00 +0000] "GET /s/${from + i} HTTP/1.1" 200 64 "-" "${UA}"\n`,
  ).join('')

describe('follow - (stdin)', () => {
  it('status lines and /metrics count accepted events while stdin stays open', { timeout: 40_000 }, async () => {
    const api = await startTestApi({ projects: [PROJECT] })
    try {
      await withTempDir(async (dir) => {
        const f = startFollow([
          '-p',
          PROJECT,
          '--api-url',
          api.url,
          '--state-dir',
          join(dir, 'state'),
          '--stats-interval',
          '1s',
          '--metrics-addr',
          '127.0.0.1:0',
          '-',
        ])
        await f.said(/metrics on (http:\/\/\S+)\/metrics/)
        const url = /metrics on (http:\/\/\S+)\/metrics/.exec(f.stderr())![1]!
        const accepted = async () =>
          Number(/swetrix_ingest_delivery_total\{outcome="accepted"\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? -1)
        f.child.stdin!.write(lines(0, 120))
        await until(() => api.accepted().length >= 120, '120 accepted by the API', 20_000)
        // Within one interval of the API's own count, stdin still open.
        await until(async () => (await accepted()) === api.accepted().length, 'the metric equal to the API count', 5_000)
        await f.said(/sent 120, accepted 120/, 5_000)
        f.child.stdin!.write(lines(120, 200))
        await until(async () => (await accepted()) === 200 && api.accepted().length === 200, 'the second batch in the metric', 20_000)
        f.child.stdin!.end()
        expect((await f.exited).code, f.stderr()).toBe(0)
      })
    } finally {
      await api.close()
    }
  })
})
