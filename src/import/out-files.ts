// Where the import files go: `<out>/swetrix-import-<time of the run>-0001.csv`, …, or with several
// sites one directory per project, `<out>/<PROJECT>/swetrix-import-<time of the run>-0001.csv`, so
// each directory is one project's upload (the names stay what Swetrix shows as the file's name).
import { join } from 'node:path'
import { ImportCsvSink } from '../sink/import-csv.js'

export interface OutFilesOptions {
  outDir: string
  /** The run's start (epoch ms): in every file name. */
  startedAt: number
  maxBytes: number
  dryRun: boolean
}

/** The files of a project (null: the only project, without sites), opened once per project. */
export function outFiles(o: OutFilesOptions): (project: string | null) => ImportCsvSink {
  const stamp = new Date(o.startedAt)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return (project) => new ImportCsvSink({ dir: outDirOf(o.outDir, project), prefix: `swetrix-import-${stamp}`, maxBytes: o.maxBytes, dryRun: o.dryRun })
}

/** The directory of a project's files. */
export function outDirOf(outDir: string, project: string | null): string {
  return project === null ? outDir : join(outDir, project)
}
