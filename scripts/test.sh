#!/usr/bin/env bash
# Runs the whole test suite and ends with the plain line `N passed, N failed`
# (vitest's own summary is coloured and not last; see CONTRIBUTING.md "Before you push").
set -u
cd "$(dirname "$0")/.."
mkdir -p .vitest
rm -f .vitest/report.json
# The CLI tests run bin/swetrix-ingest.js as a child process, which loads dist/: build it fresh.
npm run build --silent >&2 || echo "test: build failed; tests that run the CLI will fail" >&2
NO_COLOR=1 npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest/report.json "$@"
rc=$?
node scripts/test-summary.mjs .vitest/report.json "$rc"
