// A lean keep-alive HTTP/1.1 client for one origin: POST only, one request per socket at a time.
//
// Why not undici: the acceptance criterion is that `run` reaches >= 70% of autocannon's request rate
// against the same endpoint (~40k req/s on loopback). The undici sink (Agent.dispatch with a minimal
// handler) spent 34 µs CPU per request and topped out at 28k req/s (69%) before any log parsing or
// checkpointing; a 40-line prototype over net.connect (keep-alive, one Buffer write per request,
// minimal response parsing) did 37.6k req/s at 16.7 µs. This module is that prototype made robust:
// incremental response parsing (Content-Length, chunked with extensions/trailers, read-until-close),
// 1xx skipping, timeouts, abort, a FIFO queue and the stale keep-alive retry.
//
// Hot path: no per-request timers (one sweep timer per pool checks deadlines), no per-request closures
// beyond the promise (the pending request is its own abort listener), no regex, and no Buffer.concat
// unless a response spans several chunks.
import net from 'node:net'
import type { Socket } from 'node:net'
import tls from 'node:tls'

export interface WireResponse {
  status: number
  /** Names lower-cased; repeated headers joined with ', '. */
  headers: Record<string, string>
  body: Buffer
}

/** A failed request. `code`: 'ECONNRESET' (closed before a complete response), 'ETIMEDOUT' (connect or
 *  response timeout), 'EPROTO' (unparseable response), 'ERR_INVALID_HEADER' (a header we refuse to
 *  send), 'ERR_INVALID_PATH', 'ERR_POOL_CLOSED', or a socket error's own code (ECONNREFUSED, EPIPE, ...). */
export class WireError extends Error {
  override name = 'WireError'
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

export interface WirePoolOptions {
  /** Origin: http(s)://host[:port] (a path is ignored). */
  url: string
  /** Maximum number of sockets. */
  connections: number
  /** From request written to complete response. */
  timeoutMs: number
  /** Default 10 s. */
  connectTimeoutMs?: number
  /** Close sockets idle longer than this; default 4 s (below the common 5 s server keep-alive timeout). */
  keepAliveMs?: number
}

const MAX_HEAD = 64 * 1024
const MAX_BODY = 1024 * 1024
const MAX_CHUNK_LINE = 4096
const MAX_TRAILERS = 64 * 1024
const EMPTY = Buffer.alloc(0)
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1')
const HTTP_SLASH = [0x48, 0x54, 0x54, 0x50, 0x2f] // 'HTTP/'
const CR = 13
const LF = 10

/** RFC 9110 token characters (header names). */
const TCHAR = new Uint8Array(128)
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1

function isToken(s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 128 || TCHAR[c] === 0) return false
  }
  return true
}

/** Header values are Latin-1 byte strings: every char one byte, and none that would break framing. */
function isSendableValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === CR || c === LF || c === 0 || c > 0xff) return false
  }
  return true
}

/** Headers the client writes itself; a caller's copy would break or contradict the framing. */
function isManagedHeader(name: string): boolean {
  const n = name.length
  if (n !== 4 && n !== 14 && n !== 17) return false
  const lower = name.toLowerCase()
  return lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding'
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57
}

function hasToken(list: string, token: string): boolean {
  if (list.length === token.length) return list.toLowerCase() === token
  for (const part of list.split(',')) if (part.trim().toLowerCase() === token) return true
  return false
}

/** One request from dispatch to settlement. Listens for its own abort (no closure per request). */
class PendingRequest {
  conn: Conn | null = null
  retried = false
  settled = false
  constructor(
    readonly pool: WirePool,
    readonly bytes: Buffer,
    private readonly resolve: (r: WireResponse) => void,
    private readonly reject: (e: unknown) => void,
    readonly signal: AbortSignal | undefined,
  ) {}

  succeed(r: WireResponse): void {
    if (this.settled) return
    this.settled = true
    this.signal?.removeEventListener('abort', this)
    this.resolve(r)
  }

  fail(e: unknown): void {
    if (this.settled) return
    this.settled = true
    this.signal?.removeEventListener('abort', this)
    this.reject(e)
  }

