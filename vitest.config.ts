import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: real workers and browsers compete for them, so keep files to two at a time.
    // `npm test` runs the browser, bench and bandwidth files one at a time after the rest
    // (`test:serial`): their timing targets assume the machine is theirs, not shared with
    // another browser pair.
    maxWorkers: 2,
  },
});
