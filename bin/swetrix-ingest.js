#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
const { main } = await import('../dist/src/cli.js')

process.exitCode = await main(process.argv.slice(2))
