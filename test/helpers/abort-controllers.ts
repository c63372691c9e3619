/** For tests that hold how many AbortSignals a path makes (each costs about 8 µs on Node 20: see phases.ts). */
import { vi } from 'vitest';

/** Counts the AbortControllers made from now on, until vi.unstubAllGlobals(). */
export function countAbortControllers(): () => number {
  let made = 0;
  vi.stubGlobal(
    'AbortController',
    class extends AbortController {
      constructor() {
        super();
        made += 1;
      }
    },
  );
  return () => made;
}
