import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createMapper } from '../src/mapper/index.js'
import { ConfigError, loadConfig } from '../src/mapper/config.js'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'swx-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function configFile(content: unknown): Promise<string> {
  const file = join(dir, 'swetrix-ingest.json')
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

async function loadError(content: unknown): Promise<ConfigError> {
  const file = await configFile(content)
  const err = await loadConfig(file).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigError)
  expect((err as Error).message).toContain(file)
  return err as ConfigError
}

describe('loadConfig', () => {
  it('loads the example config shipped in fixtures/config, and its rules drive the mapper', async () => {
    const config = await loadConfig(join(repoRoot, 'fixtures/config/custom-events.json'))
    expect(config.customEvents.map((r) => r.event)).toEqual(['NEWSLETTER_SUBSCRIBE', 'SIGNUP', 'DOWNLOAD', 'SEARCH'])
    const map = createMapper({ projectId: 'AbCdEf123456', rules: config.customEvents })
    const result = map({
      ip: '198.51.100.20',
      time: 0,
      method: 'GET',
      path: '/downloads/app-1.2.dmg',
      query: null,
      protocol: 'HTTP/1.1',
      status: 200,
      bytes: 1,
      referrer: null,
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
      user: null,
      host: null,
      port: null,
      requestLine: null,
    })
    expect(result).toMatchObject({ event: { kind: 'custom', body: { ev: 'DOWNLOAD', meta: { file: '/downloads/app-1.2.dmg', status: '200' } } } })
  })

  it('an empty object is a valid config with no rules and no sites', async () => {
    expect(await loadConfig(await configFile({}))).toEqual({ customEvents: [], sites: [] })
  })

  it('an unknown key is an error naming it, so typos surface', async () => {
    const err = await loadError({ customEvents: [{ event: 'A', path: '^/a$', methd: 'POST' }] })
    expect(err.message).toMatch(/methd/)
    const top = await loadError({ customEvent: [] })
    expect(top.message).toMatch(/customEvent/)
  })

  it('names the field of a bad rule: regex, status, empty method list, over-long event name', async () => {
    const names = (message: string, field: string, problem: RegExp) => {
      expect(message).toContain(`at ${field}`)
      expect(message).toMatch(problem)
    }
    names((await loadError({ customEvents: [{ event: 'A', path: '^/(a$' }] })).message, 'customEvents[0].path', /regular expression/)
    names(
      (
        await loadError({
          customEvents: [
            { event: 'A', path: '^/a$' },
            { event: 'B', path: '^/b$', status: '20x' },
          ],
        })
      ).message,
      'customEvents[1].status',
      /"20x"/,
    )
    names((await loadError({ customEvents: [{ event: 'A', path: '^/a$', method: [] }] })).message, 'customEvents[0].method', /at least one/)
    names((await loadError({ customEvents: [{ event: 'E'.repeat(257), path: '^/a$' }] })).message, 'customEvents[0].event', /256/)
    expect((await loadError({ customEvents: [{ path: '^/a$' }] })).message).toMatch(/event/)
  })

  it('meta values must be strings and stay within the API key limit', async () => {
    expect((await loadError({ customEvents: [{ event: 'A', path: '^/', meta: { n: 1 } }] })).message).toMatch(/meta/)
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']))
    expect((await loadError({ customEvents: [{ event: 'A', path: '^/', meta: many }] })).message).toMatch(/100 keys/)
  })

  it('reports JSON syntax errors and missing files with the path', async () => {
    expect((await loadError('{"customEvents": [}')).message).toMatch(/not valid JSON/)
    const missing = join(dir, 'nope.json')
    await expect(loadConfig(missing)).rejects.toThrow(new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*ENOENT`))
  })
})
