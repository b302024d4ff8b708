// The test API's Data Import routes behave as Swetrix's (reference §10): auth, upload rules, one
// active import per project, statuses, list, delete, and the importer's file rules.
import { FormData, request } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { importSimpleAnalytics } from '../src/testapi/data-import.js'
import { startTestApi, type TestApi } from '../src/testapi/server.js'

let api: TestApi
beforeEach(async () => {
  api = await startTestApi({ dataImport: { email: 'a@example.com', password: 'pw', maxFileBytes: 2000, stepMs: 30 } })
})
afterEach(() => api.close())

const HEADER = 'added_iso,datapoint,session_id,path\n'

async function login(): Promise<string> {
  const r = await request(`${api.origin}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'a@example.com', password: 'pw' }),
  })
  return ((await r.body.json()) as { accessToken: string }).accessToken
}

async function upload(token: string, text: string, name = 'x.csv', provider = 'simple-analytics') {
  const form = new FormData()
  form.set('provider', provider)
  form.set('file', new Blob([text], { type: 'text/csv' }), name)
  const r = await request(`${api.origin}/data-import/PROJ/upload`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  return { status: r.statusCode, body: (await r.body.json()) as { id: number; status: string; message?: string } }
}

async function get(token: string, path: string) {
  const r = await request(`${api.origin}${path}`, { headers: { authorization: `Bearer ${token}` } })
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> }
}

async function until(token: string, id: number, status: string) {
  for (let i = 0; i < 500; i++) {
    const r = await get(token, `/data-import/PROJ/${id}`)
    if (r.body.status === status) return r.body
    await new Promise((res) => setTimeout(res, 10))
  }
  throw new Error(`import ${id} never became ${status}`)
}

describe('test API: Data Import', () => {
  it('refuses wrong credentials (409) and requests without a token (401)', async () => {
    const r = await request(`${api.origin}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@example.com', password: 'no' }),
    })
    expect(r.statusCode).toBe(409)
    await r.body.dump()
    expect((await get('nope', '/data-import/PROJ')).status).toBe(401)
  })

  it('pending -> completed; one active import per project; list newest first; delete', async () => {
    const token = await login()
    const first = await upload(token, `${HEADER}2026-01-26T08:14:03Z,pageview,s1,/a\n2026-01-27T08:14:03+0100,signup,s1,/b\n`)
    expect(first.status).toBe(201)
    expect(first.body.status).toBe('pending')
    const busy = await upload(token, `${HEADER}2026-01-26T08:14:03Z,pageview,s1,/a\n`)
    expect(busy.status).toBe(400)
    expect(busy.body.message).toMatch(/already in progress/)
    expect(
      (await request(`${api.origin}/data-import/PROJ/${first.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).statusCode,
    ).toBe(400)
    const done = await until(token, first.body.id, 'completed')
    expect(done).toMatchObject({ totalRows: 2, importedRows: 2, dateFrom: '2026-01-26', dateTo: '2026-01-27' })
    const second = await upload(token, `${HEADER}2026-02-01T00:00:00Z,pageview,s2,/c\n`)
    await until(token, second.body.id, 'completed')
    expect(((await get(token, '/data-import/PROJ')).body as unknown as { id: number }[]).map((r) => r.id)).toEqual([second.body.id, first.body.id])
    const del = await request(`${api.origin}/data-import/PROJ/${first.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })
    expect(del.statusCode).toBe(200)
    await del.body.dump()
    expect((await get(token, `/data-import/PROJ/${first.body.id}`)).status).toBe(404)
  })

  it('upload rules: provider, extension, size', async () => {
    const token = await login()
    expect((await upload(token, HEADER, 'x.csv', 'nope')).status).toBe(400)
    expect((await upload(token, HEADER, 'x.txt')).status).toBe(400)
    expect((await upload(token, HEADER + 'x'.repeat(3000))).status).toBe(413)
  })

  it("fails an import without the required columns, with Swetrix's message", async () => {
    const token = await login()
    const up = await upload(token, 'added_iso,path\n2026-01-26T08:14:03Z,/a\n')
    const failed = await until(token, up.body.id, 'failed')
    expect(failed.errorMessage).toMatch(/Missing required columns: datapoint, session_id/)
  })

  it('skips rows as the importer does: bad added_iso, no session, robots; cuts long fields', () => {
    const text =
      'added_iso,datapoint,session_id,path,is_robot,browser_name,device_type,country_code\n' +
      '2026-01-26 08:14:03,pageview,s,/no-zone,,,,\n' +
      '2026-01-26T08:14Z,pageview,s,/no-seconds,,,,\n' +
      '2026-01-26T08:14:03Z,pageview,,/no-session,,,,\n' +
      '2026-01-26T08:14:03Z,pageview,s,/robot,true,,,\n' +
      `2026-01-26T08:14:03.5-07:00,pageview,s,/${'p'.repeat(3000)},,Chrome,mobile,de\n`
    const { rows, skipped } = importSimpleAnalytics(text)
    expect(skipped).toBe(4)
    expect(rows).toHaveLength(1)
    expect(rows[0]!.created).toBe('2026-01-26T15:14:03.000Z')
    expect(rows[0]!.pg).toHaveLength(2048)
    expect(rows[0]!.br).toBe('Mobile Chrome')
    expect(rows[0]!.cc).toBe('DE')
  })
})
