import { createServer as createHttpServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestApi } from '../src/testapi/server.js'
import { WireError, WirePool } from '../src/sink/wire.js'
import type { WirePoolOptions } from '../src/sink/wire.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function pool(url: string, extra: Partial<WirePoolOptions> = {}): WirePool {
  const p = new WirePool({ url, connections: 4, timeoutMs: 5_000, ...extra })
  cleanups.push(() => p.close())
  return p
}

const JSON_HEADERS = { 'content-type': 'application/json' }

/** A raw TCP server that splits incoming bytes into requests (by Content-Length) and hands each to
 *  `onRequest` with the socket, the raw request bytes, and the 1-based request number on that socket. */
interface RawServer {
  url: string
  port: number
  /** Connections accepted so far. */
  connections: number
  /** Raw bytes of every complete request, in arrival order. */
  requests: Buffer[]
  sockets: Socket[]
}

type RawHandler = (socket: Socket, request: Buffer, nOnSocket: number, connection: number) => void

async function startRaw(onRequest: RawHandler, host = '127.0.0.1'): Promise<RawServer> {
  const state: RawServer = { url: '', port: 0, connections: 0, requests: [], sockets: [] }
  const server = net.createServer((socket) => {
    const connection = ++state.connections
    state.sockets.push(socket)
    socket.on('error', () => {})
    let buf = Buffer.alloc(0)
    let n = 0
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        const m = /\r\ncontent-length: *(\d+)/i.exec(buf.toString('latin1', 0, end))
        const total = end + 4 + (m ? Number(m[1]) : 0)
        if (buf.length < total) return
        const req = buf.subarray(0, total)
        buf = buf.subarray(total)
        state.requests.push(req)
        onRequest(socket, req, ++n, connection)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, host, () => r()))
  state.port = (server.address() as AddressInfo).port
  state.url = `http://${host.includes(':') ? `[${host}]` : host}:${state.port}`
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of state.sockets) s.destroy()
    server.close(() => r())
  }))
  return state
}

const OK = 'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}'

/** A port nothing listens on (bound then released). */
async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(WireError)
  return (err as WireError).code
}

/** Resolves when `socket` has closed. */
const closed = (socket: Socket): Promise<void> =>
  socket.closed ? Promise.resolve() : new Promise((r) => socket.once('close', () => r()))

describe('WirePool against the test API', () => {
  it('delivers 2,000 requests over at most `connections` sockets, each recorded once (chunked answers)', async () => {
    const api = await startTestApi({ port: 0 })
    cleanups.push(() => api.close())
    // A counting TCP relay in front of the API: one relay connection per pool socket.
    let connections = 0
    let firstAnswer = ''
    const relay = net.createServer((client) => {
      connections++
      const upstream = net.connect(api.port, '127.0.0.1')
      upstream.once('data', (d: Buffer) => {
        firstAnswer ||= d.toString('latin1')
      })
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
    })
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => relay.close(() => r())))
    const port = (relay.address() as AddressInfo).port
    const p = pool(`http://127.0.0.1:${port}`, { connections: 16 })
    const headers = {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
      'x-client-ip-address': '192.0.2.1',
      accept: 'text/html',
      'accept-language': 'en-US',
      'accept-encoding': 'identity',
      ...JSON_HEADERS,
    }
    const total = 2000
    let next = 0
    const statuses: number[] = []
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++
        const res = await p.request('/log', headers, JSON.stringify({ pid: 'AbCdEf123456', pg: `/page/${i}` }))
        statuses.push(res.status)
      }
    }
    await Promise.all(Array.from({ length: 32 }, worker)) // more callers than sockets: the queue is used
    expect(statuses.length).toBe(total)
    expect(statuses.every((s) => s === 201)).toBe(true)
    const pgs = api.accepted().map((e) => e.body.pg)
    expect(pgs.length).toBe(total)
    expect(new Set(pgs).size).toBe(total)
    expect(connections).toBeGreaterThan(0)
    expect(connections).toBeLessThanOrEqual(16)
    expect(firstAnswer.toLowerCase()).toContain('transfer-encoding: chunked')
  })
})

