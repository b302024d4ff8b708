// Blocks of NUL bytes in a log file: what a file system leaves where data had not reached the disk
// before a power loss (an extent allocated, its bytes never written). A text log holds no raw NUL
// of its own (servers escape them), so NULs are damage: leading ones are dropped (the line after
// the block is whole), a line that is nothing but NULs is skipped, and a line with a NUL block
// inside is a fragment of two lines and is rejected. Pure; the line loop applies it.
import type { LineOutcome } from './classify.js'

/** The reason of each outcome, and of the count of lines whose leading NULs were dropped. */
export const NUL_BYTES = 'nul-bytes'

export const NUL_ONLY: LineOutcome = Object.freeze({ kind: 'passed', reason: NUL_BYTES })
export const NUL_INSIDE: LineOutcome = Object.freeze({ kind: 'rejected', reason: NUL_BYTES })

/** Whether `buf` holds a NUL byte anywhere (one native scan per batch: most hold none). */
export function hasNul(buf: Uint8Array): boolean {
  return buf.indexOf(0) !== -1
}

/** What to do with a line that may hold NULs: `line` is the text to classify (leading NULs dropped,
 *  `stripped` says whether any were), or `outcome` when the line is decided by its NULs alone. */
export function nulRepair(line: Buffer): { line: Buffer; stripped: boolean; outcome?: undefined } | { outcome: LineOutcome } {
  let i = 0
  while (i < line.length && line[i] === 0) i++
  if (i === 0 && line.indexOf(0) === -1) return { line, stripped: false }
  const rest = line.subarray(i)
  if (isBlankText(rest)) return { outcome: NUL_ONLY }
  if (rest.indexOf(0) !== -1) return { outcome: NUL_INSIDE }
  return { line: rest, stripped: i > 0 }
}

/** White space and NULs only (a NUL block padded by what was around it). */
function isBlankText(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0) return false
  }
  return true
}
