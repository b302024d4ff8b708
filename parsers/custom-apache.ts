// STUB — replaced by the Apache LogFormat compiler.
import { FormatError, type LogParser } from './types.js'

export function compileApacheFormat(definition: string): LogParser {
  throw new FormatError(`apache formats are not implemented yet: ${definition}`)
}
