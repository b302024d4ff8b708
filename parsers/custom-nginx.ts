// STUB — replaced by the nginx log_format compiler.
import { FormatError, type LogParser } from './types.js'

export function compileNginxFormat(definition: string): LogParser {
  throw new FormatError(`nginx formats are not implemented yet: ${definition}`)
}
