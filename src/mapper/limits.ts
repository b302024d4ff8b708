// Field limits of the Swetrix Events API (and of its Data Import, where the API itself sets none):
// every body the mapper builds stays inside them, so no request is rejected for its size.

export const LIMITS = {
  /** `pg`: no API maximum; Data Import keeps 2048, so live and imported paths agree. */
  pg: 2048,
  /** `ref`: as `pg`. */
  ref: 2048,
  /** `so`, `me`, `ca`, `te`, `co`. */
  utm: 256,
  /** `qs`: longer is a 400. The mapper sends none (it derives the click-id source itself). */
  qs: 2048,
  /** `ev` (custom event name). */
  ev: 256,
  /** `name` of an error. */
  errorName: 200,
  /** `message` of an error. */
  errorMessage: 2000,
  metaKeys: 100,
  /** Sum of the lengths of all meta keys and values. */
  metaChars: 2000,
  /** `lc`: Data Import keeps 35. */
  lc: 35,
} as const

/** `s` cut to at most `max` UTF-16 units, never splitting a surrogate pair. The API counts a pair
 *  as one character, so the JS length is a safe upper bound. */
export function cut(s: string, max: number): string {
  if (s.length <= max) return s
  let end = max
  const last = s.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return s.slice(0, end)
}

/** Keeps meta entries in order while they fit: at most 100 keys, keys + values <= 2000 characters;
 *  a value that does not fit whole is cut, a key whose value would be empty is dropped. */
export function limitMeta(entries: ReadonlyArray<readonly [string, string]>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  let used = 0
  let keys = 0
  for (const [key, value] of entries) {
    if (keys >= LIMITS.metaKeys) break
    const room = LIMITS.metaChars - used - key.length
    if (room <= 0 || value.length === 0) continue
    const v = cut(value, room)
    if (v.length === 0) continue
    out ??= {}
    out[key] = v
    used += key.length + v.length
    keys++
  }
  return out
}
