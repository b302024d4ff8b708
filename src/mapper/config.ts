// The optional JSON config file (`--config`): custom-event rules and sites. Validated strictly
// (unknown keys are errors, so a typo never silently disables a rule or a site).
import { readFile } from 'node:fs/promises'
import { dirname, posix, resolve } from 'node:path'
import * as z from 'zod'
import { LIMITS } from './limits.js'
import { parseStatusSpec, type CustomEventRule } from './rules.js'
import { hostPatternProblem, PROJECT_ID_PATTERN, type SiteEntry } from './sites.js'

/** One entry of the config's `sites` list, as written. */
export interface SiteConfig {
  project: string
  hosts?: string[]
  files?: string[]
}

export interface IngestConfig {
  customEvents: CustomEventRule[]
  sites: SiteConfig[]
}

/** A config file that cannot be read or is not valid; the message names the file and the problem. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const nonEmpty = z.string().trim().min(1, 'must not be empty')
const oneOrMore = z.union([nonEmpty, z.array(nonEmpty).min(1, 'must list at least one value')])

const statusSchema = z
  .union([z.string(), z.number().int(), z.array(z.union([z.string(), z.number().int()])).min(1, 'must list at least one status')])
  .superRefine((value, ctx) => {
    try {
      parseStatusSpec(value)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  })

const ruleSchema = z.strictObject({
  event: z.string().min(1, 'must not be empty').max(LIMITS.ev, `must be at most ${LIMITS.ev} characters (the API limit)`),
  path: z
    .string()
    .min(1, 'must not be empty')
    .superRefine((value, ctx) => {
      try {
        new RegExp(value)
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(err as Error).message}` })
      }
    }),
  method: oneOrMore.optional(),
  status: statusSchema.optional(),
  host: oneOrMore.optional(),
  meta: z
    .record(z.string().min(1, 'meta keys must not be empty'), z.string())
    .superRefine((value, ctx) => {
      const keys = Object.keys(value)
      if (keys.length > LIMITS.metaKeys) ctx.addIssue({ code: 'custom', message: `at most ${LIMITS.metaKeys} keys (the API limit), got ${keys.length}` })
      const keyChars = keys.reduce((n, k) => n + k.length, 0)
      if (keyChars >= LIMITS.metaChars)
        ctx.addIssue({ code: 'custom', message: `keys use ${keyChars} characters; keys and values together must stay within ${LIMITS.metaChars}` })
    })
    .optional(),
})

const hostSchema = z.string().superRefine((value, ctx) => {
  const problem = hostPatternProblem(value)
  if (problem !== null) ctx.addIssue({ code: 'custom', message: problem })
})

const siteSchema = z
  .strictObject({
    project: z.string().regex(PROJECT_ID_PATTERN, 'not a Swetrix project id (12 letters, digits or dashes, no "--")'),
    hosts: z.array(hostSchema).min(1, 'must list at least one host (or leave it out)').optional(),
    files: z.array(nonEmpty).min(1, 'must list at least one path or glob (or leave it out)').optional(),
  })
  .refine((site) => site.hosts !== undefined || site.files !== undefined, 'a site needs "hosts", "files" or both')

export const configSchema = z
  .strictObject({
    customEvents: z.array(ruleSchema).default([]),
    sites: z.array(siteSchema).default([]),
  })
  .superRefine((config, ctx) => {
    // The same path or glob in two sites: which project would its lines go to?
    const claimed = new Map<string, number>()
    config.sites.forEach((site, i) => {
      site.files?.forEach((file, j) => {
        const key = posix.normalize(file.trim())
        const owner = claimed.get(key)
        if (owner !== undefined && owner !== i)
          ctx.addIssue({
            code: 'custom',
            path: ['sites', i, 'files', j],
            message: `"${file}" is already claimed by sites[${owner}] (project ${config.sites[owner]!.project}); a file belongs to one site`,
          })
        else claimed.set(key, i)
      })
    })
  })

/** Validates an already-parsed config object (`source` names it in messages). */
export function parseConfig(value: unknown, source: string): IngestConfig {
  const result = configSchema.safeParse(value)
  if (!result.success) throw new ConfigError(`${source}: invalid config\n${z.prettifyError(result.error)}`)
  return result.data as IngestConfig
}

/** The config's sites as site-map entries; relative `files` are relative to the config file. */
export function siteEntries(config: IngestConfig, source: string): SiteEntry[] {
  return config.sites.map((site, i) => ({
    label: `sites[${i}] (project ${site.project}) in ${source}`,
    project: site.project,
    hosts: site.hosts ?? [],
    files: site.files ?? [],
    baseDir: dirname(resolve(source)),
  }))
}

/** Reads and validates a JSON config file: `{ "customEvents": [ rule, ... ] }`. */
export async function loadConfig(path: string): Promise<IngestConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new ConfigError(`${path}: cannot read config file (${e.code ?? e.message})`)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON: ${(err as Error).message}`)
  }
  return parseConfig(value, path)
}
