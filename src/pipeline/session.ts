// One input's session, the same for every command: pin the input -> identify it -> choose where to
// start -> detect the format (the one detector) -> the line loop -> a destination. Identity,
// verification and reading of a file all go through one open FileHandle, so a rotation in between
// cannot pair one file's checkpoint with another file's bytes.
import { open, stat, type FileHandle } from 'node:fs/promises'
import type { FileCheckpoint, CheckpointStore } from '../checkpoint/store.js'
import { identifyHandle, type FileIdentity } from '../source/fingerprint.js'
import { readLines, type LineBatch } from '../source/reader.js'
import { chooseStart, type StartPoint } from '../source/start-policy.js'
import type { LogParser } from '../../parsers/types.js'
import type { PipelineParts } from '../options.js'
import { UsageError } from '../errors.js'
import { emptyCounters, type LineCounters } from '../types.js'
import type { FileReport } from '../output/report.js'
import type { ProjectTally } from '../output/projects.js'
import type { ReferrerTally } from '../mapper/referrer-hint.js'
import { safeText } from '../output/safe-text.js'
import type { Mapper } from './classify.js'
import { detectInput, sampleOf, SAMPLE_LINES } from './detect-input.js'
import { createFramer, detectWrapper, type Framer, type WrapperName } from '../../parsers/wrappers/index.js'
import { headSample, replayDirectives } from './directives.js'
import type { FramedLines, LineTally, SessionBatch } from './line-loop.js'

/** Read size: big enough to amortise syscalls, small enough to keep peak RSS low (1 MiB chunks
 *  cost ~20 MB more RSS than this for the same speed). */
export const READ_CHUNK_BYTES = 128 * 1024
/** Reads from a pipe return what is there; a smaller buffer keeps a quiet pipe's lines prompt. */
const STREAM_CHUNK_BYTES = 64 * 1024

/** What every session of one command shares. */
export interface SessionEnv {
  parts: PipelineParts
  signal: AbortSignal
  /** A detection failure shows the failing line's text only with --verbose (visitor data). */
  verbose: boolean
  now: () => number
  /** One line for stderr (already terminal-safe). */
  note(text: string): void
  /** With several sites: counts per project. */
  projects?: ProjectTally | null
  /** Referrer hosts of events whose site host is not known (the "most referrers are the site" hint). */
  referrers?: ReferrerTally | null
}

export interface FileInput {
  path: string
  /** A handle the caller keeps open (follow); otherwise the session opens and closes the path. */
  handle?: FileHandle
  /** Identity already read through `handle`. */
  ident?: FileIdentity
  /** A finished file (rotated predecessor, .gz): read to its end (a last line without '\n' counts),
   *  then complete. */
  finished?: boolean
  /** Without a checkpoint, read from the start, not the end (the next generation of a known path, a
   *  file that appeared after `follow` started). */
  fromStart?: boolean
  /** follow: this file was cut back in place to this size while it was read (its checkpoint is past it). */
  shrunkTo?: number
  /** Only the lines that start in [from, to) (one part of a parallel `check`). */
  range?: { from: number; to: number }
  /** follow: a tailing source over the handle; default: read to the current end once. */
  tail?: (from: number, signal: AbortSignal) => AsyncIterable<LineBatch>
  /** follow: asked when the tail ended without a stop; true: the file is complete. */
  completeWhenDone?: () => boolean
}

/** A pipe (stdin): no identity, no checkpoint, read from its first byte to its end. */
export interface StreamInput {
  stream: NodeJS.ReadableStream
  label: string
}

export type SessionInput = FileInput | StreamInput

/** Where a session's lines go: event delivery, import rows, counts. */
export interface Destination {
  /** The checkpoints it keeps (null: none; every input is read from its start). */
  readonly checkpoints: { store: CheckpointStore; keyOf(id: string): string } | null
  /** A file without a checkpoint is read from its start (else from its end, as a first `run`). */
  readonly fromStart: boolean
  /** Every file is read as finished: to its end, a last line without '\n' included (check). */
  readonly readsWhole: boolean
  /** Bytes per read, for a read of `bytes` (default READ_CHUNK_BYTES). */
  chunkSize?(bytes: number): number
  /** Consumes the input's lines; resolves when they are done or the stop signal ended the reading. */
  consume(read: InputRead): Promise<{ stopped: boolean }>
}

