// The runtimes' timestamps: Go's RFC 3339 with nanoseconds (containerd and Docker write
// `2026-12-07T12:00:00.123456789Z`, trailing zeros of the fraction dropped; CRI-O writes the offset,
// `2026-12-07T12:00:00.123456789+01:00`). Checked on bytes, not decoded: only its shape matters here.

const D0 = 0x30
const D9 = 0x39

function digits(buf: Buffer, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) {
    const c = buf[i]
    if (c === undefined || c < D0 || c > D9) return false
  }
  return true
}

/** Index just after an RFC 3339 timestamp starting at `at` (and ending by `limit`), or -1. */
export function scanRfc3339(buf: Buffer, at: number, limit: number): number {
  // YYYY-MM-DDTHH:MM:SS
  if (at + 20 > limit) return -1
  if (!digits(buf, at, 4) || buf[at + 4] !== 0x2d || !digits(buf, at + 5, 2) || buf[at + 7] !== 0x2d || !digits(buf, at + 8, 2)) return -1
  if (buf[at + 10] !== 0x54 || !digits(buf, at + 11, 2) || buf[at + 13] !== 0x3a || !digits(buf, at + 14, 2) || buf[at + 16] !== 0x3a) return -1
  if (!digits(buf, at + 17, 2)) return -1
  let i = at + 19
  if (buf[i] === 0x2e) {
    const from = ++i
    while (i < limit && i - from < 9 && buf[i]! >= D0 && buf[i]! <= D9) i++
    if (i === from) return -1
  }
  if (i >= limit) return -1
  if (buf[i] === 0x5a) return i + 1 // Z
  if ((buf[i] === 0x2b || buf[i] === 0x2d) && i + 6 <= limit && digits(buf, i + 1, 2) && buf[i + 3] === 0x3a && digits(buf, i + 4, 2)) return i + 6
  return -1
}
