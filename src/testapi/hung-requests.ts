// Requests the test API holds and never answers (hang faults, hang outages): kept open until their
// client gives up (or the test API closes), counted while open.
import type { ServerResponse } from 'node:http'

export interface HungRequests {
  /** Never answers `res`; it is forgotten when its connection closes. */
  hold(res: ServerResponse): void
  /** Held requests whose connection is still open. */
  open(): number
  /** Destroys the connections of every held request. */
  destroyAll(): void
}

export function createHungRequests(): HungRequests {
  const held = new Set<ServerResponse>()
  return {
    hold(res) {
      if (res.socket === null || res.socket.destroyed) return
      held.add(res)
      res.once('close', () => held.delete(res))
    },
    open: () => held.size,
    destroyAll() {
      for (const res of held) res.socket?.destroy()
      held.clear()
    },
  }
}