/** One input as its destination sees it. */
export interface InputRead {
  /** As messages and records name it. */
  label: string
  handle: FileHandle | null
  ident: FileIdentity | null
  /** The checkpoint the read starts from (stored, or a fresh one at the start); null without
   *  checkpoints. The destination updates and saves it. */
  checkpoint: FileCheckpoint | null
  /** Where reading starts, and the lines before it. */
  from: number
  linesBefore: number
  /** Read to the end, a last line without '\n' included. */
  final: boolean
  batches: AsyncIterable<SessionBatch>
  /** This input's mapper (several sites: its site's project, or routing by host). */
  mapper: Mapper
  tally: LineTally
  /** After the batches ended without a stop: whether the input is complete (never read again). */
  completeWhenDone(): boolean
  /** The command's stop: the batches end early once it is aborted. */
  signal: AbortSignal
}

export interface SessionResult {
  /** null: nothing was read (no complete first line yet, or already complete). */
  report: FileReport | null
  stopped: boolean
  ident: FileIdentity | null
  /** Its checkpoint says it was read to its end before. */
  alreadyComplete?: boolean
}

export interface SessionOptions {
  /** Counters to add into (follow: the process totals); default: the report's own. */
  counters?: LineCounters
  /** The report is added here when the session ends (also after a failure). */
  reports?: FileReport[]
}

export async function runSession(env: SessionEnv, input: SessionInput, dest: Destination, o: SessionOptions = {}): Promise<SessionResult> {
  if ('stream' in input) return streamSession(env, input, dest, o)
  const fh = input.handle ?? (await openInput(input.path))
  try {
    return await fileSession(env, input, fh, dest, o)
  } finally {
    if (!input.handle) await fh.close()
  }
}

async function fileSession(env: SessionEnv, input: FileInput, fh: FileHandle, dest: Destination, o: SessionOptions): Promise<SessionResult> {
  const label = input.path
  const ident = input.ident ?? (await identifyHandle(fh))
  let start: StartPoint = { offset: input.range?.from ?? 0, line: 0, note: null }
  let checkpoint: FileCheckpoint | null = null
  if (dest.checkpoints !== null) {
    if (ident.id === null) {
      env.note(`${safeText(label)}: empty or no complete first line yet; nothing to read`)
      return { report: null, stopped: false, ident }
    }
    const key = dest.checkpoints.keyOf(ident.id)
    const known = dest.checkpoints.store.get(key)
    if (known?.complete) return { report: null, stopped: false, ident, alreadyComplete: true }
    start = await chooseStart(fh, ident, known, {
      fromStart: dest.fromStart || input.finished === true || input.fromStart === true,
      ...(input.shrunkTo === undefined ? {} : { shrunkTo: input.shrunkTo }),
    })
    if (start.note) env.note(`${safeText(label)}: ${start.note}`)
    checkpoint =
      known && known.acked === start.offset
        ? { ...known, path: label, dev: ident.dev, ino: ident.ino }
        : {
            id: key,
            path: label,
            dev: ident.dev,
            ino: ident.ino,
            gzip: ident.gzip,
            size: ident.size,
            acked: start.offset,
            ackedLine: start.line,
            dispatched: start.offset,
            doneAhead: [],
            updatedAt: new Date(env.now()).toISOString(),
          }
  }
  const final = dest.readsWhole || input.finished === true || ident.gzip
  const signal = env.signal
  const chunkSize = dest.chunkSize?.(ident.gzip ? ident.size * 8 : ident.size - start.offset) ?? READ_CHUNK_BYTES
  const source = input.tail && !final ? input.tail(start.offset, signal) : readLines({ handle: fh }, { from: start.offset, final, signal, chunkSize })
  const format: FormatSeen = { name: null, parser: null }
  const batches = sessionBatches(env, label, source, {
    from: start.offset,
    linesBefore: start.line,
    to: input.range?.to ?? Infinity,
    wholeInput: dest.readsWhole,
    final,
    head: () => headSample({ handle: fh }, SAMPLE_LINES, chunkSize),
    onFormat: async (p, wrapper) => {
      Object.assign(format, { name: wrapper === null ? p.name : `${wrapper}/${p.name}`, parser: p })
      // A format with per-file state (W3C `#Fields:`) first reads the directives before the start.
      if (wrapper === null) await replayDirectives(p, { handle: fh }, start.offset, chunkSize)
    },
  })
  return consume(env, dest, o, label, format, {
    label,
    handle: fh,
    ident,
    checkpoint,
    from: start.offset,
    linesBefore: start.line,
    final,
    batches,
    mapper: env.parts.mapperFor(label),
    tally: tallyFor(env, label, o),
    completeWhenDone: () => final || (input.completeWhenDone?.() ?? false),
    signal,
  })
}