describe('WirePool: request bytes', () => {
  it('writes exactly one POST with Host, the headers, Content-Length and the UTF-8 body; Latin-1 header bytes arrive byte-exact', async () => {
    const srv = await startRaw((s) => s.write(OK))
    const ua = 'Agent/1.0 (caf\u00e9)'
    const body = JSON.stringify({ pg: '/caf\u00e9/\u{1F600}' })
    const res = await pool(srv.url).request('/log/custom', { 'User-Agent': ua, 'content-type': 'application/json' }, body)
    expect(res.status).toBe(201)
    const expected = Buffer.concat([
      Buffer.from(`POST /log/custom HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nUser-Agent: ${ua}\r\ncontent-type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`, 'latin1'),
      Buffer.from(body, 'utf8'),
    ])
    expect(srv.requests[0]).toEqual(expected)
    expect(srv.requests[0]!.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x29]))).toBe(true) // "caf\xE9)"
  })

  it.each([
    ['CR/LF in a value', { 'user-agent': 'bad\r\nInjected: 1' }],
    ['a bare LF', { 'user-agent': 'bad\nx' }],
    ['NUL', { 'user-agent': 'bad\u0000' }],
    ['a char above U+00FF', { 'user-agent': 'bad \u0100' }],
    ['a bad name', { 'x bad': 'v' }],
    ['an empty name', { '': 'v' }],
    ['Content-Length from the caller', { 'Content-Length': '5' }],
  ])('refuses %s with ERR_INVALID_HEADER without opening a socket', async (_what, headers) => {
    const srv = await startRaw((s) => s.write(OK))
    const p = pool(srv.url)
    expect(await codeOf(p.request('/log', headers as Record<string, string>, '{}'))).toBe('ERR_INVALID_HEADER')
    expect((await p.request('/log', {}, '{}')).status).toBe(201) // the pool still works
    expect(srv.requests.length).toBe(1)
    expect(srv.connections).toBe(1)
  })

  it('sends queued requests in FIFO order when all sockets are busy', async () => {
    const srv = await startRaw((s) => s.write(OK))
    const p = pool(srv.url, { connections: 1 })
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => p.request('/log', {}, `{"n":${i}}`)))
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201])
    expect(srv.requests.map((r) => r.toString('latin1').slice(-7))).toEqual([0, 1, 2, 3, 4].map((i) => `{"n":${i}}`))
    expect(srv.connections).toBe(1)
  })
})

