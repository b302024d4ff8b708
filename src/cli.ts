// STUB — the commander CLI lands here.
export async function main(argv: string[]): Promise<number> {
  process.stderr.write(`swetrix-ingest: not implemented yet (${argv.join(' ')})\n`)
  return 2
}