  /** The abort listener (EventTarget calls handleEvent on listener objects). */
  handleEvent(): void {
    if (this.settled) return
    this.pool.abandon(this)
    this.fail(this.signal!.reason)
  }
}

const enum Phase { Head, Length, ChunkSize, ChunkData, ChunkDataEnd, Trailers, UntilClose }

/** One socket and the incremental parser of its current response. */
class Conn {
  readonly socket: Socket
  req: PendingRequest | null
  connected = false
  dead = false
  /** Completed responses on this socket; > 0 means a request rides a reused keep-alive socket. */
  served = 0
  /** Any byte of the current response arrived (the server has seen the request). */
  responseStarted = false
  /** performance.now() deadline of the connect or the current request. */
  deadline = 0
  idleSince = 0
  error: Error | null = null

  // ---- response parser state ----
  phase = Phase.Head
  head: Buffer | null = null
  status = 0
  headers: Record<string, string> = Object.create(null) as Record<string, string>
  keepAlive = true
  remaining = 0
  body: Buffer | null = null
  parts: Buffer[] | null = null
  bodyLen = 0
  sizeAcc = 0
  sizeDigits = 0
  sizeExt = false
  lineLen = 0
  trailerLen = 0

  constructor(
    private readonly pool: WirePool,
    req: PendingRequest,
    o: { host: string; port: number; tls: boolean },
  ) {
    this.req = req
    req.conn = this
    if (o.tls) {
      this.socket = tls.connect({
        host: o.host,
        port: o.port,
        ALPNProtocols: ['http/1.1'],
        ...(net.isIP(o.host) === 0 ? { servername: o.host } : {}),
      })
      this.socket.on('secureConnect', this.onConnect)
    } else {
      this.socket = net.connect({ host: o.host, port: o.port })
      this.socket.on('connect', this.onConnect)
    }
    this.socket.setNoDelay(true)
    this.socket.setKeepAlive(true)
    this.socket.on('data', this.onData)
    this.socket.on('end', this.onEnd)
    this.socket.on('error', this.onError)
    this.socket.on('close', this.onClose)
  }

  /** Writes a request on this (connected, idle) socket. */
  send(req: PendingRequest): void {
    this.req = req
    req.conn = this
    this.responseStarted = false
    this.deadline = performance.now() + this.pool.timeoutMs
    this.socket.write(req.bytes)
  }

