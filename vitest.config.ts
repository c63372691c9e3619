import { defineConfig } from 'vitest/config';

// Under CI a JSON summary is written too: .ci/run reads it for the closing "tests: N passed, N failed" line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A harness handler's bug (answered 500) fails the test it happened in; spawn-log.ts helps count CLI start-ups.
    setupFiles: ['test/setup/harness-bugs.ts', 'test/setup/spawn-log.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: process.env.PUSHCHECK_RESULTS ?? '.ci/vitest-results.json' }]]
      : ['default'],
  },
});
