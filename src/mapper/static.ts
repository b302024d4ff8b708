// What counts as a static asset (never a pageview unless --include-static).

/** File extensions (lower case, compared case-insensitively) of requests that are assets, feeds or
 *  machine-readable files rather than pages: Matomo's log importer list plus modern formats.
 *  Documents and downloads (`pdf`, `zip`, ...) are NOT here: a visitor asked for them. */
export const STATIC_EXTENSIONS: readonly string[] = [
  // images
  'gif',
  'jpg',
  'jpeg',
  'png',
  'bmp',
  'ico',
  'svg',
  'svgz',
  'webp',
  'avif',
  'apng',
  'tif',
  'tiff',
  'heic',
  'jxl',
  'cur',
  // fonts
  'ttf',
  'otf',
  'eot',
  'woff',
  'woff2',
  // code, styles and their maps
  'css',
  'js',
  'mjs',
  'cjs',
  'map',
  'wasm',
  'class',
  'swf',
  // data, feeds, manifests (robots.txt, sitemap.xml, ads.txt, manifest.json, feed.xml, ...)
  'xml',
  'json',
  'txt',
  'rss',
  'atom',
  'webmanifest',
  // audio/video (players fetch them in many range requests)
  'mp4',
  'm4v',
  'webm',
  'ogv',
  'ogg',
  'oga',
  'mov',
  'mp3',
  'm4a',
  'wav',
  'flac',
  'aac',
  'opus',
  'm3u8',
  'ts',
  'vtt',
]

/** Path prefixes of machine-only resources. */
export const STATIC_PREFIXES: readonly string[] = ['/.well-known/']

const EXTENSIONS = new Set(STATIC_EXTENSIONS)

/** Longest extension in the list, so longer tails are not even sliced. */
const MAX_EXTENSION = Math.max(...STATIC_EXTENSIONS.map((e) => e.length))

/** `path` is the request target without the query, as logged. */
export function isStaticPath(path: string): boolean {
  // Scan back from the end to the last `.` of the last segment (per line: no regex, no split).
  const stop = Math.max(0, path.length - MAX_EXTENSION - 1)
  for (let i = path.length - 1; i >= stop; i--) {
    const c = path.charCodeAt(i)
    if (c === 0x2f) break // '/'
    if (c === 0x2e) {
      if (i === path.length - 1) break
      const ext = path.slice(i + 1)
      if (EXTENSIONS.has(ext) || EXTENSIONS.has(ext.toLowerCase())) return true
      break
    }
  }
  for (const prefix of STATIC_PREFIXES) if (path.startsWith(prefix)) return true
  return false
}
