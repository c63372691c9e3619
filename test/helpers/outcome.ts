/** Assertions shared by the probe tests. */
import { expect } from 'vitest';
import type { ProbeOutcome, Timings } from '../../src/types.js';

type Phase = Exclude<keyof Timings, 'totalMs'>;

/** The phases that ran have timings, rounded to 0.1 ms, and totalMs covers them all. */
export function expectTimings(outcome: ProbeOutcome, phases: Phase[]): void {
  const { timings } = outcome;
  let sum = 0;
  for (const phase of phases) {
    const ms = timings[phase];
    expect(ms, phase).toBeTypeOf('number');
    expect(Number.isInteger(Math.round((ms ?? 0) * 1000) / 100), `${phase} = ${ms} rounded to 0.1`).toBe(true);
    expect(timings.totalMs).toBeGreaterThanOrEqual(ms ?? 0);
    sum += ms ?? 0;
  }
  expect(timings.totalMs).toBeGreaterThanOrEqual(Math.round(sum * 10) / 10 - 1e-9);
}
