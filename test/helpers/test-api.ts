// One test API for a test file (or a describe block): started before its tests, closed after.
import { afterAll, beforeAll } from 'vitest'
import { startTestApi, type TestApi } from '../../src/testapi/server.js'

export interface SharedTestApi {
  /** The running API (available inside tests and hooks). */
  readonly api: TestApi
  /** Pages the API accepted after its first `before` requests, in order. */
  readonly pagesSince: (before: number) => string[]
}

export function useTestApi(projects: string[]): SharedTestApi {
  let api: TestApi | undefined
  beforeAll(async () => {
    api = await startTestApi({ projects })
  })
  afterAll(async () => {
    await api?.close()
  })
  const shared: SharedTestApi = {
    get api() {
      if (api === undefined) throw new Error('the test API is not started yet')
      return api
    },
    pagesSince: (before) =>
      shared.api
        .accepted()
        .slice(before)
        .map((e) => String(e.body.pg)),
  }
  return shared
}
