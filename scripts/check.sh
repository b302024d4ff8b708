#!/usr/bin/env bash
# `npm run check`: typecheck, type-aware lint and format check. Runs all three (so one run shows
# every problem) and exits non-zero if any failed, naming which.
set -u
cd "$(dirname "$0")/.."
failed=()
npm run --silent typecheck || failed+=(typecheck)
npm run --silent lint || failed+=(lint)
npm run --silent format:check || failed+=(format:check)
if [ ${#failed[@]} -gt 0 ]; then
  echo "check: failed: ${failed[*]}" >&2
  exit 1
fi
echo "check: typecheck, lint and format:check passed"
