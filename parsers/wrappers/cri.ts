// CRI container log lines (containerd, CRI-O; kubelet's /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log):
//   <RFC 3339 nano> <stdout|stderr> <tags> <content>
// `tags` is a ':'-separated list whose first tag is `P` (partial: the line goes on in the next part
// of the same stream) or `F` (full: the last part); later tags are reserved, and kubelet reads any
// first tag other than `P` as the end of a line, as here. The runtime splits lines longer than its
// limit (containerd: 16 KiB by default) into `P` parts. An empty line is `<time> <stream> F ` (an
// `F` without the space after it is read as empty too).
import { scanRfc3339 } from './rfc3339.js'
import type { PartParser, WrappedPart } from './types.js'

const SP = 0x20
const COLON = 0x3a
const P = 0x50
// "stdout" / "stderr" share "std"; the rest tells them apart.
const S = 0x73
const T = 0x74
const D = 0x64
const O = 0x6f
const U = 0x75
const E = 0x65
const R = 0x72

export const parseCriPart: PartParser = (buf, start, end): WrappedPart | null => {
  const tsEnd = scanRfc3339(buf, start, end)
  if (tsEnd === -1 || buf[tsEnd] !== SP) return null
  const s = tsEnd + 1
  if (s + 7 > end || buf[s] !== S || buf[s + 1] !== T || buf[s + 2] !== D || buf[s + 6] !== SP) return null
  let stream: WrappedPart['stream']
  if (buf[s + 3] === O && buf[s + 4] === U && buf[s + 5] === T) stream = 'stdout'
  else if (buf[s + 3] === E && buf[s + 4] === R && buf[s + 5] === R) stream = 'stderr'
  else return null
  const tag = s + 7
  let tagEnd = tag
  while (tagEnd < end && buf[tagEnd] !== SP) tagEnd++
  if (tagEnd === tag) return null
  const partial = buf[tag] === P && (tagEnd === tag + 1 || buf[tag + 1] === COLON)
  const contentStart = tagEnd < end ? tagEnd + 1 : end
  return { stream, partial, content: buf.subarray(contentStart, end) }
}
