// `run` on a W3C log that is appended to between runs: the second run resumes half-way through the
// file, after a #Fields: change, and must still read the lines with the layout in force there
// (its detection and its layout come from the file's own directives, not from the resume point).
import { appendFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startTestApi, type TestApi } from '../src/testapi/server.js'
import { runCli, withTempDir } from './helpers/cli.js'

const PROJECT = 'TESTPROJECT1'
const UA = 'Mozilla/5.0+(X11;+Linux+x86_64;+rv:132.0)+Gecko/20100101+Firefox/132.0'
const FIELDS_1 =
  '#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n'
const FIELDS_2 = '#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status sc-bytes cs(User-Agent) cs(Referer) cs-host time-taken\n'

const layout1 = (i: number) => `2026-11-20 10:00:00 192.0.2.1 GET /a/${i} - 443 - 203.0.113.${i + 1} ${UA} - 200 0 0 15\n`
const layout2 = (i: number) => `2026-11-20 11:00:00 198.51.100.${i + 1} GET /b/${i} - 200 5120 ${UA} - www.example.com 22\n`

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ projects: [PROJECT] })
})
afterEach(async () => {
  await api.close()
})

describe('run on a W3C log', () => {
  it('resumes after a #Fields: change with the layout and format of the file', async () => {
    await withTempDir(async (dir) => {
      const log = join(dir, 'u_ex261120.log')
      const args = ['run', '-p', PROJECT, '--api-url', api.url, '--state-dir', join(dir, 'state'), '--json', log]
      let text = '#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n' + FIELDS_1
      for (let i = 0; i < 3; i++) text += layout1(i)
      text += FIELDS_2
      for (let i = 0; i < 2; i++) text += layout2(i)
      await writeFile(log, text)
      const first = await runCli([...args.slice(0, -1), '--from-beginning', log])
      expect(first.code, first.stderr).toBe(0)
      let more = ''
      for (let i = 2; i < 5; i++) more += layout2(i)
      await appendFile(log, more)
      const second = await runCli(args)
      expect(second.code, second.stderr).toBe(0)
      const summary = JSON.parse(second.stdout)
      expect(summary.files[0]).toMatchObject({ format: 'w3c', lines: 3, rejected: 0 })
      expect(api.accepted().map((e) => e.body.pg)).toEqual(['/a/0', '/a/1', '/a/2', '/b/0', '/b/1', '/b/2', '/b/3', '/b/4'])
      expect(api.accepted().at(-1)).toMatchObject({ ip: '198.51.100.5' })
      expect(api.accepted().at(-1)!.ua).toBe('Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0')
    })
  })
})
