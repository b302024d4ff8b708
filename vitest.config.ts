import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts'],
    // Most test files wait on child processes, timers and sockets (CPU use is under half of the
    // wall time with one worker): four workers overlap the waits on a 2-core machine.
    maxWorkers: 4,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    restoreMocks: true,
    unstubEnvs: true,
  },
})
