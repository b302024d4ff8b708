// The optional JSON config file (`--config`): custom-event rules. Validated strictly (unknown keys
// are errors, so a typo never silently disables a rule).
import { readFile } from 'node:fs/promises'
import * as z from 'zod'
import { LIMITS } from './limits.js'
import { parseStatusSpec, type CustomEventRule } from './rules.js'

export interface IngestConfig {
  customEvents: CustomEventRule[]
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
  path: z.string().min(1, 'must not be empty').superRefine((value, ctx) => {
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
      if (keyChars >= LIMITS.metaChars) ctx.addIssue({ code: 'custom', message: `keys use ${keyChars} characters; keys and values together must stay within ${LIMITS.metaChars}` })
    })
    .optional(),
})

export const configSchema = z.strictObject({
  customEvents: z.array(ruleSchema).default([]),
})

/** Validates an already-parsed config object (`source` names it in messages). */
export function parseConfig(value: unknown, source: string): IngestConfig {
  const result = configSchema.safeParse(value)
  if (!result.success) throw new ConfigError(`${source}: invalid config\n${z.prettifyError(result.error)}`)
  return result.data as IngestConfig
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
