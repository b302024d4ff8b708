// Preloaded by bench/run.mjs (`node --import`): prints the process's peak RSS on exit.
import { writeSync } from 'node:fs'

process.on('exit', () => {
  writeSync(2, `bench-peak-rss-kb=${process.resourceUsage().maxRSS}\n`)
})
