// The parser plugin contract. Built-in formats and third-party modules (`--format module:...`)
// implement the same interface, so the pipeline never knows which one it is running.

/** One access-log request, as the web server logged it. Strings keep the server's own escapes
 *  (`\x22`, `\"`) byte for byte; `null` means the field is `-`, empty, or not in the format. */
export interface RequestRecord {
  /** Client address as logged (IPv4, IPv6, a host name, or `unix:`). */
  ip: string | null
  /** The request instant in epoch milliseconds (may carry a sub-millisecond fraction); the
   *  logged zone offset is applied. `null` when the line has no readable time. */
  time: number | null
  /** `null` when no method could be read (`"-"`, `""`, TLS probe, junk): see `requestLine`. */
  method: string | null
  /** Request target up to the first `?` (`null` when there is no method). */
  path: string | null
  /** Text after the first `?`, `""` for a bare `?`, `null` when there is no `?`. */
  query: string | null
  /** Protocol as logged, e.g. `HTTP/1.1`, `HTTP/2.0`; `null` when absent. */
  protocol: string | null
  status: number | null
  /** Response body bytes; `null` for `-`. */
  bytes: number | null
  referrer: string | null
  userAgent: string | null
  /** Authenticated user (`$remote_user`, `%u`); `null` for `-` or empty. */
  user: string | null
  /** Virtual host / server name without port; `null` if the format does not log it. */
  host: string | null
  port: number | null
  /** The whole request text, set only when no method could be read. */
  requestLine: string | null
  /** Only where the format logs them. */
  acceptLanguage?: string | null
  xForwardedFor?: string | null
  /** Seconds. */
  requestTime?: number | null
}

/** The fields every record has (null when unknown); the optional ones follow `requestLine` in
 *  `RequestRecord`. */
export const RECORD_KEYS = [
  'ip',
  'time',
  'method',
  'path',
  'query',
  'protocol',
  'status',
  'bytes',
  'referrer',
  'userAgent',
  'user',
  'host',
  'port',
  'requestLine',
] as const satisfies ReadonlyArray<keyof RequestRecord>

/** A line that does not match the format. `reason` is a short, stable, machine-friendly
 *  identifier (for counters), e.g. `no-match`, `bad-time`, `bad-json`, `not-access-record`. */
export interface Rejection {
  rejected: string
}

export type ParseResult = RequestRecord | Rejection

export function isRejection(r: ParseResult): r is Rejection {
  return (r as Rejection).rejected !== undefined
}

/** The rejection reason for a line that is a directive of the log itself, not a request (W3C
 *  `#Version:`, `#Fields:`, `#Date:`): the pipeline counts it as skipped (`directive`), not as
 *  rejected. */
export const DIRECTIVE_REASON = 'directive'

/** A log format. `parse` must never throw, whatever the bytes: every line becomes a record or a
 *  rejection with a reason. */
export interface LogParser {
  /** The format's name, as `--format` takes it (e.g. `combined`). */
  readonly name: string
  /** One line for `--help`/docs. */
  readonly description?: string
  /** Scores how well sample lines fit this format: 0 (not at all) .. 1 (every line parses).
   *  Usually the share of lines `parse` accepts; a more specific format should score a tie
   *  higher than a more general one (vhost_combined over combined over common). */
  detect(sample: readonly Buffer[]): number
  /** `line` is the line's bytes without the `\n` and without a trailing `\r`. */
  parse(line: Buffer): ParseResult
  /** Optional: the same result as `parse(buf.subarray(start, end))`, for a line inside a larger
   *  buffer (the reader's batch), without a view object per line. */
  parseRange?(buf: Buffer, start: number, end: number): ParseResult
  /** Only for formats whose layout is declared inside the file (W3C `#Fields:`, which may change
   *  half-way): a fresh instance with its own per-file state. The pipeline calls it once for each
   *  input file or stream and feeds that instance the file's lines in order; when it starts
   *  reading after the file's beginning (a resumed checkpoint, a `check` thread's part), it first
   *  passes the instance the file's earlier `#` lines. Parsers without per-file state omit it. */
  forInput?(): LogParser
  /** True when the parser reads times logged without an offset (HAProxy's accept date, IIS
   *  `date-local`/`time-local`, an Apache `%{...}t` without `%z`): those are read in
   *  `ParserOptions.timeZone`, else in the machine's zone, and `check` says which. A format whose
   *  layout is declared in the file (W3C) says so once it has read such a time. */
  readonly localTime?: boolean
}

/** The parser instance for one input: `forInput()` for formats with per-file state, else the
 *  parser itself. */
export function parserForInput(parser: LogParser): LogParser {
  return typeof parser.forInput === 'function' ? parser.forInput() : parser
}

/** Options that shape how some parsers read a line. */
export interface ParserOptions {
  /** `record field -> JSON key` overrides for JSON formats (`--field userAgent=ua`). */
  fieldMap?: Readonly<Record<string, string>>
  /** The IANA zone (`Europe/Berlin`) of times logged without an offset; the machine's zone when
   *  absent. An unknown zone is a `FormatError`. */
  timeZone?: string
}

/** What a third-party module exports: either a `LogParser` as `default`/`parser`, or a factory
 *  `createParser(options)` returning one. */
export interface ParserModule {
  default?: LogParser | ((options: ParserOptions) => LogParser)
  parser?: LogParser
  createParser?: (options: ParserOptions) => LogParser
}

/** A bad `--format` value or format definition (a usage error: exit code 2). */
export class FormatError extends Error {
  override name = 'FormatError'
}
