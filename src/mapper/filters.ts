// --include-path / --exclude-path patterns and --host matching, compiled once per mapper.
import picomatch from 'picomatch'
import { boundedMemo } from '../util/memo.js'

/** Characters that only a regular expression would contain; they tell `/re/flags` from a glob
 *  such as `/blog/` that merely starts and ends with a slash. */
const REGEX_ONLY = /[\^$\\()[\]{}|+]/
const REGEX_LITERAL = /^\/(.+)\/([a-z]*)$/s
/** JavaScript's regular-expression flags, each at most once. */
const REGEX_FLAGS = /^(?!.*(.).*\1)[dgimsuvy]*$/
/** A `/` not escaped by a backslash: a regular-expression literal has none between its slashes. */
const BARE_SLASH = /(^|[^\\])\//

/** A path pattern: `/.../flags` is a regular expression (tested against the path, unanchored) when
 *  the flags are regular-expression flags and the text between the slashes contains one of
 *  `^ $ \ ( ) [ ] { } | +`, or flags are given and that text has no unescaped `/` (`/blog/i`;
 *  `/api/v1/users` is a path); anything else is a glob (picomatch, `/` the only separator, dot files included) matched against
 *  the whole path: `*` within one segment, `**` across segments (`/blog/**` also matches `/blog`),
 *  `?` one character, `{a,b}` and `[...]`. A glob without a leading `/` matches at any depth
 *  (`*.php` matches `/a/b.php`). Throws on an invalid regex. */
export function compilePathPattern(pattern: string): RegExp {
  const m = REGEX_LITERAL.exec(pattern)
  if (m !== null && REGEX_FLAGS.test(m[2]!) && (REGEX_ONLY.test(m[1]!) || (m[2] !== '' && !BARE_SLASH.test(m[1]!)))) {
    // `g`/`y` make RegExp.test stateful (lastIndex): drop them.
    return new RegExp(m[1]!, m[2]!.replace(/[gy]/g, ''))
  }
  return picomatch.makeRe(pattern.startsWith('/') ? pattern : `**/${pattern}`, { dot: true, windows: false })
}

/** `null` when there is nothing to filter; otherwise `true` when the path is kept: it matches one
 *  of `include` (if any are given) and none of `exclude`. */
export function createPathFilter(include: readonly string[] = [], exclude: readonly string[] = []): ((path: string) => boolean) | null {
  if (include.length === 0 && exclude.length === 0) return null
  const inc = include.map(compilePathPattern)
  const exc = exclude.map(compilePathPattern)
  return (path) => {
    if (inc.length > 0) {
      let hit = false
      for (const re of inc)
        if (re.test(path)) {
          hit = true
          break
        }
      if (!hit) return false
    }
    for (const re of exc) if (re.test(path)) return false
    return true
  }
}

function lowerHost(host: string): string {
  const h = host.toLowerCase()
  return h.endsWith('.') ? h.slice(0, -1) : h
}

/** Lower case, no trailing dot, no leading `www.`: `WWW.Example.com.` -> `example.com`. */
export function normaliseHost(host: string): string {
  const h = lowerHost(host)
  return h.startsWith('www.') ? h.slice(4) : h
}

/** Matches host names against a list: `example.com` matches `example.com` and `www.example.com`
 *  (any case); `*.example.com` matches every subdomain of example.com (not example.com itself). */
export function createHostMatcher(hosts: readonly string[]): (host: string) => boolean {
  const exact = new Set<string>()
  const suffixes: string[] = []
  for (const h of hosts) {
    const t = h.trim()
    if (t === '') continue
    if (t.startsWith('*.')) suffixes.push('.' + lowerHost(t.slice(2)))
    else exact.add(normaliseHost(t))
  }
  return boundedMemo((host: string): boolean => {
    const lower = lowerHost(host)
    if (exact.has(lower.startsWith('www.') ? lower.slice(4) : lower)) return true
    for (const s of suffixes) if (lower.endsWith(s)) return true
    return false
  }, 1000)
}

/** The host of an absolute URL (`https://user@Host:8080/x` -> `host`), normalised as
 *  `normaliseHost`; `null` when the text has no `scheme://host`. */
export function urlHost(url: string): string | null {
  const sep = url.indexOf('://')
  if (sep <= 0) return null
  let start = sep + 3
  let end = url.length
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i
      break
    } // / ? #
  }
  const at = url.lastIndexOf('@', end - 1)
  if (at >= start) start = at + 1
  let host: string
  if (url.charCodeAt(start) === 0x5b) {
    const close = url.indexOf(']', start)
    host = close > start && close < end ? url.slice(start, close + 1) : url.slice(start, end)
  } else {
    const colon = url.indexOf(':', start)
    host = url.slice(start, colon >= 0 && colon < end ? colon : end)
  }
  return host === '' ? null : normaliseHost(host)
}
