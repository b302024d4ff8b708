// The JSON access-log formats, one module each (nginx-json.ts, caddy-json.ts, traefik-json.ts), and
// the value readers they share (util/json-*.ts), gathered for importers that want the whole family.
export { caddyJson } from './caddy-json.js'
export { createNginxJson, JSON_RECORD_FIELDS } from './nginx-json.js'
export { traefikJson } from './traefik-json.js'
export { isObject, jsonRecordOf, jsonStart, jsonText } from './util/json-line.js'
export { normaliseProtocol, splitRequestLine, splitTarget } from './util/json-request.js'
export { timeValue } from './util/json-time.js'
export { floatValue, intValue, splitHostPort, textValue } from './util/json-values.js'
