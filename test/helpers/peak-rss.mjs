// Preloaded into a CLI child (NODE_OPTIONS=--import) by tests that bound its memory: at exit it
// writes the process's peak resident set (VmHWM of /proc/self/status, in kB) to $PEAK_RSS_FILE.
import { readFileSync, writeFileSync } from 'node:fs'

const out = process.env.PEAK_RSS_FILE
if (out) {
  process.on('exit', () => {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    if (m) writeFileSync(out, m[1])
  })
}