  private readonly onConnect = (): void => {
    if (this.dead) return
    this.connected = true
    const req = this.req
    if (req) this.send(req)
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.dead) return
    if (this.req === null) {
      // Nothing asked for: a confused server or proxy. The socket cannot be trusted for the next request.
      this.pool.drop(this, null)
      return
    }
    this.responseStarted = true
    try {
      this.parse(chunk)
    } catch (e) {
      this.pool.drop(this, e instanceof WireError ? e : new WireError('EPROTO', `unparseable response: ${(e as Error).message}`))
    }
  }

  private readonly onEnd = (): void => {
    if (this.dead) return
    if (this.req !== null && this.phase === Phase.UntilClose) {
      this.keepAlive = false
      this.complete(null, 0)
      return
    }
    this.pool.drop(this, null)
  }

  private readonly onError = (err: Error): void => {
    if (this.dead) return
    this.pool.drop(this, err)
  }

  private readonly onClose = (): void => {
    if (this.dead) return
    this.pool.drop(this, this.error)
  }

  private protocolError(message: string): WireError {
    return new WireError('EPROTO', `unparseable response: ${message}`)
  }

  /** Consumes one 'data' chunk. Throws WireError('EPROTO') on a malformed response. */
  private parse(chunk: Buffer): void {
    let buf = chunk
    let pos = 0
    while (pos < buf.length) {
      switch (this.phase) {
        case Phase.Head: {
          if (this.head !== null) {
            // The head spans chunks (rare): join it with the new bytes.
            buf = Buffer.concat([this.head, buf.subarray(pos)])
            pos = 0
            this.head = null
          }
          for (let i = 0; i < 5 && pos + i < buf.length; i++) {
            if (buf[pos + i] !== HTTP_SLASH[i]) throw this.protocolError('no HTTP status line')
          }
          const end = buf.indexOf(HEAD_END, pos)
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD) throw this.protocolError('head larger than 64 KiB')
            this.head = buf.subarray(pos)
            return
          }
          if (end - pos > MAX_HEAD) throw this.protocolError('head larger than 64 KiB')
          this.parseHead(buf, pos, end)
          pos = end + 4
          const status = this.status
          if (status < 200) {
            if (status === 101) throw this.protocolError('unexpected 101 Switching Protocols')
            // Interim answer (100 Continue, 103 Early Hints): wait for the final one.
            this.headers = Object.create(null) as Record<string, string>
            this.keepAlive = true
            continue
          }
          if (status === 204 || status === 304) {
            this.complete(buf, pos)
            return
          }
          const h = this.headers
          const te = h['transfer-encoding']
          if (te !== undefined) {
            if (te === 'chunked' || te.slice(te.lastIndexOf(',') + 1).trim().toLowerCase() === 'chunked') {
              this.phase = Phase.ChunkSize
              this.sizeAcc = 0
              this.sizeDigits = 0
              this.sizeExt = false
              this.lineLen = 0
            } else {
              this.phase = Phase.UntilClose
              this.keepAlive = false
            }
            break
          }
          const cl = h['content-length']
          if (cl !== undefined) {
            const len = parseContentLength(cl)
            if (len < 0) throw this.protocolError(`bad Content-Length ${JSON.stringify(cl)}`)
            if (len > MAX_BODY) throw this.protocolError('body larger than 1 MiB')
            if (len === 0) {
              this.complete(buf, pos)
              return
            }
            this.phase = Phase.Length
            this.remaining = len
            break
          }
          this.phase = Phase.UntilClose
          this.keepAlive = false
          break
        }
        case Phase.Length:
        case Phase.ChunkData: {
          const n = Math.min(this.remaining, buf.length - pos)
          this.addBody(buf, pos, pos + n)
          pos += n
          this.remaining -= n
          if (this.remaining === 0) {
            if (this.phase === Phase.Length) {
              this.complete(buf, pos)
              return
            }
            this.phase = Phase.ChunkDataEnd
            this.lineLen = 0
          }
          break
        }
        case Phase.ChunkDataEnd: {
          // The CRLF after a chunk's data.
          const c = buf[pos++]!
          if (c === CR && this.lineLen === 0) this.lineLen = 1
          else if (c === LF) {
            this.phase = Phase.ChunkSize
            this.sizeAcc = 0
            this.sizeDigits = 0
            this.sizeExt = false
            this.lineLen = 0
          } else throw this.protocolError('missing CRLF after chunk data')
          break
        }
        case Phase.ChunkSize: {
          // hex size, then optional ";ext=..." (ignored) up to LF.
          while (pos < buf.length) {
            const c = buf[pos++]!
            if (++this.lineLen > MAX_CHUNK_LINE) throw this.protocolError('chunk size line too long')
            if (c === LF) {
              if (this.sizeDigits === 0) throw this.protocolError('empty chunk size')
              if (this.sizeAcc === 0) {
                this.phase = Phase.Trailers
                this.lineLen = 0
                this.trailerLen = 0
              } else {
                this.phase = Phase.ChunkData
                this.remaining = this.sizeAcc
              }
              break
            }
            if (this.sizeExt) continue
            const v = hexValue(c)
            if (v >= 0) {
              this.sizeAcc = this.sizeAcc * 16 + v
              this.sizeDigits++
              if (this.bodyLen + this.sizeAcc > MAX_BODY) throw this.protocolError('body larger than 1 MiB')
            } else if (this.sizeDigits > 0 && (c === 0x3b || c === 0x20 || c === 0x09 || c === CR)) {
              this.sizeExt = true
            } else throw this.protocolError('bad chunk size')
          }
          break
        }
        case Phase.Trailers: {
          // Trailer fields (discarded) up to an empty line.
          while (pos < buf.length) {
            const c = buf[pos++]!
            if (++this.trailerLen > MAX_TRAILERS) throw this.protocolError('trailers larger than 64 KiB')
            if (c === LF) {
              if (this.lineLen === 0) {
                this.complete(buf, pos)
                return
              }
              this.lineLen = 0
            } else if (c !== CR) this.lineLen++
          }
          break
        }
        case Phase.UntilClose: {
          this.addBody(buf, pos, buf.length)
          pos = buf.length
          break
        }
      }
    }
  }

  private addBody(buf: Buffer, from: number, to: number): void {
    if (to === from) return
    const piece = buf.subarray(from, to)
    this.bodyLen += to - from
    if (this.bodyLen > MAX_BODY) throw this.protocolError('body larger than 1 MiB')
    if (this.body === null && this.parts === null) this.body = piece // the common case: one piece, no copy
    else {
      if (this.parts === null) {
        this.parts = [this.body!]
        this.body = null
      }
      this.parts.push(piece)
    }
  }

  /** Status line and header fields of buf[from, end) (end = the index of the final CRLFCRLF). */
  private parseHead(buf: Buffer, from: number, end: number): void {
    // "HTTP/1.x SSS reason"
    if (buf[from + 5] !== 0x31 || buf[from + 6] !== 0x2e || !isDigit(buf[from + 7]) || buf[from + 8] !== 0x20 ||
      !isDigit(buf[from + 9]) || !isDigit(buf[from + 10]) || !isDigit(buf[from + 11])) {
      throw this.protocolError('bad status line')
    }
    const after = buf[from + 12]
    if (after !== 0x20 && after !== CR) throw this.protocolError('bad status line')
    this.status = (buf[from + 9]! - 48) * 100 + (buf[from + 10]! - 48) * 10 + (buf[from + 11]! - 48)
    const http10 = buf[from + 7] === 0x30
    const headers = this.headers
    let line = buf.indexOf(LF, from + 12) + 1
    const stop = end + 2 // the CRLF of the last field line
    while (line > 0 && line < stop) {
      let eol = buf.indexOf(LF, line)
      if (eol < 0 || eol > stop) eol = stop
      const lineEnd = buf[eol - 1] === CR ? eol - 1 : eol
      const first = buf[line]
      if (first === 0x20 || first === 0x09) throw this.protocolError('obsolete line folding')
      let colon = line
      while (colon < lineEnd && buf[colon] !== 0x3a) colon++
      if (colon === line || colon === lineEnd) throw this.protocolError('bad header line')
      let vs = colon + 1
      let ve = lineEnd
      while (vs < ve && (buf[vs] === 0x20 || buf[vs] === 0x09)) vs++
      while (ve > vs && (buf[ve - 1] === 0x20 || buf[ve - 1] === 0x09)) ve--
      const name = buf.toString('latin1', line, colon).toLowerCase()
      const value = buf.toString('latin1', vs, ve)
      const prev = headers[name]
      headers[name] = prev === undefined ? value : `${prev}, ${value}`
      line = eol + 1
    }
    const connection = headers.connection
    if (connection !== undefined) {
      if (hasToken(connection, 'close')) this.keepAlive = false
      else if (http10 && !hasToken(connection, 'keep-alive')) this.keepAlive = false
    } else if (http10) this.keepAlive = false
  }

  /** The response is complete; `buf[pos...]` are bytes past its end (none expected: no pipelining). */
  private complete(buf: Buffer | null, pos: number): void {
    const req = this.req!
    const body = this.parts !== null ? Buffer.concat(this.parts, this.bodyLen) : (this.body ?? EMPTY)
    const res: WireResponse = { status: this.status, headers: this.headers, body }
    const reusable = this.keepAlive && (buf === null || pos === buf.length)
    this.req = null
    req.conn = null
    this.served++
    this.phase = Phase.Head
    this.head = null
    this.headers = Object.create(null) as Record<string, string>
    this.keepAlive = true
    this.body = null
    this.parts = null
    this.bodyLen = 0
    if (reusable) this.pool.release(this)
    else this.pool.drop(this, null)
    req.succeed(res)
  }
}

