// The launcher exits explicitly once main() is done (bin/swetrix-ingest.js): everything written to
// stdout and stderr still arrives whole through pipes, and the exit code is main()'s.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeLog } from '../bench/generate-log.mjs'
import { runCli, withTempDir } from './helpers/cli.js'

describe('the launcher exit', () => {
  it('a large output through a pipe arrives whole before the process exits 0', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeLog(log, 20_000, { seed: 3 })
      const r = await runCli(['check', '--records', log])
      expect(r.code).toBe(0)
      const lines = r.stdout.split('\n').filter((l) => l !== '')
      expect(lines).toHaveLength(20_000)
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ line: 20_000 })
    })
  })

  it('an error still exits with its code and its one line on stderr', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'access.log')
      await writeFile(log, '')
      const r = await runCli(['check', '--format', 'no-such-format', log])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/^swetrix-ingest: .*no-such-format/m)
    })
  })
})
