// How the test API answers on the wire: NestJS-shaped JSON bodies and headers, and the TCP reset a
// crashed or cut-off server leaves behind. Shared by the event, fault and admin routes.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'access-control-allow-origin': '*' }
export const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
}
export const OK_BODY = '{}'

export function errorBody(statusCode: number, message: string | string[]): string {
  return JSON.stringify({ statusCode, message, error: STATUS_TEXT[statusCode] ?? 'Error' })
}

export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders?: Record<string, string>): void {
  res.writeHead(status, extraHeaders === undefined ? JSON_HEADERS : { ...JSON_HEADERS, ...extraHeaders })
  res.end(body)
}

/** Ends the connection with a TCP RST (ECONNRESET on the client), as a crashed or cut-off server would. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

export function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}
