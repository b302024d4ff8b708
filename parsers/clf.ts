// STUB — replaced by the CLF-family implementation (combined, common, vhost_*, traefik_clf).
import type { LogParser } from './types.js'

const stub = (name: string): LogParser => ({
  name,
  detect: () => 0,
  parse: () => ({ rejected: 'not-implemented' }),
})
export const combined = stub('combined')
export const common = stub('common')
export const vhostCombined = stub('vhost_combined')
export const vhostCommon = stub('vhost_common')
export const traefikClf = stub('traefik_clf')
