import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The vitest that test/faults/interrupted.test.ts starts and then interrupts: one file, holds-network.fixture.ts,
 * in one fork worker, as the suite's workers are forks; none of the suite's set-up (its npm pack, its cache folder).
 */
export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: {
    include: ['test/faults/interrupted/holds-network.fixture.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    reporters: ['default'],
  },
});
