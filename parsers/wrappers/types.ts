// Container-runtime line wrappers: the shapes shared by the wrapper parsers, the framer that joins
// their partial lines, and detection. A wrapper sits between the reader (physical lines of the
// runtime's file) and the access-log parser (the inner lines).

/** `cri`: containerd / CRI-O, what kubelet keeps under /var/log/pods. `docker_json`: Docker's
 *  json-file logging driver (/var/lib/docker/containers/<id>/<id>-json.log). */
export type WrapperName = 'cri' | 'docker_json'

export const WRAPPER_NAMES: readonly WrapperName[] = ['cri', 'docker_json']

/** Which of the container's output streams hold the access log. */
export type StreamChoice = 'stdout' | 'stderr' | 'all'

export const STREAM_CHOICES: readonly StreamChoice[] = ['stdout', 'stderr', 'all']

/** nginx and Apache images log access to stdout and errors to stderr, Caddy logs both to stderr:
 *  every stream is read, and a line that is not an access-log line is skipped either way. */
export const DEFAULT_STREAM: StreamChoice = 'all'

/** Why a physical line gives no inner line to parse. Stable identifiers (counter keys). */
export const WRAPPER_SKIP = {
  /** From a stream `--stream` does not select. */
  otherStream: 'other-stream',
  /** Not a line of the wrapper (a CRI file line without timestamp/stream/tag, a JSON line that is
   *  not a Docker json-file entry, a blank line). */
  notWrapped: 'not-wrapped',
  /** The parts of a joined line that came after it grew too long to hold (the line itself is
   *  given as truncated, so it is rejected `line-too-long`). */
  restOfLongLine: 'rest-of-long-line',
} as const

/** Physical lines of the runtime's file, as the reader gives them (src/source/reader.ts LineBatch):
 *  line i is `buf[starts[i], contentEnds[i])` (without '\n' and a trailing '\r'), at absolute offsets
 *  `base + starts[i]` .. `base + ends[i]`. */
export interface PhysicalLines {
  buf: Buffer
  base: number
  starts: number[]
  contentEnds: number[]
  ends: number[]
  truncated?: boolean[]
}

/** Logical (inner) lines, in file order of their first physical line. Offsets are absolute in the
 *  runtime's file and partition it: line i covers [starts[i], ends[i]), the next one starts at
 *  ends[i]. Without interleaving (the usual case) line i covers exactly its own physical lines;
 *  when a joined line's parts are interleaved with the other stream's lines, each logical line's
 *  range runs from its first physical line to the next logical line's first physical line. */
export interface LogicalLines {
  starts: number[]
  ends: number[]
  /** The unwrapped inner text (for a skipped line: empty). */
  contents: Buffer[]
  /** The inner line was longer than maxLineBytes: its content is cut; reject it `line-too-long`. */
  truncated: boolean[]
  /** null: an inner line to parse; otherwise why it is skipped without parsing (WRAPPER_SKIP). */
  skips: (string | null)[]
  /** Where to read again to resume after line i: `ends[i]`, or earlier when a joined line that
   *  started before `ends[i]` has parts after it (interleaved streams). A reader resuming there must
   *  drop the logical lines that start before `ends[i]` (they are done). */
  resumeFrom: number[]
}

export interface Framer {
  /** Frames one batch. A joined line left open at the batch's end (CRI `P` parts, Docker entries
   *  without their final '\n') is kept, and so is every line after it, until a later batch
   *  completes it: lines come out in file order. */
  frame(batch: PhysicalLines): LogicalLines
  /** End of input that is final (a rotated or gzip file, stdin's end): open lines are given as they
   *  are (a container that stopped in the middle of a line). The framer is empty afterwards. */
  flush(): LogicalLines
  /** Offset of the first physical line not yet given out (the first part of an open joined line):
   *  the safe point to read again from when this framer's state is lost; null when nothing is held. */
  readonly openFrom: number | null
}

/** One physical line of a wrapper, unwrapped. */
export interface WrappedPart {
  stream: 'stdout' | 'stderr'
  /** More parts of the same line follow (CRI `P`, a Docker entry whose `log` lacks the final '\n'). */
  partial: boolean
  /** The part's share of the inner line (without the wrapper's line end). */
  content: Buffer
}

/** Unwraps one physical line (`buf[start, end)`, without its '\n'); null when it is not a line of
 *  this wrapper. Never throws. */
export type PartParser = (buf: Buffer, start: number, end: number) => WrappedPart | null
