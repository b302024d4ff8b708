// The command line: check, run, backfill. Parsing and help live here; the work lives in commands/.
import { Command, CommanderError, Option } from 'commander'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { defaultThreads, runCheck } from './commands/check.js'
import type { DeliveryFlags } from './commands/run.js'
import type { ImportFlags } from './commands/backfill-import.js'
import { EXIT_DELIVERY_FAILED, EXIT_LOCKED, EXIT_USAGE, UsageError } from './errors.js'
import { buildPipeline, parseDuration, parsePositiveInt, validateProjectId, type PipelineFlags } from './options.js'
import { BUILTIN_FORMAT_NAMES } from '../parsers/registry.js'

export interface CliIO {
  stdout: Writable
  stderr: Writable
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
  now: () => number
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/** `$SWETRIX_INGEST_STATE_DIR`, else `$XDG_STATE_HOME/swetrix-ingest`, else `~/.local/state/swetrix-ingest`. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(base, 'swetrix-ingest')
}

function addPipelineOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '-f, --format <format>',
        `log format: auto, ${BUILTIN_FORMAT_NAMES.join(', ')}, 'nginx:<log_format>', 'apache:<LogFormat>' or module:<path|package>`,
      ).default('auto'),
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
    .addOption(new Option('--since <time>', 'skip requests before this time (ISO 8601, or an age such as 24h, 7d)'))
    .addOption(new Option('--until <time>', 'skip requests at or after this time'))
    .addOption(new Option('--config <file>', 'JSON config with custom event rules and sites'))
    .addOption(new Option('-p, --project <id>', 'Swetrix project id (with --site or config sites: for lines no site claims)').env('SWETRIX_PROJECT_ID'))
    .addOption(new Option('-v, --verbose', 'print more detail, including visitor data from log lines'))
}

/** `defaultConcurrency`: follow keeps up with a busy site only with more in flight (64 ÷ 40 ms ≈ 1,600 events/s; 16 ÷ 40 ms = 400). */
function addDeliveryOptions(cmd: Command, env: NodeJS.ProcessEnv, defaultConcurrency = '16'): Command {
  return (
    cmd
      .addOption(
        new Option('--api-url <url>', 'Events API base (self-hosted: https://HOST/backend/v1/log)')
          .env('SWETRIX_API_URL')
          .default('https://api.swetrix.com/log'),
      )
      .addOption(
        new Option('--state-dir <dir>', 'where checkpoints, dead letters and uncertain events are kept')
          .env('SWETRIX_INGEST_STATE_DIR')
          .default(defaultStateDir(env)),
      )
      .addOption(new Option('--concurrency <n>', 'requests in flight at once (also the most events left uncertain by a crash)').default(defaultConcurrency))
      .addOption(new Option('--rate <n>', 'at most this many requests per second'))
      .addOption(new Option('--max-retry-time <duration>', 'keep retrying a failing event this long, then exit 1 (e.g. 90s, 10m, 1h)').default('10m'))
      .addOption(new Option('--resend-uncertain', 'after a crash, also send events that may have been sent already'))
      .addOption(new Option('--ca-file <pem>', 'also trust the CA certificates in this PEM file, for the API only (private CA)'))
      // fidelity: the header a self-hosted Swetrix's CLIENT_IP_HEADER names (e.g. cf-connecting-ip)
      .addOption(
        new Option(
          '--client-ip-header <name>',
          "also send the visitor's address in this header (a self-hosted Swetrix's CLIENT_IP_HEADER, e.g. CF-Connecting-IP)",
        ).env('SWETRIX_CLIENT_IP_HEADER'),
      )
      .addOption(new Option('--dry-run', 'print the requests as NDJSON instead of sending them; no state is changed'))
      .addOption(new Option('--json', 'print the summary as JSON'))
  )
}

export function buildProgram(io: CliIO, setExit: (code: number) => void) {
  const program = new Command('swetrix-ingest')
    .description('Send web server access-log requests to Swetrix as pageviews, errors and custom events.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  swetrix-ingest check /var/log/nginx/access.log
  swetrix-ingest run -p YOUR_PROJECT /var/log/nginx/access.log            # from cron
  swetrix-ingest backfill --out ./import '/var/log/nginx/access.log*'      # Data Import files, original dates
  swetrix-ingest backfill -p YOUR_PROJECT --via api '/var/log/nginx/access.log*'
  swetrix-ingest run --site example.com=PROJECT_ONE --site '*.example.org=PROJECT_TWO' -p DEFAULT_PROJ /var/log/nginx/access.log
  swetrix-ingest follow -p YOUR_PROJECT /var/log/nginx/access.log          # as a service

Environment: SWETRIX_PROJECT_ID, SWETRIX_API_URL, SWETRIX_INGEST_STATE_DIR, SWETRIX_CLIENT_IP_HEADER,
             SWETRIX_EMAIL, SWETRIX_PASSWORD or SWETRIX_TOKEN (backfill --upload).
Exit codes: 0 done, 1 delivery failed (retry later), 2 usage or configuration error,
            75 another swetrix-ingest holds the state directory.`,
    )

  addPipelineOptions(
    program
      .command('check')
      .description('parse and map log files without sending anything; report formats, counts and reasons')
      .argument('<file...>', 'log files (plain or gzip), or - for stdin'),
  )
    .addOption(new Option('--json', 'one JSON document with per-file counters and totals'))
    .addOption(new Option('--records', 'NDJSON: one parsed record per input line'))
    .addOption(new Option('--events', 'NDJSON: the exact requests that would be sent'))
    .addOption(new Option('--threads <n>', 'threads for a large plain file (counts only; auto = the cores there are, at most 4)').default('auto'))
    .addHelpText(
      'after',
      `
Examples:
  swetrix-ingest check access.log
  swetrix-ingest check --json access.log access.log.1 access.log.2.gz
  zcat access.log.3.gz | swetrix-ingest check -
  swetrix-ingest check --events --format 'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"' access.log`,
    )
    .action(async (files: string[], opts: PipelineFlags & { project?: string; json?: boolean; records?: boolean; events?: boolean; threads: string }) => {
      const modes = [opts.json, opts.records, opts.events].filter(Boolean).length
      if (modes > 1) throw new UsageError('choose one of --json, --records, --events')
      const pid = opts.project ? validateProjectId(opts.project, false) : null
      const now = io.now()
      const parts = await buildPipeline(opts as PipelineFlags, pid, now, false)
      const output = opts.json ? 'json' : opts.records ? 'records' : opts.events ? 'events' : 'human'
      const threads = opts.threads === 'auto' ? defaultThreads() : parsePositiveInt(opts.threads, '--threads')
      setExit(await runCheck(files, { ...parts, output, stdout: io.stdout, stderr: io.stderr, stdin: io.stdin, flags: opts, projectId: pid, now, threads }))
    })

  addDeliveryOptions(
    addPipelineOptions(
      program
        .command('run')
        .description('send what is new since the last run (for cron), then exit')
        .argument('<file...>', 'live log files; rotated siblings (name.1, name.2.gz, name-YYYYMMDD) are finished first'),
    ),
    io.env,
  )
    .addOption(new Option('--from-beginning', 'on the first run, send the whole file instead of starting at its end'))
    .addHelpText(
      'after',
      `
Examples:
  swetrix-ingest run -p YOUR_PROJECT /var/log/nginx/access.log
  */5 * * * *  swetrix-ingest run -p YOUR_PROJECT /var/log/nginx/access.log   # crontab
  swetrix-ingest run --dry-run --from-beginning -p YOUR_PROJECT access.log | head
  swetrix-ingest run --site example.com=PROJECT_ONE --site '*.example.org=PROJECT_TWO' access.log   # several sites
  swetrix-ingest run --config /etc/swetrix-ingest.json /var/log/nginx/*.access.log                    # config "sites"`,
    )
    .action(async (files: string[], opts: DeliveryFlags) => {
      const { runDelivery } = await import('./commands/run.js') // the sending side loads only when it is used
      setExit(await runDelivery('run', files, opts, io))
    })

  addDeliveryOptions(
    addPipelineOptions(
      program
        .command('backfill')
        .description(
          'historical (rotated, gzipped) logs, oldest first: Swetrix Data Import files with the original dates (default), or live events (--via api)',
        )
        .argument('[file...]', 'files or quoted globs, e.g. "/var/log/nginx/access.log*"'),
    ),
    io.env,
  )
    .addOption(
      new Option(
        '--via <sink>',
        'import: Swetrix Data Import files with the original dates; api: the Events API (events are stamped with the time they arrive)',
      )
        .choices(['import', 'api'])
        .default('import'),
    )
    .addOption(new Option('--no-progress', 'no progress bar or progress lines on stderr'))
    .addOption(new Option('--out <dir>', 'import: where the import files (CSV) are written').default('.'))
    .addOption(
      new Option(
        '--hostname <host>',
        "the site's host for every line: the import rows' hostname and the Origin sent; its referrers are internal (default: the logged host)",
      ),
    )
    .addOption(new Option('--geoip <file.mmdb>', 'import: country from this MaxMind-format database instead of the bundled DB-IP Lite one'))
    .addOption(new Option('--no-geoip', 'import: leave the country column empty'))
    .addOption(new Option('--upload', 'import: upload the files to Swetrix Data Import, one at a time (SWETRIX_EMAIL and SWETRIX_PASSWORD, or SWETRIX_TOKEN)'))
    .addOption(new Option('--max-file-size <bytes>', 'import: split files at this size (at most and default 100m)'))
    .addOption(new Option('--threads <n>', 'import: threads for the per-line work of a large file (auto = the cores there are, at most 4)').default('auto'))
    // fidelity: undo an upload (DELETE /data-import/:pid/:importId); takes no files
    .addOption(new Option('--undo-import <id>', 'delete this import (1-255) and its rows from Swetrix, instead of importing (same credentials as --upload)'))
    .addOption(
      new Option(
        '--errors-via-api',
        'import: send the error events live to the Events API (Data Import takes none; they are stamped with the time they arrive)',
      ),
    )
    .addHelpText(
      'after',
      `
Examples:
  swetrix-ingest backfill --out ./import '/var/log/nginx/access.log*'              # import files with the original dates
  SWETRIX_EMAIL=you@example.com SWETRIX_PASSWORD=... \\
    swetrix-ingest backfill -p YOUR_PROJECT --upload --out ./import '/var/log/nginx/access.log*'
  swetrix-ingest backfill -p YOUR_PROJECT --undo-import 3                         # delete import 3 and its rows
  swetrix-ingest backfill -p YOUR_PROJECT --via api '/var/log/nginx/access.log*'   # live events, stamped now`,
    )
    .action(async (files: string[], opts: DeliveryFlags & ImportFlags & { via: string }) => {
      if (files.length === 0 && opts.undoImport === undefined) throw new UsageError("backfill: missing log files (e.g. '/var/log/nginx/access.log*')")
      if (opts.via === 'import' || opts.undoImport !== undefined) {
        const { runBackfillImport } = await import('./commands/backfill-import.js')
        return setExit(await runBackfillImport(files, opts, io))
      }
      const { runDelivery } = await import('./commands/run.js')
      setExit(await runDelivery('backfill', files, { ...opts, fromBeginning: true }, io))
    })

  addDeliveryOptions(
    addPipelineOptions(
      program
        .command('follow')
        .description('run as a service: send each new line as it is written, through rotations, restarts and outages')
        .argument('<file...>', 'live log files or quoted globs (a file matching later is read from its start), or - for stdin'),
    ),
    io.env,
    '64',
  )
    .addOption(new Option('--from-beginning', 'a file without a checkpoint is sent whole instead of from its end'))
    .addOption(new Option('--stats-interval <duration>', 'a status line on stderr this often (0: never)').default('60s'))
    .addOption(new Option('--metrics-addr <host:port>', 'serve Prometheus metrics (/metrics) and health (/health), e.g. 127.0.0.1:9464'))
    .addOption(new Option('--rotate-wait <duration>', 'keep reading a renamed or deleted file until it has been quiet this long').default('5s'))
    .addOption(new Option('--poll-interval <duration>', 'look for changes at least this often (file-system notifications come first)').default('250ms'))
    .addHelpText(
      'after',
      `
Examples:
  swetrix-ingest follow -p YOUR_PROJECT /var/log/nginx/access.log
  swetrix-ingest follow -p YOUR_PROJECT '/var/log/nginx/*.access.log' --metrics-addr 127.0.0.1:9464
  docker logs -f nginx 2>&1 | swetrix-ingest follow -p YOUR_PROJECT -     # no checkpoint for stdin

Signals: SIGTERM/SIGINT stop reading, finish what is in flight, checkpoint and exit 0 (again: at once,
exit 130); SIGHUP looks for new files matching the globs. A unit file: contrib/swetrix-ingest.service.`,
    )
    .action(async (files: string[], opts: import('./commands/follow.js').FollowFlags) => {
      const { runFollow } = await import('./commands/follow.js')
      setExit(await runFollow(files, opts, io))
    })

  return program
}

export const VERSION = '0.1.0'

export { parseDuration, parsePositiveInt }

/** Runs the CLI; resolves to the process exit code. Errors a user can act on are one line. */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    now: io.now ?? Date.now,
  }
  // `swetrix-ingest check --records big.log | head` closes the pipe early: that is not an error.
  if (full.stdout === process.stdout) ignoreBrokenPipe(process.stdout)
  let code = 0
  const program = buildProgram(full, (c) => (code = c))
  try {
    await program.parseAsync(argv, { from: 'user' })
    return code
  } catch (err) {
    return exitCodeFor(err, full.stderr)
  }
}

function exitCodeFor(err: unknown, stderr: Writable): number {
  if (err instanceof CommanderError) {
    // help and version exit 0; commander already printed parse errors
    return err.exitCode === 0 ? 0 : EXIT_USAGE
  }
  const e = err as Error & { exitCode?: number }
  const line = (msg: string) => stderr.write(`swetrix-ingest: ${msg.split('\n')[0]}\n`)
  switch (e?.name) {
    case 'UsageError':
    case 'FormatError':
    case 'ConfigError':
    case 'InputError':
    case 'StateError':
    case 'FatalApiError':
      line(e.message)
      return EXIT_USAGE
    case 'LockedError':
      line(e.message)
      return EXIT_LOCKED
    case 'DeliveryError':
      line(e.message)
      return EXIT_DELIVERY_FAILED
  }
  if (typeof e?.exitCode === 'number') {
    line(e.message)
    return e.exitCode
  }
  line(`unexpected error: ${e?.message ?? String(err)}`)
  if (process.env.SWETRIX_INGEST_DEBUG) stderr.write(`${e?.stack}\n`)
  return EXIT_DELIVERY_FAILED
}

function ignoreBrokenPipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
}
