/** For tests that hold how many AbortSignals a path makes (each costs about 8 µs on Node 20: see phases.ts). */
import { vi } from 'vitest';
import { countingAbortController } from './counting-abort-controller.mjs';

/** Counts the AbortControllers made from now on, until vi.unstubAllGlobals(). */
export function countAbortControllers(): () => number {
  const { CountingAbortController, made } = countingAbortController();
  vi.stubGlobal('AbortController', CountingAbortController);
  return made;
}
