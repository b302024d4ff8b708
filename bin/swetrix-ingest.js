#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { setFlagsFromString } from 'node:v8'

// Set before undici loads: its HTTP parser (llhttp, WebAssembly) stays on V8's baseline compiler.
// Otherwise V8 starts an optimizing compile of it in the background once it is hot, and Node waits
// for that compile before the process ends, natural exit or process.exit() alike: 100-180 ms added
// to every finished run on the 2-core VM, for answers of about 150 bytes where it saves microseconds.
setFlagsFromString('--liftoff-only')
const { main } = await import('../dist/src/cli.js')

process.exitCode = await main(process.argv.slice(2))
