/**
 * An AbortController that counts the ones made, for tests that hold how many AbortSignals a path makes (each costs
 * about 8 µs on Node 20: see src/probes/phases.ts). Plain JavaScript (types in counting-abort-controller.d.mts), so
 * that abort-controllers.ts (put in place with vitest's stubGlobal) and tcp-dropped.mjs (put in place by hand, in
 * plain Node in a network namespace) count the same way.
 */

/** A subclass of the global AbortController as it is now, and how many of it have been made. */
export function countingAbortController() {
  let made = 0;
  const CountingAbortController = class extends AbortController {
    constructor() {
      super();
      made += 1;
    }
  };
  return { CountingAbortController, made: () => made };
}