async function streamSession(env: SessionEnv, input: StreamInput, dest: Destination, o: SessionOptions): Promise<SessionResult> {
  const source = readLines({ stream: input.stream }, { final: true, signal: env.signal, chunkSize: STREAM_CHUNK_BYTES })
  const format: FormatSeen = { name: null, parser: null }
  const batches = sessionBatches(env, input.label, source, {
    from: 0,
    linesBefore: 0,
    to: Infinity,
    wholeInput: true,
    final: true,
    onFormat: (p, wrapper) => {
      Object.assign(format, { name: wrapper === null ? p.name : `${wrapper}/${p.name}`, parser: p })
    },
  })
  return consume(env, dest, o, input.label, format, {
    label: input.label,
    handle: null,
    ident: null,
    checkpoint: null,
    from: 0,
    linesBefore: 0,
    final: true,
    batches,
    mapper: env.parts.mapperFor('-'),
    tally: tallyFor(env, '-', o),
    completeWhenDone: () => true,
    signal: env.signal,
  })
}

async function consume(env: SessionEnv, dest: Destination, o: SessionOptions, label: string, format: FormatSeen, read: InputRead): Promise<SessionResult> {
  const firstRejected = read.tally.firstRejected
  try {
    const { stopped } = await dest.consume(read)
    return { report: reportOf(), stopped, ident: read.ident }
  } finally {
    o.reports?.push(reportOf())
  }
  function reportOf(): FileReport {
    const report: FileReport = { path: label, format: format.name, ...read.tally.counters, firstRejected }
    // Read after the lines: a format whose layout is in the file (W3C) knows only then.
    if (format.parser?.localTime === true) report.timeZone = env.parts.localZone()
    return report
  }
}

/** The input's format, once detected: its name as reports print it, and the parser instance. */
interface FormatSeen {
  name: string | null
  parser: LogParser | null
}

function tallyFor(env: SessionEnv, path: string, o: SessionOptions): LineTally {
  const projects = env.parts.sites.active ? (env.projects ?? null) : null
  return {
    counters: o.counters ?? emptyCounters(),
    firstRejected: {},
    projects,
    projectOf: projects === null ? null : env.parts.sites.routerFor(path),
    referrers: env.referrers ?? null,
    siteHostKnown: env.parts.siteHostKnown,
  }
}

interface BatchPlan {
  from: number
  linesBefore: number
  /** Lines starting at or after this offset are not read. */
  to: number
  /** The input's first lines from its start (a resumed file: detection may need them). */
  head?: () => Promise<Buffer[]>
  /** `wrapper`: the container runtime's wrapper around the lines, if any. */
  onFormat(parser: LogParser, wrapper: string | null): Promise<void> | void
  /** The destination reads every input whole (check): a damaged gzip is the user's to fix. */
  wholeInput: boolean
  /** The input's end is its final end (an open wrapped line is then a line). */
  final: boolean
}

/** The reader's batches, unwrapped when the input has a container runtime's wrapper (CRI, Docker
 *  json-file), with the format settled on the first batch holding a non-blank line. Inside a
 *  wrapper a format is looked for until one matches (a container's first lines are often its own
 *  messages, passed over meanwhile); a plain input that no format reads stops the session. */
