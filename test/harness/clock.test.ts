import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/harness/clock.js';
import { percentile, summarizeLatencies } from '../../src/harness/fleet/stats.js';

describe('VirtualClock', () => {
  it('runs events in time order, ties in the order they were set, and jumps time to each', () => {
    const clock = new VirtualClock(1000);
    const seen: string[] = [];
    clock.setTimer(30, () => seen.push(`c@${clock.now()}`));
    clock.setTimer(10, () => seen.push(`a@${clock.now()}`));
    clock.setTimer(10, () => seen.push(`b@${clock.now()}`));
    clock.setTimer(20, () => clock.setTimer(5, () => seen.push(`nested@${clock.now()}`)));
    expect(clock.runUntil(2000)).toBe(5);
    expect(seen).toEqual(['a@1010', 'b@1010', 'nested@1025', 'c@1030']);
    expect(clock.now()).toBe(2000);
  });

  it('does not run cleared timers and leaves later ones queued', () => {
    const clock = new VirtualClock(0);
    const seen: number[] = [];
    const t = clock.setTimer(5, () => seen.push(5));
    clock.setTimer(50, () => seen.push(50));
    clock.clearTimer(t);
    clock.runUntil(10);
    expect(seen).toEqual([]);
    expect(clock.pending).toBe(1);
    clock.advance(100);
    expect(seen).toEqual([50]);
  });

  it('bounds the loop: a timer that re-arms itself with no delay throws instead of spinning', () => {
    const clock = new VirtualClock(0);
    const spin = (): void => void clock.setTimer(0, spin);
    clock.setTimer(0, spin);
    expect(() => clock.runUntil(1, 1000)).toThrow(/more than 1000 events/);
  });
});

describe('percentiles', () => {
  it('uses nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(summarizeLatencies([5, 1, 3])).toEqual({ count: 3, p50Ms: 3, p95Ms: 5, p99Ms: 5, maxMs: 5 });
    expect(summarizeLatencies([])).toEqual({ count: 0, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null });
  });
});
