// Which files to read, in which order: shell-style globs for quoted patterns, rotated siblings of a
// live log (beside a symlink's target: kubelet rotates the file under /var/log/pods, not the link in
// /var/log/containers), and oldest-first natural order (`.10` after `.9`).
import { lstat, readdir, readlink, stat } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import picomatch from 'picomatch'

/** A command-line input that can't be used; the message is one line naming the input. */
export class InputError extends Error {
  override readonly name = 'InputError'
}

/** Rotation suffix of a file name relative to its live name. */
type Rotation =
  | { kind: 'numbered'; n: number } // access.log.3, access.log.3.gz, <id>-json.log.1 (Docker)
  | { kind: 'dated'; stamp: string; n: number } // access.log-20240131, -2024013114, -20240131-2[.gz], 0.log.20240131-142500[.gz] (kubelet)
  | { kind: 'live' }

const ROTATED = /^(.+?)(?:\.(\d{8})-(\d{6})|\.(\d+)|-(\d{8}|\d{10})(?:-(\d+))?)(?:\.gz)?$/

/** Splits a file name into its live log name and rotation generation. */
export function parseRotation(name: string): { base: string; rotation: Rotation } {
  const m = ROTATED.exec(name)
  if (!m) return { base: name, rotation: { kind: 'live' } }
  const base = m[1] as string
  // kubelet: `<n>.log.YYYYMMDD-HHMMSS` (Go layout 20060102-150405), compressed later to `.gz`.
  if (m[2] !== undefined) return { base, rotation: { kind: 'dated', stamp: `${m[2]}${m[3] as string}`, n: -1 } }
  if (m[4] !== undefined) return { base, rotation: { kind: 'numbered', n: Number(m[4]) } }
  // Daily (8 digits) and hourly (10) stamps sort with kubelet's (14): missing hours, minutes and seconds are 0.
  const stamp = (m[5] as string).padEnd(14, '0')
  return { base, rotation: { kind: 'dated', stamp, n: m[6] === undefined ? -1 : Number(m[6]) } }
}

/** kubelet compresses a rotated log into `<name>.tmp` and renames it to `<name>.gz` when done: the
 *  temporary file is neither a generation nor a live log. */
export function isRotationTemp(name: string): boolean {
  return name.endsWith('.tmp') && parseRotation(name.slice(0, -4)).rotation.kind !== 'live'
}

/** Oldest first: numbered generations (highest number first), then dated ones (oldest date first),
 *  then the live file. */
function compareRotation(a: Rotation, b: Rotation): number {
  const rank = (r: Rotation): number => (r.kind === 'numbered' ? 0 : r.kind === 'dated' ? 1 : 2)
  if (a.kind !== b.kind) return rank(a) - rank(b)
  if (a.kind === 'numbered' && b.kind === 'numbered') return b.n - a.n
  if (a.kind === 'dated' && b.kind === 'dated') return a.stamp < b.stamp ? -1 : a.stamp > b.stamp ? 1 : a.n - b.n
  return 0
}

/** Natural order: digit runs compare by value, so `x.9` < `x.10`. */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? []
  const tb = b.match(/\d+|\D+/g) ?? []
  const n = Math.min(ta.length, tb.length)
  for (let i = 0; i < n; i++) {
    const x = ta[i] as string
    const y = tb[i] as string
    if (x === y) continue
    const dx = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57
    const dy = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57
    if (dx && dy) {
      const sx = x.replace(/^0+(?=\d)/, '')
      const sy = y.replace(/^0+(?=\d)/, '')
      if (sx.length !== sy.length) return sx.length - sy.length
      if (sx !== sy) return sx < sy ? -1 : 1
      if (x.length !== y.length) return x.length - y.length
      continue
    }
    return x < y ? -1 : 1
  }
  return ta.length - tb.length
}

/** Existing rotated generations of `path`, oldest first; `path` itself excluded. For a symlink
 *  they are looked for beside the file it points to as well (kubelet rotates `/var/log/pods/.../0.log`,
 *  which `/var/log/containers/<pod>_<ns>_<container>-<id>.log` links to), named by their real paths. */
export async function rotatedSiblings(path: string): Promise<string[]> {
  const found = await generationsBeside(path)
  const target = await linkTarget(path)
  if (target !== path) {
    const seen = new Set(found.map((f) => resolve(f.path)))
    for (const f of await generationsBeside(target)) if (!seen.has(resolve(f.path))) found.push(f)
  }
  found.sort((a, b) => compareRotation(a.rotation, b.rotation) || naturalCompare(a.path, b.path))
  return found.map((f) => f.path)
}

async function generationsBeside(file: string): Promise<{ path: string; rotation: Rotation }[]> {
  const dir = dirname(file)
  const live = basename(file)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const found: { path: string; rotation: Rotation }[] = []
  for (const name of names) {
    if (name === live || !name.startsWith(live)) continue
    const { base, rotation } = parseRotation(name)
    if (base !== live || rotation.kind === 'live') continue
    const full = join(dir, name)
    if (!(await isFile(full))) continue
    found.push({ path: full, rotation })
  }
  return found
}

/** Symlinks followed before giving up (the kernel's own limit is 40). */
const MAX_LINKS = 40

/** The path `path` names once symlinks in its last component are followed: `path` itself when it is
 *  not a link, the (possibly missing) file a dangling link points to, `path` again for a link loop.
 *  Absolute when `path` is a link; directories on the way are not resolved. */
