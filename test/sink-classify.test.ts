import { describe, expect, it } from 'vitest'
import { certificateMessage, classifyAnswer, classifyFailure } from '../src/sink/classify.js'
import { RequestTimeoutError } from '../src/sink/http-attempt.js'

const answer = (status: number, text = '', headers: Record<string, string> = {}) =>
  classifyAnswer({ status, headers, text }, Date.parse('2026-01-01T00:00:00Z'))
const withCode = (code: string, cause?: unknown) => Object.assign(new Error(code), { code, cause })

describe('classifyAnswer', () => {
  it('accepted on 2xx, bot on the bot message', () => {
    expect(answer(201, '{}')).toEqual({ kind: 'accepted', status: 201 })
    expect(answer(200, '{"message":"Bot traffic detected, request is ignored"}')).toEqual({ kind: 'bot', status: 200 })
  })
  it("accepted only on Swetrix's own 2xx bodies: {} (any whitespace) or the bot message", () => {
    expect(answer(201, ' { }\n')).toEqual({ kind: 'accepted', status: 201 })
    expect(answer(201, '{"message":"Bot traffic detected, request is ignored"}')).toEqual({ kind: 'bot', status: 201 })
  })
  it("a 2xx that is not Swetrix's (HTML, other JSON, empty, an array) is foreign: never accepted, one line with an escaped sample", () => {
    for (const body of ['<html><head><title>Sign in to Wi-Fi</title></head></html>', '{"ok":true}', '', '[]', 'null', '"{}"', '{"message":"ok"}']) {
      const c = answer(200, body)
      expect(c.kind, body).toBe('foreign')
    }
    const html = answer(200, '<html>\n<body>\u001b[31mLogin</body></html>')
    expect(html.kind === 'foreign' && html.detail).toMatch(/^HTTP 200 with "<html> <body>\\x1b\[31mLogin.*not an answer of the Swetrix API/)
    expect(html.kind === 'foreign' && html.detail).not.toContain('\n')
    expect(answer(204).kind === 'foreign' && (answer(204) as { detail: string }).detail).toContain('an empty body')
  })
  it('transient on 408/429/5xx with Retry-After as seconds or a date', () => {
    expect(answer(429, '{"message":"Too many requests"}', { 'retry-after': '3' })).toEqual({
      kind: 'transient',
      status: 429,
      detail: 'HTTP 429 Too many requests',
      retryAfterMs: 3000,
    })
    expect(answer(503, '', { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' })).toMatchObject({ kind: 'transient', retryAfterMs: 5000 })
    expect(answer(408)).toMatchObject({ kind: 'transient' })
  })
  it('fatal on 401/402, the project messages, "Cannot POST" and redirects', () => {
    expect(answer(401, '{"message":"Unauthorized"}')).toEqual({ kind: 'fatal', status: 401, message: 'Unauthorized' })
    expect(answer(402)).toMatchObject({ kind: 'fatal' })
    expect(answer(400, '{"message":"The provided Project ID (pid) is incorrect"}')).toMatchObject({ kind: 'fatal' })
    expect(answer(400, '{"message":"Incoming analytics is disabled for this project"}')).toMatchObject({ kind: 'fatal' })
    expect(answer(404, '{"message":"Project AAAA was not found in the database"}')).toMatchObject({ kind: 'fatal' })
    expect(answer(404, '<pre>Cannot POST /log</pre>')).toMatchObject({ kind: 'fatal' })
    expect(answer(301, '', { location: 'https://x/log' })).toEqual({ kind: 'fatal', status: 301, message: '', redirect: { location: 'https://x/log' } })
  })
  it('dead on other 4xx, with the body bounded', () => {
    expect(answer(400, '{"message":["pg must be shorter"]}')).toEqual({ kind: 'dead', status: 400, body: '{"message":["pg must be shorter"]}' })
    const big = answer(413, 'x'.repeat(5000))
    expect(big.kind === 'dead' && big.body.length).toBe(2001)
  })
})

describe('classifyFailure', () => {
  it('refused, DNS and connect timeouts are transient and carry whether the request was written', () => {
    expect(classifyFailure(withCode('ECONNREFUSED'), false)).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED', written: false })
    expect(classifyFailure(withCode('ENOTFOUND'), false)).toMatchObject({ kind: 'transient', written: false })
    expect(classifyFailure(withCode('UND_ERR_SOCKET'), true)).toMatchObject({ kind: 'transient', written: true })
    expect(classifyFailure(withCode('UND_ERR_HEADERS_TIMEOUT'), true)).toMatchObject({ kind: 'transient', written: true, timedOut: true })
    expect(classifyFailure(new RequestTimeoutError(500), true)).toMatchObject({ kind: 'transient', written: true, timedOut: true })
    expect(classifyFailure(withCode('ECONNRESET'), true)).toMatchObject({ kind: 'transient', written: true, timedOut: false })
  })
  it('certificate failures are their own kind, also when wrapped', () => {
    expect(classifyFailure(withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), false)).toMatchObject({ kind: 'certificate', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })
    expect(classifyFailure(withCode('UND_ERR_SOCKET', withCode('CERT_HAS_EXPIRED')), false)).toMatchObject({ kind: 'certificate', code: 'CERT_HAS_EXPIRED' })
    expect(classifyFailure(withCode('ERR_TLS_CERT_ALTNAME_INVALID'), false)).toMatchObject({ kind: 'certificate' })
  })
  it('anything else is unexpected', () => {
    expect(classifyFailure(new Error('boom'), false)).toEqual({ kind: 'unexpected' })
  })
  it('the certificate message names the problem and the remedy on one line', () => {
    const m = certificateMessage('https://api.example/log', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate')
    expect(m).toMatch(/^TLS certificate of https:\/\/api\.example\/log is signed by a CA this machine does not trust .*--ca-file/)
    expect(certificateMessage('https://a/log', 'CERT_HAS_EXPIRED', '')).toContain('has expired')
    expect(certificateMessage('https://a/log', 'ERR_TLS_CERT_ALTNAME_INVALID', '')).toContain('does not name this host')
    expect(m).not.toContain('\n')
  })
})
