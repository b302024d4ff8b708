// The import's worker threads with several sites: a worker (the built dist/src/import/row-worker.js,
// a real thread) gives each row the project the main thread would, by host and by the file's site,
// with the same per-project counts, so a large input's files do not depend on --threads.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildPipeline, type PipelineFlags } from '../src/options.js'
import { batchOfLines, createRowScanner, type LinesIn, type RowBatch } from '../src/import/rows.js'
import { repoRoot, withTempDir } from './helpers/cli.js'

const A = 'SITEAAAAAAAA'
const B = 'SITEBBBBBBBB'
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
const HOSTS = ['a.example.com', 'b.example.org', 'c.example.net']

function linesOf(count: number): LinesIn {
  let text = ''
  const starts: number[] = []
  const contentEnds: number[] = []
  for (let i = 0; i < count; i++) {
    starts.push(Buffer.byteLength(text))
    text += `${HOSTS[i % 3]}:443 198.51.100.${(i % 5) + 1} - - [01/Nov/2026:10:00:${String(i % 60).padStart(2, '0')} +0000] "GET /p/${i} HTTP/1.1" 200 5 "-" "${UA}"`
    contentEnds.push(Buffer.byteLength(text))
    text += '\n'
  }
  // Its own memory, as the reader's batches are (the pool may move it to the worker).
  const buf = new Uint8Array(Buffer.byteLength(text))
  Buffer.from(buf.buffer).write(text)
  return { buf, starts, contentEnds }
}

const plain = (b: RowBatch) => ({
  ...b,
  text: Buffer.from(b.text).toString('utf8'),
  textEnds: [...b.textEnds],
  times: [...b.times],
  visitorOf: [...b.visitorOf],
})

async function compare(flags: PipelineFlags, path: string): Promise<RowBatch> {
  const { RowPool } = (await import(join(repoRoot, 'dist/src/import/row-pool.js'))) as typeof import('../src/import/row-pool.js')
  const parts = await buildPipeline(flags, null, Date.now(), false)
  const parser = parts.format as Exclude<typeof parts.format, 'auto'>
  const salt = 'test-salt'
  const scan = createRowScanner({ mapper: parts.mapper, salt, country: null })
  const pool = new RowPool(1, { flags, projectId: null, now: Date.now(), salt, countryDb: null })
  try {
    const local = scan(batchOfLines(parser, linesOf(90)), { mapper: parts.mapperFor(path), projectOf: parts.sites.routerFor(path) })
    const remote = await pool.scan(parser.name, path, linesOf(90))
    expect(plain(remote)).toEqual(plain(local))
    return local
  } finally {
    await pool.close()
  }
}

const FLAGS: PipelineFlags = { format: 'vhost_combined', realIp: 'remote', errors: '5xx' }

describe('import worker threads with several sites', () => {
  it('route every row to the project the main thread does, by host (lines of no site: no-site)', async () => {
    const rows = await compare({ ...FLAGS, site: [`a.example.com=${A}`, `b.example.org=${B}`] }, '/var/log/nginx/access.log')
    expect(rows.times).toHaveLength(60)
    expect(new Set(rows.projects)).toEqual(new Set([A, B]))
    expect(rows.counters.skipped['no-site']).toBe(30)
    expect(rows.projectCounts).toMatchObject({ [A]: { events: { pageview: 30 } }, [B]: { events: { pageview: 30 } } })
  })

  it('and by the file a config site owns, whatever the hosts of its lines', async () => {
    await withTempDir(async (dir) => {
      const config = join(dir, 'sites.json')
      await writeFile(
        config,
        JSON.stringify({
          sites: [
            { project: A, files: ['a.log'] },
            { project: B, hosts: ['b.example.org'] },
          ],
        }),
      )
      const rows = await compare({ ...FLAGS, config }, join(dir, 'a.log'))
      expect(rows.times).toHaveLength(90)
      expect(new Set(rows.projects)).toEqual(new Set([A]))
    })
  })
})
