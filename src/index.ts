// Library entry (`import ... from 'swetrix-ingest'`): the types a third-party parser module needs,
// and the pure parse and map steps for embedding.
export type { LogParser, ParseResult, ParserModule, ParserOptions, Rejection, RequestRecord } from '../parsers/types.js'
export { DIRECTIVE_REASON, FormatError, isRejection, parserForInput } from '../parsers/types.js'
export { BUILTIN_FORMAT_NAMES, builtinParsers, resolveFormat } from '../parsers/registry.js'
export { detectFormat } from '../parsers/detect.js'
export { createMapper, type MapperOptions } from './mapper/index.js'
export type { OutgoingEvent, MapResult, LineCounters } from './types.js'
