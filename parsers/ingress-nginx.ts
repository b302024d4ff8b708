// ingress-nginx's default access log format, `log-format-upstream` (nginx's `upstreaminfo`):
// combined, then the request's length and time, the upstream's name and the alternative upstream's
// name in brackets, and the upstream's address, response length, response time and status, and the
// request id. The upstream fields are lists where nginx tried several servers (`, `) or followed an
// internal redirect (` : `); they and the names are matched and ignored. The visitor is
// `$remote_addr` (ingress-nginx puts the forwarded client there when `use-forwarded-headers` is on).
import type { LogParser } from './types.js'
import { compileTokens } from './util/compiled-format.js'
import { tokenizeNginxFormat } from './custom-nginx.js'

/** ingress-nginx's `logFormatUpstream` (internal/ingress/controller/config/config.go). */
export const INGRESS_NGINX_LOG_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" ' +
  '$request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr ' +
  '$upstream_response_length $upstream_response_time $upstream_status $req_id'

/** A parser for ingress-nginx's default format (a fresh instance: its own time cache). */
export function createIngressNginxParser(): LogParser {
  return compileTokens(
    'ingress_nginx',
    'ingress-nginx default log-format-upstream (upstreaminfo): combined + request length and time, upstream names and fields',
    tokenizeNginxFormat(INGRESS_NGINX_LOG_FORMAT),
  )
}
