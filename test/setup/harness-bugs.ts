/**
 * Fails the test during which a harness server answered 500 for a bug of its own (see src/harness/http.ts):
 * such a bug is logged and answered as a server would, and without this check a test that expects some
 * other failure could pass over it.
 */
import { afterEach } from 'vitest';
import { takeHarnessBugs } from '../../src/harness/http.js';

afterEach(() => {
  const bugs = takeHarnessBugs();
  if (bugs.length === 0) return;
  const lines = bugs.map((b) => `${b.server} ${b.request}: ${b.error instanceof Error ? b.error.message : String(b.error)}`);
  throw new Error(`harness bug(s) answered as HTTP 500 during this test:\n  ${lines.join('\n  ')}`);
});
