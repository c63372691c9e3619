import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that wait longest (seconds on a quiet 2-core machine, one worker): started first, so that no long file
 * runs alone at the end while the other worker has nothing left. Beyond this list vitest's own order applies (its
 * cache of the last run's durations, or file size on a fresh clone such as CI's, where this list matters most).
 */
const LONGEST_FIRST = [
  'test/cli/demo.test.ts', // 25
  'test/docs/harness-walkthrough.test.ts', // 17
  'test/faults/matrix.test.ts', // 14
  'test/harness/simulate-signals.test.ts', // 14
  'test/cli/terminal.test.ts', // 14
  'test/faults/bounded-time.test.ts', // 10
  'test/faults/dns-bound.test.ts', // 11 (slow and silent resolvers in a namespace)
  'test/harness/own-mdm.test.ts', // 10
  'test/findings/end-to-end.test.ts', // 10
  'test/harness/push-reactions.test.ts', // 9
  'test/run/burst.test.ts', // 9
  'test/run/stall.test.ts', // 9
  'test/serve/prometheus-server.test.ts', // 8
  'test/run/hold.test.ts', // 8
  // npm install of the packed tarball (7 s, 25-30 s at load 9), and the single executable built in CI (4 s): small
  // files, which file size would run last.
  'test/package/pack.test.ts', // 7
  'test/harness/simulate.test.ts', // 7
  'test/ship/sea.test.ts', // 2 + 4
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return i === -1 ? LONGEST_FIRST.length : i;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

// Under CI a JSON summary is written too: .ci/run reads it for the closing "tests: N passed, N failed" line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A harness handler's bug (answered 500) fails the test it happened in; spawn-log.ts helps count CLI start-ups.
    setupFiles: ['test/setup/harness-bugs.ts', 'test/setup/spawn-log.ts'],
    // The user's cache folder is left alone: see cache-folder.ts. packed-folder.ts: the run's one npm pack.
    globalSetup: ['test/setup/cache-folder.ts', 'test/setup/packed-folder.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Most files wait on the network, child processes or timers, not the CPU: two files at a time even on two cores
    // (vitest's default is cores - 1, so one here). Three were faster again but starved the demo's probes into
    // local_overload at load 11; docs/contributing.md has the figures.
    maxWorkers: 2,
    // Files share no global state (each closes its servers, restores what it changes, names namespaces per
    // process), so a worker keeps its loaded modules from file to file: 0.35 s of CPU less per file.
    isolate: false,
    sequence: { sequencer: LongestFirst },
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: process.env.PUSHCHECK_RESULTS ?? '.ci/vitest-results.json' }]]
      : ['default'],
  },
});