/** Content-Length as a number; -1 when invalid. Repeated identical values ("5, 5") are accepted. */
function parseContentLength(v: string): number {
  let result = -1
  for (const part of v.split(',')) {
    const s = part.trim()
    if (s.length === 0 || s.length > 15) return -1
    let n = 0
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c < 48 || c > 57) return -1
      n = n * 10 + (c - 48)
    }
    if (result >= 0 && n !== result) return -1
    result = n
  }
  return result
}

/** Up to `connections` keep-alive sockets to one origin; requests beyond that wait in a FIFO queue. */
export class WirePool {
  readonly timeoutMs: number
  private readonly connectTimeoutMs: number
  private readonly keepAliveMs: number
  private readonly connections: number
  private readonly target: { host: string; port: number; tls: boolean }
  /** "Host: ..." as sent: host[:port] as in the URL (IPv6 keeps its brackets). */
  private readonly hostHeader: string
  private readonly live = new Set<Conn>()
  /** Idle sockets, most recently used last (reused first, so the others age out). */
  private readonly idle: Conn[] = []
  private readonly queue: PendingRequest[] = []
  private sweeper: NodeJS.Timeout | null = null
  private readonly sweepEveryMs: number
  private closed = false

  constructor(o: WirePoolOptions) {
    const u = new URL(o.url)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`WirePool: not an http(s) URL: ${o.url}`)
    if (!(o.connections >= 1)) throw new RangeError('WirePool: connections must be >= 1')
    const isTls = u.protocol === 'https:'
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    this.target = { host: hostname, port: u.port === '' ? (isTls ? 443 : 80) : Number(u.port), tls: isTls }
    this.hostHeader = u.host
    this.connections = Math.floor(o.connections)
    this.timeoutMs = o.timeoutMs
    this.connectTimeoutMs = o.connectTimeoutMs ?? 10_000
    this.keepAliveMs = o.keepAliveMs ?? 4_000
    // Deadlines are checked by one sweep timer rather than a timer per request; a timeout fires up to
    // a quarter of the shortest limit late (at most 1 s).
    this.sweepEveryMs = Math.max(5, Math.min(1000, Math.floor(Math.min(this.timeoutMs, this.connectTimeoutMs, this.keepAliveMs) / 4)))
  }

  request(path: string, headers: Record<string, string>, body: string, signal?: AbortSignal): Promise<WireResponse> {
    if (this.closed) return Promise.reject(new WireError('ERR_POOL_CLOSED', 'the HTTP pool is closed'))
    if (signal?.aborted) return Promise.reject(signal.reason)
    let bytes: Buffer
    try {
      bytes = this.encode(path, headers, body)
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<WireResponse>((resolve, reject) => {
      const req = new PendingRequest(this, bytes, resolve, reject, signal)
      signal?.addEventListener('abort', req)
      this.dispatch(req)
    })
  }

  /** The whole request as one Buffer: head in Latin-1, body in UTF-8. */
  private encode(path: string, headers: Record<string, string>, body: string): Buffer {
    for (let i = 0; i < path.length; i++) {
      const c = path.charCodeAt(i)
      if (c <= 0x20 || c >= 0x7f) throw new WireError('ERR_INVALID_PATH', `invalid request path ${JSON.stringify(path)}`)
    }
    let head = `POST ${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n`
    for (const name in headers) {
      const value = headers[name]!
      if (!isToken(name)) throw new WireError('ERR_INVALID_HEADER', `invalid header name ${JSON.stringify(name)}`)
      if (!isSendableValue(value)) {
        throw new WireError('ERR_INVALID_HEADER', `invalid value for header ${name} (CR, LF, NUL or a character above U+00FF)`)
      }
      if (isManagedHeader(name)) throw new WireError('ERR_INVALID_HEADER', `header ${name} is set by the HTTP client`)
      head += `${name}: ${value}\r\n`
    }
    const bodyLen = Buffer.byteLength(body, 'utf8')
    head += `Content-Length: ${bodyLen}\r\n\r\n`
    const out = Buffer.allocUnsafe(head.length + bodyLen)
    out.write(head, 0, 'latin1')
    if (bodyLen > 0) out.write(body, head.length, 'utf8')
    return out
  }

  private dispatch(req: PendingRequest): void {
    const conn = this.idle.pop()
    if (conn !== undefined) conn.send(req)
    else if (this.live.size < this.connections) this.open(req)
    else this.queue.push(req)
  }

  private open(req: PendingRequest): void {
    const conn = new Conn(this, req, this.target)
    conn.deadline = performance.now() + this.connectTimeoutMs
    this.live.add(conn)
    if (this.sweeper === null) {
      this.sweeper = setInterval(this.sweep, this.sweepEveryMs)
      this.sweeper.unref() // an outstanding request's socket keeps the process alive, not this timer
    }
  }

  /** A socket finished a response and may serve the next request. */
  release(conn: Conn): void {
    const next = this.queue.shift()
    if (next !== undefined) conn.send(next)
    else {
      conn.idleSince = performance.now()
      this.idle.push(conn)
    }
  }

  /** Removes a socket from the pool and destroys it; its outstanding request (if any) fails with
   *  `err`'s code (ECONNRESET without one) or, on a stale keep-alive socket, is retried once. */
  drop(conn: Conn, err: Error | null): void {
    if (conn.dead) return
    conn.dead = true
    this.live.delete(conn)
    const i = this.idle.lastIndexOf(conn)
    if (i >= 0) this.idle.splice(i, 1)
    conn.socket.destroy()
    const req = conn.req
    conn.req = null
    if (req !== null && !req.settled) {
      req.conn = null
      const code = wireCode(err)
      // Stale keep-alive race: the server closed an idle socket just as we reused it. Nothing of the
      // request was processed (not a byte of answer came back), so sending it once more on a fresh
      // connection is safe, as browsers and undici do. Any other failure goes back to the caller.
      if (conn.served > 0 && !conn.responseStarted && !req.retried && !this.closed && (code === 'ECONNRESET' || code === 'EPIPE')) {
        req.retried = true
        this.open(req)
      } else {
        req.fail(toWireError(err, code))
      }
    }
    this.pump()
  }

  /** Opens sockets for queued requests while there is room. */
  private pump(): void {
    while (this.queue.length > 0 && this.live.size < this.connections && !this.closed) this.open(this.queue.shift()!)
    if (this.live.size === 0 && this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
  }

  /** An aborted request leaves the queue or takes its socket down with it. */
  abandon(req: PendingRequest): void {
    const conn = req.conn
    if (conn !== null) {
      conn.req = null
      req.conn = null
      this.drop(conn, null)
    } else {
      const i = this.queue.indexOf(req)
      if (i >= 0) this.queue.splice(i, 1)
    }
  }

  private readonly sweep = (): void => {
    const now = performance.now()
    for (const conn of this.live) {
      if (conn.req !== null) {
        if (now >= conn.deadline) {
          this.drop(conn, new WireError('ETIMEDOUT', conn.connected
            ? `no complete response within ${this.timeoutMs} ms`
            : `connect timeout after ${this.connectTimeoutMs} ms`))
        }
      } else if (now - conn.idleSince >= this.keepAliveMs) this.drop(conn, null)
    }
  }

  /** Destroys all sockets; outstanding and queued requests fail with ERR_POOL_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const err = new WireError('ERR_POOL_CLOSED', 'the HTTP pool is closed')
    for (const req of this.queue.splice(0)) req.fail(err)
    const closing: Promise<void>[] = []
    for (const conn of [...this.live]) {
      if (!conn.socket.closed) closing.push(new Promise((r) => conn.socket.once('close', () => r())))
      const req = conn.req
      conn.req = null
      this.drop(conn, null)
      req?.fail(err)
    }
    if (this.sweeper !== null) {
      clearInterval(this.sweeper)
      this.sweeper = null
    }
    await Promise.all(closing)
  }
}

function wireCode(err: Error | null): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'ECONNRESET'
}

function toWireError(err: Error | null, code: string): WireError {
  if (err instanceof WireError) return err
  if (err === null) return new WireError('ECONNRESET', 'the connection closed before a complete response')
  return new WireError(code, err.message, { cause: err })
}
