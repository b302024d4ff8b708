// Runnable test API: `node dist/src/testapi/main.js [flags]`. Prints one JSON line
// `{"url":"http://127.0.0.1:PORT/log","port":PORT}` to stdout once listening; exits 0 on SIGTERM/SIGINT.
import { optionsFromArgs, USAGE } from './args.js'
import { startTestApi, type TestApiOptions } from './server.js'

async function main(): Promise<void> {
  let options: TestApiOptions | 'help'
  try {
    options = optionsFromArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`testapi: ${(e as Error).message}\n\n${USAGE}`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(USAGE)
    return
  }
  const api = await startTestApi(options)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.stdout.write(`${JSON.stringify({ url: api.url, port: api.port })}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`testapi: ${(e as Error).message}\n`)
  process.exit(1)
})
