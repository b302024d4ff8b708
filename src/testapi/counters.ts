// The request counters behind `stats()`: one mutable object the routes bump in place (plain field
// increments on the hot path) and `reset()` zeroes in place, so every module may keep a reference.
import type { Endpoint } from '../types.js'
import type { EndpointCounts, FaultCounts } from './contract.js'

export interface Counters {
  requests: number
  byEndpoint: Record<Endpoint, EndpointCounts>
  bot: number
  rejected: Record<string, number>
  faults: FaultCounts
  aborted: number
  unknownRoute: number
}

function emptyEndpointCounts(): Record<Endpoint, EndpointCounts> {
  return {
    '/log': { requests: 0, accepted: 0, bot: 0 },
    '/log/custom': { requests: 0, accepted: 0, bot: 0 },
    '/log/error': { requests: 0, accepted: 0, bot: 0 },
  }
}

function emptyFaultCounts(): FaultCounts {
  return {
    serverError: 0,
    rateLimit: 0,
    reset: 0,
    resetAfterStore: 0,
    hang: 0,
    hangAfterStore: 0,
    slowBody: 0,
    portal: 0,
    proxyOk: 0,
    outageReset: 0,
    outageHang: 0,
    outages: 0,
  }
}

export function createCounters(): Counters {
  return { requests: 0, byEndpoint: emptyEndpointCounts(), bot: 0, rejected: {}, faults: emptyFaultCounts(), aborted: 0, unknownRoute: 0 }
}

export function resetCounters(c: Counters): void {
  Object.assign(c, createCounters())
}

export function countRejected(c: Counters, status: number): void {
  const key = String(status)
  c.rejected[key] = (c.rejected[key] ?? 0) + 1
}
