/** The verdict policy: which results fail a run. Shared by the run (exit code) and the reports (JUnit failures). */
import type { Result } from './types.js';

/**
 * Exit code 1 when a critical rule failed; with --strict also when anything warned, except retired
 * ports, which never fail a run (a healthy network today must come out green).
 */
export function verdictOf(results: Result[], strict: boolean): 'pass' | 'fail' {
  const failing = results.some(
    (r) => r.status === 'fail' || (strict && r.status === 'warn' && r.legacy === undefined),
  );
  return failing ? 'fail' : 'pass';
}
