import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli, withTempDir } from './helpers/cli.js'

describe('run: no format matches', () => {
  it('names the first failing line as check does (its text only with --verbose)', { timeout: 20_000 }, async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'odd.log')
      await writeFile(log, '\nsomething 203.0.113.9 that is no access log\nneither is this\n')
      const args = ['run', '--from-beginning', '-p', 'AAAAAAAAAAAA', '--api-url', 'http://127.0.0.1:9/log', '--state-dir', join(dir, 'state'), log]
      const r = await runCli(args)
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('no known log format matches')
      expect(r.stderr).toContain('line 2 fails (--verbose shows it)')
      expect(r.stderr).not.toContain('203.0.113.9')
      const v = await runCli([...args.slice(0, -1), '--verbose', log])
      expect(v.stderr).toContain('line 2 fails: something 203.0.113.9 that is no access log')
    })
  })
})