describe('WirePool: response parsing', () => {
  it('reads a Content-Length body and lower-cased headers, repeated ones joined', async () => {
    const srv = await startRaw((s) => s.write('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-A: 1\r\nx-a:  2 \r\n' +
      'Retry-After: 7\r\nContent-Length: 15\r\n\r\n{"message":"x"}'))
    const res = await pool(srv.url).request('/log', {}, '{}')
    expect(res.status).toBe(400)
    expect(res.headers['x-a']).toBe('1, 2')
    expect(res.headers['retry-after']).toBe('7')
    expect(res.headers['content-type']).toBe('application/json')
    expect(res.body.toString()).toBe('{"message":"x"}')
  })

  it('reads a node:http answer (keep-alive, reused for the next request)', async () => {
    let conns = 0
    const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': '2' })
        res.end('{}')
      })
    })
    server.on('connection', () => conns++)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    }))
    const p = pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    for (let i = 0; i < 5; i++) expect((await p.request('/log', {}, '{}')).body.toString()).toBe('{}')
    expect(conns).toBe(1)
  })

  it('reads a chunked body with extensions and trailers written one byte per TCP write', async () => {
    const answer = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n' +
      '5;name=value;q="a b"\r\nhello\r\n1\r\n \r\nA  \r\n0123456789\r\n0;last\r\nX-T: 1\r\nX-U: 2\r\n\r\n'
    const srv = await startRaw(async (s) => {
      for (const byte of Buffer.from(answer, 'latin1')) {
        s.write(Buffer.of(byte))
        await nextTurn()
      }
    })
    const p = pool(srv.url)
    const res = await p.request('/log', {}, '{}')
    expect(res.status).toBe(200)
    expect(res.body.toString()).toBe('hello 0123456789')
    // The socket stays usable after the trailers.
    expect((await p.request('/log', {}, '{}')).body.toString()).toBe('hello 0123456789')
    expect(srv.connections).toBe(1)
  })

  it('reads any chunked or Content-Length answer however TCP splits it (property)', async () => {
    let answers: Buffer[] = []
    const srv = await startRaw(async (s) => {
      for (const piece of answers) {
        s.write(piece)
        await nextTurn()
      }
    })
    const p = pool(srv.url, { connections: 1 })
    await fc.assert(fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { minLength: 0, maxLength: 5 }),
      fc.boolean(),
      fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 20 }),
      async (chunks, chunked, cuts) => {
        const body = Buffer.concat(chunks)
        const raw = chunked
          ? Buffer.concat([
            Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n'),
            ...chunks.flatMap((c) => [Buffer.from(`${c.length.toString(16)};x=1\r\n`), c, Buffer.from('\r\n')]),
            Buffer.from('0\r\n\r\n'),
          ])
          : Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body])
        answers = []
        let at = 0
        for (const cut of cuts) {
          if (at >= raw.length) break
          answers.push(raw.subarray(at, at + cut))
          at += cut
        }
        if (at < raw.length) answers.push(raw.subarray(at))
        const res = await p.request('/log', {}, '{}')
        expect(res.status).toBe(200)
        expect(res.body).toEqual(body)
      },
    ), { numRuns: 60 })
    expect(srv.connections).toBe(1) // every answer ended exactly where it should: the socket was reused
  })

  it('skips 100 Continue before the final answer', async () => {
    const srv = await startRaw((s) => s.write(`HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX-Interim: 1\r\n\r\n${OK}`))
    const res = await pool(srv.url).request('/log', {}, '{}')
    expect(res.status).toBe(201)
    expect(res.headers['x-interim']).toBeUndefined()
    expect(res.body.toString()).toBe('{}')
  })

  it('answers 204 without a body and keeps the socket', async () => {
    const srv = await startRaw((s) => s.write('HTTP/1.1 204 No Content\r\n\r\n'))
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).body.length).toBe(0)
    expect((await p.request('/log', {}, '{}')).status).toBe(204)
    expect(srv.connections).toBe(1)
  })

  it('closes the socket after a `Connection: close` answer; the next request opens a new one', async () => {
    const srv = await startRaw((s) => s.write('HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}'))
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    await closed(srv.sockets[0]!) // the client, not the server, closed it
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    expect(srv.connections).toBe(2)
  })

  it('reads an answer with neither length nor chunking until the server closes, then does not reuse the socket', async () => {
    const srv = await startRaw((s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ')
      s.end('this')
    })
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).body.toString()).toBe('all of this')
    expect((await p.request('/log', {}, '{}')).body.toString()).toBe('all of this')
    expect(srv.connections).toBe(2)
  })

  it('closes after an HTTP/1.0 answer without keep-alive', async () => {
    const srv = await startRaw((s) => s.write('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'))
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).body.toString()).toBe('ok')
    await closed(srv.sockets[0]!)
    expect((await p.request('/log', {}, '{}')).status).toBe(200)
    expect(srv.connections).toBe(2)
  })

  it.each([
    ['garbage instead of a status line', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['a bad status code', 'HTTP/1.1 2x1 Created\r\nContent-Length: 0\r\n\r\n'],
    ['a bad Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n'],
    ['conflicting Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data without CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY'],
    ['a header line without colon', 'HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n'],
    ['a body above 1 MiB', `HTTP/1.1 200 OK\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`],
  ])('rejects %s with EPROTO at once (no wait for a timeout)', async (_what, answer) => {
    const srv = await startRaw((s) => s.write(answer))
    const started = performance.now()
    expect(await codeOf(pool(srv.url, { timeoutMs: 10_000 }).request('/log', {}, '{}'))).toBe('EPROTO')
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it('rejects a head above 64 KiB with EPROTO', async () => {
    const srv = await startRaw((s) => s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}`))
    expect(await codeOf(pool(srv.url).request('/log', {}, '{}'))).toBe('EPROTO')
  })
})

describe('WirePool: connection failures', () => {
  it('retries once on a fresh socket when a reused keep-alive socket is closed before any answer byte', async () => {
    // Connection 1 answers its first request, then drops the socket on receiving the second (the race
    // of a server closing an idle keep-alive connection just as the client reuses it).
    const srv = await startRaw((s, _req, n, conn) => {
      if (conn === 1 && n === 2) s.destroy()
      else s.write(OK)
    })
    const p = pool(srv.url, { connections: 1 })
    expect((await p.request('/log', {}, '{"n":1}')).status).toBe(201)
    expect((await p.request('/log', {}, '{"n":2}')).status).toBe(201)
    expect(srv.connections).toBe(2)
    expect(srv.requests.map((r) => r.toString().slice(-7))).toEqual(['{"n":1}', '{"n":2}', '{"n":2}'])
  })

  it('drops a keep-alive socket the server closed while idle; the next request opens a new one', async () => {
    const srv = await startRaw((s) => s.end(OK))
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    await closed(srv.sockets[0]!)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    expect(srv.connections).toBe(2)
  })

  it('does not retry a fresh socket that is reset: ECONNRESET', async () => {
    const srv = await startRaw((s) => s.resetAndDestroy())
    expect(await codeOf(pool(srv.url).request('/log', {}, '{}'))).toBe('ECONNRESET')
    expect(srv.requests.length).toBe(1)
  })

  it('rejects with ECONNRESET when the server resets mid-answer, even on a reused socket', async () => {
    const srv = await startRaw((s, _req, n) => {
      if (n === 1) s.write(OK)
      else {
        s.write('HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n{"')
        setImmediate(() => s.resetAndDestroy())
      }
    })
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    expect(await codeOf(p.request('/log', {}, '{}'))).toBe('ECONNRESET')
    expect(srv.requests.length).toBe(2) // an answer had started: not sent again
  })

  it('rejects with ECONNRESET when the server closes cleanly before a complete answer', async () => {
    const srv = await startRaw((s) => s.end('HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\n{"'))
    expect(await codeOf(pool(srv.url).request('/log', {}, '{}'))).toBe('ECONNRESET')
  })

  it('times out with ETIMEDOUT when the server never answers', async () => {
    const srv = await startRaw(() => {})
    const started = performance.now()
    expect(await codeOf(pool(srv.url, { timeoutMs: 80 }).request('/log', {}, '{}'))).toBe('ETIMEDOUT')
    expect(performance.now() - started).toBeGreaterThanOrEqual(79)
    await closed(srv.sockets[0]!) // the client gave the socket up
  })

  it('passes ECONNREFUSED through', async () => {
    const port = await freePort()
    expect(await codeOf(pool(`http://127.0.0.1:${port}`).request('/log', {}, '{}'))).toBe('ECONNREFUSED')
  })

  it('destroys an idle socket that receives unsolicited bytes', async () => {
    const srv = await startRaw((s) => {
      s.write(OK)
      setImmediate(() => s.write('HTTP/1.1 200 OK\r\n\r\n'))
    })
    const p = pool(srv.url)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    await closed(srv.sockets[0]!)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    expect(srv.connections).toBe(2)
  })

  it('closes sockets idle longer than keepAliveMs', async () => {
    const srv = await startRaw((s) => s.write(OK))
    const p = pool(srv.url, { keepAliveMs: 40 })
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    await closed(srv.sockets[0]!)
    expect((await p.request('/log', {}, '{}')).status).toBe(201)
    expect(srv.connections).toBe(2)
  })

  it('connects to an IPv6 literal and keeps the brackets in Host', async (ctx) => {
    let srv: RawServer
    try {
      srv = await startRaw((s) => s.write(OK), '::1')
    } catch {
      ctx.skip() // no IPv6 loopback here
      return
    }
    const res = await pool(srv.url).request('/log', {}, '{}')
    expect(res.status).toBe(201)
    expect(srv.requests[0]!.toString('latin1')).toContain(`\r\nHost: [::1]:${srv.port}\r\n`)
  })
})

describe('WirePool: abort and close', () => {
  it('aborts an in-flight request with the signal reason and closes its socket', async () => {
    const srv = await startRaw(() => {})
    const p = pool(srv.url)
    const ac = new AbortController()
    const pending = p.request('/log', {}, '{}', ac.signal)
    while (srv.requests.length === 0) await nextTurn()
    ac.abort(new Error('shutdown'))
    await expect(pending).rejects.toThrow('shutdown')
    await closed(srv.sockets[0]!)
  })

  it('aborts a queued request: it is never sent, the others proceed', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const srv = await startRaw((s, _req, n) => {
      if (n === 1) void gate.then(() => s.write(OK))
      else s.write(OK)
    })
    const p = pool(srv.url, { connections: 1 })
    const first = p.request('/log', {}, '{"n":1}')
    const ac = new AbortController()
    const queued = p.request('/log', {}, '{"n":2}', ac.signal)
    const third = p.request('/log', {}, '{"n":3}')
    ac.abort(new Error('stop'))
    await expect(queued).rejects.toThrow('stop')
    release()
    expect((await first).status).toBe(201)
    expect((await third).status).toBe(201)
    expect(srv.requests.map((r) => r.toString().slice(-7))).toEqual(['{"n":1}', '{"n":3}'])
  })

  it('rejects at once when the signal is already aborted', async () => {
    const srv = await startRaw((s) => s.write(OK))
    const ac = new AbortController()
    ac.abort(new Error('already'))
    await expect(pool(srv.url).request('/log', {}, '{}', ac.signal)).rejects.toThrow('already')
    expect(srv.connections).toBe(0)
  })

  it('close() rejects queued and in-flight requests and later ones', async () => {
    const srv = await startRaw(() => {})
    const p = new WirePool({ url: srv.url, connections: 1, timeoutMs: 5_000 })
    const inFlight = codeOf(p.request('/log', {}, '{}'))
    const queued = codeOf(p.request('/log', {}, '{}'))
    while (srv.requests.length === 0) await nextTurn()
    await p.close()
    expect(await inFlight).toBe('ERR_POOL_CLOSED')
    expect(await queued).toBe('ERR_POOL_CLOSED')
    expect(await codeOf(p.request('/log', {}, '{}'))).toBe('ERR_POOL_CLOSED')
    await closed(srv.sockets[0]!)
  })
})
