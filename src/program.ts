// The commands, their options and their help (commander). Each action hands the parsed options to
// its command module, loaded only when that command runs (the sending side is not loaded by check).
import { Command, Option } from 'commander'
import type { CliIO } from './runtime/io.js'
import { addCommonOptions, addSendOptions } from './cli-options.js'
import { VERSION } from './version.js'
import { UsageError } from './errors.js'
import type { CheckFlags } from './commands/check.js'
import type { DeliveryFlags } from './commands/run.js'
import type { ImportFlags } from './commands/backfill-import.js'
import type { FollowFlags } from './commands/follow.js'

export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
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
            74 the state directory cannot be written now (full, read-only: retry later),
            75 another swetrix-ingest holds the state directory.`,
    )

  addCommonOptions(
    program
      .command('check')
      .description('parse and map log files without sending anything; report formats, counts and reasons')
      .argument('<file...>', 'log files (plain or gzip), or - for stdin'),
  )
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
    .action(async (files: string[], opts: CheckFlags) => {
      const { runCheck } = await import('./commands/check.js')
      setExit(await runCheck(files, opts, io))
    })

  addSendOptions(
    addCommonOptions(
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
      const { runDelivery } = await import('./commands/run.js')
      setExit(await runDelivery('run', files, opts, io))
    })

  addSendOptions(
    addCommonOptions(
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
    .addOption(new Option('--out <dir>', 'import: where the import files (CSV) are written').default('.'))
    .addOption(new Option('--geoip <file.mmdb>', 'import: country from this MaxMind-format database instead of the bundled DB-IP Lite one'))
    .addOption(new Option('--no-geoip', 'import: leave the country column empty'))
    .addOption(new Option('--upload', 'import: upload the files to Swetrix Data Import, one at a time (SWETRIX_EMAIL and SWETRIX_PASSWORD, or SWETRIX_TOKEN)'))
    .addOption(new Option('--max-file-size <bytes>', 'import: split files at this size (at most and default 100m)'))
    .addOption(new Option('--threads <n>', 'import: threads for the per-line work of a large file (auto = the cores there are, at most 4)').default('auto'))
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
  swetrix-ingest backfill -p YOUR_PROJECT --via api '/var/log/nginx/access.log*'   # live events, stamped now
  swetrix-ingest backfill -p YOUR_PROJECT --undo-import 3                         # delete import 3 and its rows`,
    )
    .action(async (files: string[], opts: DeliveryFlags & ImportFlags & { via: string }) => {
      if (files.length === 0 && opts.undoImport === undefined) throw new UsageError("backfill: missing log files (e.g. '/var/log/nginx/access.log*')")
      if (opts.via === 'import' || opts.undoImport !== undefined) {
        const { runBackfillImport } = await import('./commands/backfill-import.js')
        return setExit(await runBackfillImport(files, opts, io))
      }
      const { runDelivery } = await import('./commands/run.js')
      setExit(await runDelivery('backfill', files, opts, io))
    })

  addSendOptions(
    addCommonOptions(
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
    .action(async (files: string[], opts: FollowFlags) => {
      const { runFollow } = await import('./commands/follow.js')
      setExit(await runFollow(files, opts, io))
    })

  return program
}
