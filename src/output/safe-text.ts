// Log lines are attacker-controlled: nothing from them reaches a terminal as raw control bytes.

// C0 controls, DEL and C1 controls (ESC sequences, CSI 0x9b, ...).
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** Escapes control characters as `\xHH` for human-readable output. */
export function safeText(s: string): string {
  return s.replace(CONTROL, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'))
}

// JSON.stringify escapes C0 already; DEL and C1 it leaves raw.
const JSON_UNSAFE = /[\u007f-\u009f\u2028\u2029]/g

/** JSON text with every control character escaped, safe for a terminal and for NDJSON readers. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}
