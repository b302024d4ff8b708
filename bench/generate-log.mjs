// Deterministic combined-format access log generator (documentation addresses only).
// Used for the bundled sample (fixtures/sample.access.log) and the 1M-line benchmark file.
//   node bench/generate-log.mjs --lines 1000000 --out /tmp/big.log [--seed 42] [--unique-paths]
import { createWriteStream } from 'node:fs'
import { parseArgs } from 'node:util'

const PAGES = [
  '/',
  '/pricing',
  '/docs',
  '/docs/install',
  '/docs/config',
  '/blog',
  '/blog/hello-world',
  '/blog/release-2-0',
  '/about',
  '/contact',
  '/careers',
  '/features',
  '/changelog',
  '/search',
]
const STATIC = ['/assets/app.js', '/assets/app.css', '/img/logo.png', '/favicon.ico', '/fonts/inter.woff2', '/robots.txt']
const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'curl/8.5.0',
]
const REFS = ['-', '-', '-', 'https://www.google.com/', 'https://news.ycombinator.com/', 'https://example.com/docs', 'https://duckduckgo.com/']
const QUERIES = ['', '', '', '', '?utm_source=newsletter&utm_medium=email&utm_campaign=launch', '?ref=producthunt', '?q=install', '?gclid=abc123']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

/** mulberry32: small deterministic PRNG so the same seed gives the same file. */
function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pad = (n) => (n < 10 ? '0' + n : String(n))
function clfTime(ms) {
  const d = new Date(ms)
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
}

/** Returns a function producing line i (without newline). */
export function lineGenerator({ seed = 42, uniquePaths = false, startMs = Date.UTC(2026, 10, 1) } = {}) {
  const r = rng(seed)
  const pick = (arr) => arr[Math.floor(r() * arr.length)]
  const nets = ['192.0.2.', '198.51.100.', '203.0.113.']
  return (i) => {
    const ip = r() < 0.08 ? `2001:db8::${Math.floor(r() * 0xffff).toString(16)}` : pick(nets) + (1 + Math.floor(r() * 254))
    const t = clfTime(startMs + i * 250)
    const x = r()
    let method = 'GET'
    let path
    let status = 200
    if (uniquePaths) path = `/page/${i}`
    else if (x < 0.25) path = pick(STATIC)
    else if (x < 0.27) {
      method = 'POST'
      path = '/api/subscribe?plan=pro'
      status = 201
    } else path = pick(PAGES) + pick(QUERIES)
    const y = r()
    if (!uniquePaths) {
      if (y < 0.03) status = 404
      else if (y < 0.04) status = 500
      else if (y < 0.07) status = 304
      else if (y < 0.08) status = 301
    }
    const bytes = status === 304 ? 0 : 200 + Math.floor(r() * 40000)
    const ua = uniquePaths ? UAS[i % 5] : pick(UAS)
    const ref = pick(REFS)
    return `${ip} - - [${t}] "${method} ${path} HTTP/1.1" ${status} ${bytes} "${ref}" "${ua}"`
  }
}

/** Writes `lines` generated lines to `path` (streamed in ~1 MB pieces). */
export async function writeLog(path, lines, options = {}) {
  const gen = lineGenerator(options)
  const out = path ? createWriteStream(path) : process.stdout
  let chunk = ''
  for (let i = 0; i < lines; i++) {
    chunk += gen(i) + '\n'
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((res) => out.once('drain', res))
      chunk = ''
    }
  }
  out.write(chunk)
  if (out !== process.stdout) await new Promise((res) => out.end(res))
}

async function main() {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: '1000' },
      out: { type: 'string' },
      seed: { type: 'string', default: '42' },
      'unique-paths': { type: 'boolean', default: false },
    },
  })
  await writeLog(values.out, Number(values.lines), { seed: Number(values.seed), uniquePaths: values['unique-paths'] })
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