export async function linkTarget(path: string): Promise<string> {
  let current = path
  for (let i = 0; i < MAX_LINKS; i++) {
    let st
    try {
      st = await lstat(current)
    } catch {
      return current
    }
    if (!st.isSymbolicLink()) return current
    let text: string
    try {
      text = await readlink(current)
    } catch {
      return current
    }
    current = resolve(dirname(resolve(current)), text)
  }
  return path
}

/** Files named by command-line inputs: plain paths and shell-style globs (`*`, `?`, `[...]`, also
 *  quoted ones the shell did not expand). Deduplicated; ordered oldest first: grouped by live log
 *  name (natural order), rotated generations oldest first, then the live file. Stdin (`-`) is the
 *  caller's business. Throws InputError for a missing file, a pattern without matches, a directory. */
export async function expandInputs(patterns: string[]): Promise<string[]> {
  const seen = new Set<string>()
  const files: { path: string; group: string; rotation: Rotation }[] = []
  const add = (p: string): void => {
    const abs = resolve(p)
    if (seen.has(abs)) return
    seen.add(abs)
    const { base, rotation } = parseRotation(basename(abs))
    files.push({ path: p, group: join(dirname(abs), base), rotation })
  }
  for (const pattern of patterns) {
    let literal: Awaited<ReturnType<typeof stat>> | undefined
    try {
      literal = await stat(pattern)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new InputError(`${pattern}: cannot read (${code ?? String(err)})`)
    }
    if (literal) {
      if (literal.isDirectory()) throw new InputError(`${pattern}: is a directory (name the log files, e.g. '${join(pattern, '*.log')}')`)
      add(pattern)
      continue
    }
    if (!hasMagic(pattern)) throw new InputError(`${pattern}: no such file`)
    const matches = await glob(pattern)
    if (matches.length === 0) throw new InputError(`${pattern}: no file matches this pattern`)
    for (const m of matches) add(m)
  }
  files.sort((a, b) => naturalCompare(a.group, b.group) || compareRotation(a.rotation, b.rotation) || naturalCompare(a.path, b.path))
  return files.map((f) => f.path)
}

export function hasMagic(pattern: string): boolean {
  return /[*?[]/.test(pattern)
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile()
  } catch {
    return false // missing, or a dangling symlink
  }
}

/** Regular files (symlinks followed; dangling ones left out) matching a '/'-separated glob; magic
 *  may appear in any segment. Like the shell, a wildcard does not match a leading '.', and matches
 *  come in natural order, directory by directory. */
export async function glob(pattern: string): Promise<string[]> {
  const segments = pattern.split('/')
  let prefixes = [isAbsolute(pattern) ? '/' : '']
  for (const seg of segments) {
    if (seg === '') continue
    if (!hasMagic(seg)) {
      const literal = seg.replace(/\\(.)/g, '$1')
      prefixes = prefixes.map((p) => joinSeg(p, literal))
      continue
    }
    const matches = segmentMatcher(seg)
    const next: string[] = []
    for (const p of prefixes) {
      let names: string[]
      try {
        names = await readdir(p === '' ? '.' : p)
      } catch {
        continue
      }
      names.sort(naturalCompare)
      for (const name of names) if (matches(name)) next.push(joinSeg(p, name))
    }
    prefixes = next
    if (prefixes.length === 0) return []
  }
  const out: string[] = []
  for (const p of prefixes) if (await isFile(p)) out.push(p)
  return out
}

function joinSeg(prefix: string, seg: string): string {
  return prefix === '' ? seg : prefix.endsWith('/') ? prefix + seg : `${prefix}/${seg}`
}

/** The shell's pattern language for one path segment: `*`, `?`, `[...]` / `[!...]`, `\x` for a
 *  literal x; everything else literal (no braces, extglobs or negation). */
const SEGMENT_OPTIONS: picomatch.PicomatchOptions = { dot: false, nobrace: true, noextglob: true, noglobstar: true, nonegate: true, posix: true }

/** One path segment of a glob as a test on a name (picomatch). */
export function segmentMatcher(seg: string): (name: string) => boolean {
  return picomatch(shellToPicomatch(seg), SEGMENT_OPTIONS)
}

/** One path segment of a glob as an anchored RegExp (for matching paths that are not listed). */
export function segmentRegExp(seg: string): RegExp {
  return picomatch.makeRe(shellToPicomatch(seg), SEGMENT_OPTIONS)
}

/** picomatch copies `(`, `)`, `{`, `}`, `|`, `+`, `@`, `!`, `$`, `^` outside brackets into its
 *  RegExp as syntax even with extglobs and braces off, and `\b` as a RegExp escape; in the shell they
 *  are literal characters. Escape them, and drop the backslash before a letter or digit. */
function shellToPicomatch(seg: string): string {
  let out = ''
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string
    if (c === '\\' && i + 1 < seg.length) {
      const next = seg[++i] as string
      out += /[A-Za-z0-9]/.test(next) ? next : `\\${next}`
    } else if (c === '[') {
      // As in the shell, ']' right after '[' (or '[!') is a member; an unclosed '[' is literal.
      let j = i + 1
      if (seg[j] === '!' || seg[j] === '^') j++
      if (seg[j] === ']') j++
      const close = seg.indexOf(']', j)
      if (close === -1) {
        out += '\\['
        continue
      }
      out += seg.slice(i, close + 1)
      i = close
    } else if ('(){}|+@!$^'.includes(c)) {
      out += `\\${c}`
    } else out += c
  }
  return out
}
