// Container-runtime wrappers (CRI, Docker json-file) around any access-log format: detection, and a
// framer per file that turns the runtime's physical lines into the inner lines the parser reads.
import { createJoiningFramer, type JoinOptions } from './framer.js'
import { PART_PARSERS } from './detect.js'
import type { Framer, WrapperName } from './types.js'

export { detectWrapper, unwrapSample } from './detect.js'
export { parseCriPart } from './cri.js'
export { parseDockerPart } from './docker-json.js'
export * from './types.js'
export type { JoinOptions } from './framer.js'

/** A framer for one file (it keeps open joined lines between batches: one per file, read in order). */
export function createFramer(wrapper: WrapperName, o: JoinOptions): Framer {
  return createJoiningFramer(PART_PARSERS[wrapper], o)
}
