// Types for bench/generate-log.mjs (used by tests to build large logs).
export function lineGenerator(options?: { seed?: number; uniquePaths?: boolean; startMs?: number }): (i: number) => string
export function writeLog(path: string | undefined, lines: number, options?: { seed?: number; uniquePaths?: boolean; startMs?: number }): Promise<void>
