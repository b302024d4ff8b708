// `backfill --via import`'s flags, checked once with one-line messages: what the command will do
// (write, upload, send errors live), the project, the file size limit and the threads.
import { UPLOAD_LIMIT_BYTES } from '../sink/import-csv.js'
import { defaultThreads } from '../destinations/parallel-count.js'
import { parseByteSize, parsePositiveInt, validateProjectId, type PipelineFlags } from '../options.js'
import { UsageError } from '../errors.js'
import { sendSettings, type SendFlags, type SendSettings } from '../runtime/event-sink.js'
import type { Credentials } from './data-import-client.js'

export interface ImportFlags extends PipelineFlags, Partial<SendFlags> {
  project?: string
  apiUrl: string
  stateDir: string
  out?: string
  hostname?: string
  /** undefined: the bundled database; a path: the user's; false: no country (`--no-geoip`). */
  geoip?: string | boolean
  upload?: boolean
  json?: boolean
  progress?: boolean
  maxFileSize?: string
  /** Send the error events live to the Events API (Data Import takes none). */
  errorsViaApi?: boolean
  /** `--undo-import ID`: delete that import instead of importing. */
  undoImport?: string
  threads?: string
}

export interface ImportSettings {
  upload: boolean
  dryRun: boolean
  errorsViaApi: boolean
  /** `-p`, or null when not given (sites may name every project). */
  projectId: string | null
  /** The API is asked for something that belongs to a project (an upload, error events). */
  needsProject: boolean
  /** The API's settings, with --upload or --errors-via-api only (its flags are checked then). */
  send: SendSettings | null
  credentials: Credentials | null
  maxFileBytes: number
  threads: number
}

export async function importSettings(flags: ImportFlags, env: NodeJS.ProcessEnv): Promise<ImportSettings> {
  const upload = flags.upload === true
  const dryRun = flags.dryRun === true
  if (upload && dryRun) throw new UsageError('choose one of --upload and --dry-run')
  const errorsViaApi = flags.errorsViaApi === true
  const needsProject = upload || (errorsViaApi && !dryRun)
  const projectId = flags.project === undefined || flags.project === '' ? null : validateProjectId(flags.project, true)
  // Without -p the sites name the projects; with no way to give sites, say so before anything else.
  if (projectId === null && needsProject && (flags.site ?? []).length === 0 && flags.config === undefined) validateProjectId(undefined, true)
  const send = upload || errorsViaApi ? sendSettings({ concurrency: '16', maxRetryTime: '10m', ...flags }) : null
  // The HTTP side (undici) loads only when it is used: less memory for writing the files.
  const credentials = upload ? (await import('./upload.js')).credentialsFromEnv(env) : null
  if (upload && credentials === null) throw new UsageError('--upload needs SWETRIX_TOKEN, or SWETRIX_EMAIL and SWETRIX_PASSWORD, in the environment')
  const maxFileBytes = flags.maxFileSize === undefined ? UPLOAD_LIMIT_BYTES : parseByteSize(flags.maxFileSize, '--max-file-size')
  if (maxFileBytes > UPLOAD_LIMIT_BYTES) throw new UsageError(`--max-file-size ${flags.maxFileSize}: Swetrix accepts at most 100 MB per file`)
  if (maxFileBytes < 1000) throw new UsageError(`--max-file-size ${flags.maxFileSize}: at least 1000 bytes`)
  const threads = flags.threads === undefined || flags.threads === 'auto' ? defaultThreads() : parsePositiveInt(flags.threads, '--threads')
  return { upload, dryRun, errorsViaApi, projectId, needsProject, send, credentials, maxFileBytes, threads }
}
