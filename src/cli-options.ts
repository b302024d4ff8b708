// The option groups the commands share, declared once: every command takes the common options the
// same way (a user who learned them for one command knows them for all).
import { Option, type Command } from 'commander'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { BUILTIN_FORMAT_NAMES } from '../parsers/registry.js'

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/** `$XDG_STATE_HOME/swetrix-ingest`, else `~/.local/state/swetrix-ingest` (`$SWETRIX_INGEST_STATE_DIR` first). */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(base, 'swetrix-ingest')
}

/** How lines are read and mapped, and what the command prints: every command. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '-f, --format <format>',
        `log format: auto, ${BUILTIN_FORMAT_NAMES.join(', ')}, 'nginx:<log_format>', 'apache:<LogFormat>' or module:<path|package>`,
      ).default('auto'),
    )
    .addOption(
      new Option(
        '--stream <stream>',
        'container logs (CRI, Docker json-file, detected): the stream holding the access log; all: nginx and Apache images log to stdout, Caddy to stderr, and other lines are skipped either way',
      )
        .choices(['stdout', 'stderr', 'all'])
        .default('all'),
    )
    .addOption(new Option('--field <record=jsonkey>', 'map a JSON log key to a record field (repeatable), e.g. --field userAgent=ua').argParser(collect))
    .addOption(
      new Option('--real-ip <source>', 'client address: the logged one (remote) or the right-most untrusted X-Forwarded-For hop (xff)')
        .choices(['remote', 'xff'])
        .default('remote'),
    )
    .addOption(new Option('--trusted-proxy <cidr>', 'a proxy address or CIDR whose X-Forwarded-For is trusted (repeatable)').argParser(collect))
    .addOption(new Option('--keep-query', 'keep the query string in the page path (pg)'))
    .addOption(new Option('--errors <statuses>', 'which responses become error events: 5xx, 4xx,5xx or none').default('5xx'))
    .addOption(new Option('--include-static', 'count static assets (css, js, images, fonts...) as pageviews'))
    .addOption(new Option('--include-bots', 'do not skip requests whose User-Agent is a known bot'))
    .addOption(new Option('--include-path <pattern>', 'only paths matching this glob or /regex/ (repeatable)').argParser(collect))
    .addOption(new Option('--exclude-path <pattern>', 'skip paths matching this glob or /regex/ (repeatable)').argParser(collect))
    .addOption(
      new Option('--host <host>', 'only requests for this virtual host (repeatable); also treated as the site itself for referrers').argParser(collect),
    )
    .addOption(
      new Option(
        '--site <host=project>',
        "send this virtual host's requests to that project (repeatable; first match wins; www. and case ignored, *.example.com = every subdomain)",
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--timezone <zone>',
        "IANA zone (e.g. Europe/Berlin) of log times written without an offset: HAProxy, IIS date-local/time-local, Apache %{...}t without %z (default: the machine's zone)",
      ),
    )
    .addOption(
      new Option(
        '--hostname <host>',
        "the site's host for every line: the Origin sent, the import rows' hostname; referrers on it are internal (default: the logged host)",
      ),
    )
    .addOption(
      new Option(
        '--client-ip-header <name>',
        "also send the visitor's address in this header (a self-hosted Swetrix's CLIENT_IP_HEADER, e.g. CF-Connecting-IP)",
      ).env('SWETRIX_CLIENT_IP_HEADER'),
    )
    .addOption(new Option('--since <time>', 'skip requests before this time (ISO 8601, or an age such as 24h, 7d)'))
    .addOption(new Option('--until <time>', 'skip requests at or after this time'))
    .addOption(new Option('--config <file>', 'JSON config with custom event rules and sites'))
    .addOption(new Option('-p, --project <id>', 'Swetrix project id (with --site or config sites: for lines no site claims)').env('SWETRIX_PROJECT_ID'))
    .addOption(new Option('--json', 'print the summary as one JSON document'))
    .addOption(new Option('--no-progress', 'no progress bar or progress lines on stderr'))
    .addOption(new Option('-v, --verbose', 'print more detail, including visitor data from log lines'))
}

/** Where and how events are sent, and where progress is kept: every command that sends.
 *  `defaultConcurrency`: follow keeps up with a busy site only with more in flight (64 ÷ 40 ms ≈
 *  1,600 events/s; 16 ÷ 40 ms = 400). */
export function addSendOptions(cmd: Command, env: NodeJS.ProcessEnv, defaultConcurrency = '16'): Command {
  return cmd
    .addOption(
      new Option('--api-url <url>', 'Events API base (self-hosted: https://HOST/backend/v1/log)').env('SWETRIX_API_URL').default('https://api.swetrix.com/log'),
    )
    .addOption(
      new Option('--state-dir <dir>', 'where checkpoints, dead letters and uncertain events are kept')
        .env('SWETRIX_INGEST_STATE_DIR')
        .default(defaultStateDir(env)),
    )
    .addOption(new Option('--concurrency <n>', 'requests in flight at once (also the most events left uncertain by a crash)').default(defaultConcurrency))
    .addOption(new Option('--rate <n>', 'at most this many requests per second'))
    .addOption(new Option('--request-timeout <duration>', 'one request, its whole answer included, may take this long (e.g. 10s)').default('10s'))
    .addOption(new Option('--max-retry-time <duration>', 'keep retrying a failing event this long, then exit 1 (e.g. 90s, 10m, 1h)').default('10m'))
    .addOption(new Option('--resend-uncertain', 'after a crash, also send events that may have been sent already'))
    .addOption(new Option('--ca-file <pem>', 'also trust the CA certificates in this PEM file, for the API only (private CA)'))
    .addOption(new Option('--dry-run', 'print the requests as NDJSON instead of sending them; no state is changed'))
}
