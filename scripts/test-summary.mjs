// Prints the closing `N passed, N failed` line from vitest's JSON report; exits 1 on any failure.
// A test file that fails to load reports no tests, so it is counted as one failure.
import { readFileSync } from 'node:fs'

const [file = '.vitest/report.json', rcArg = '0'] = process.argv.slice(2)
let passed = 0
let failed = 0
let skipped = 0
try {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  passed = report.numPassedTests ?? 0
  failed = report.numFailedTests ?? 0
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  for (const f of report.testResults ?? []) {
    if (f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed')) failed++
  }
  if ((report.success === false || Number(rcArg) !== 0) && failed === 0) failed = 1
} catch {
  failed = Math.max(failed, 1)
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