async function* sessionBatches(env: SessionEnv, label: string, source: AsyncIterable<LineBatch>, plan: BatchPlan): AsyncGenerator<SessionBatch> {
  let parser: LogParser | null = null
  let framer: (Framer & { wrapper: WrapperName }) | null | undefined
  let linesBefore = plan.linesBefore
  const settle = async (raw: LineBatch, framed: FramedLines | null): Promise<void> => {
    if (parser !== null) return
    const sample = framed === null ? sampleOf(raw) : innerSample(framed)
    if (sample.length === 0) return
    parser = await detectInput(sample, {
      format: env.parts.format,
      candidates: env.parts.candidates,
      label,
      linesBefore,
      verbose: env.verbose,
      wrapped: framed !== null,
      ...(plan.from > 0 && plan.head && framed === null ? { head: plan.head } : {}),
    })
    if (parser !== null) await plan.onFormat(parser, framed === null ? null : framer!.wrapper)
  }
  try {
    for await (const batch of source) {
      let raw = batch
      const cut = plan.to === Infinity ? raw.starts.length : firstAtOrAfter(raw, plan.to)
      if (cut < raw.starts.length) raw = linesBeforeIndex(raw, cut)
      if (framer === undefined && raw.starts.length > 0) {
        const wrapper = detectWrapper(sampleOf(raw))
        framer = wrapper === null ? null : Object.assign(createFramer(wrapper, { stream: env.parts.stream, maxLineBytes: MAX_LINE_BYTES }), { wrapper })
      }
      const framed = framer ? framer.frame(raw) : null
      await settle(raw, framed)
      yield { raw, framed, parser, linesBefore }
      linesBefore += framed ? framed.starts.length : raw.starts.length
      if (cut < batch.starts.length) return
    }
    // The end of a finished input: a line the container left open is a line.
    if (framer && plan.final) {
      const framed = framer.flush()
      if (framed.starts.length > 0) {
        await settle(EMPTY_BATCH, framed)
        yield { raw: EMPTY_BATCH, framed, parser, linesBefore }
      }
    }
  } catch (err) {
    // A stop while a pipe is silent ends the read, not the run.
    if (env.signal.aborted && (err as Error)?.name === 'AbortError') return
    // A gzip file cut short is still being compressed, unless the input is read as finished (check).
    if (!plan.wholeInput && (err as Error)?.name === 'IncompleteGzipError') throw err
    throw asInputError(label, err)
  }
}

/** The reader's line limit (src/source/reader.ts): a joined container line is cut at the same length. */
const MAX_LINE_BYTES = 1024 * 1024
const EMPTY_BATCH: LineBatch = { buf: Buffer.alloc(0), base: 0, starts: [], contentEnds: [], ends: [] }

/** Inner lines to detect the format from: those not passed over by the wrapper, not cut. */
function innerSample(f: FramedLines): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < f.starts.length && out.length < SAMPLE_LINES; i++) if (f.skips[i] === null && !f.truncated[i]) out.push(f.contents[i]!)
  return out
}

function firstAtOrAfter(b: LineBatch, offset: number): number {
  let i = 0
  while (i < b.starts.length && b.base + b.starts[i]! < offset) i++
  return i
}

function linesBeforeIndex(b: LineBatch, n: number): LineBatch {
  const out: LineBatch = { buf: b.buf, base: b.base, starts: b.starts.slice(0, n), contentEnds: b.contentEnds.slice(0, n), ends: b.ends.slice(0, n) }
  if (b.truncated) out.truncated = b.truncated.slice(0, n)
  return out
}

/** Opens a log file, with the one-line message a user needs when it cannot be read. */
export async function openInput(path: string): Promise<FileHandle> {
  await assertReadableFile(path)
  return open(path, 'r').catch((err: unknown) => {
    throw asInputError(path, err)
  })
}

/** Checks that `path` is a readable regular file, with the one-line message a user needs. */
export async function assertReadableFile(path: string): Promise<void> {
  const st = await stat(path).catch((err: unknown) => {
    throw asInputError(path, err)
  })
  if (st.isDirectory()) throw new UsageError(`${safeText(path)}: is a directory, not a log file`)
}

function asInputError(label: string, err: unknown): Error {
  if (err instanceof UsageError) return err
  const e = err as NodeJS.ErrnoException
  const name = safeText(label)
  if (e.code === 'EISDIR') return new UsageError(`${name}: is a directory, not a log file`)
  if (e.code === 'ENOENT') return new UsageError(`${name}: no such file`)
  if (e.code === 'EACCES') return new UsageError(`${name}: permission denied`)
  if (e.name === 'IncompleteGzipError' || e.code === 'Z_BUF_ERROR' || e.code === 'Z_DATA_ERROR')
    return new UsageError(`${name}: damaged or incomplete gzip data (${e.message})`)
  return err as Error
}
