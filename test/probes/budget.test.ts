/**
 * The whole-probe budget (phases.ts): its own timer, or the caller's signal lent with its deadline (the scheduler's
 * attempt), which must bound the probe all the same.
 */
import { describe, expect, it } from 'vitest';
import { Budget, onAbort, quickController, timedOut } from '../../src/probes/phases.js';

const aborted = (signal: AbortSignal): Promise<number> => {
  const began = performance.now();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(performance.now() - began), { once: true }));
};

describe('Budget', () => {
  it('times out on its own after timeoutMs, with a TimeoutError, and follows the caller’s abort', async () => {
    const outer = new AbortController();
    const budget = new Budget(150, outer.signal);
    expect(budget.signal).not.toBe(outer.signal);
    expect(await aborted(budget.signal)).toBeGreaterThanOrEqual(140);
    expect((budget.signal.reason as Error).name).toBe('TimeoutError');
    expect(budget.remaining()).toBe(0);
    budget.dispose();

    const interrupted = new Budget(10_000, outer.signal);
    outer.abort(new Error('ctrl-c'));
    expect(interrupted.signal.aborted).toBe(true);
    expect((interrupted.signal.reason as Error).message).toBe('ctrl-c');
    interrupted.dispose();
  });

  it('borrows a caller signal that times out no later than it would, and counts down to that deadline', async () => {
    const outer = new AbortController();
    const deadline = performance.now() + 150;
    const timer = setTimeout(() => outer.abort(timedOut(150)), 150);
    const budget = new Budget(1000, outer.signal, undefined, deadline);
    expect(budget.signal).toBe(outer.signal);
    expect(budget.remaining()).toBeLessThanOrEqual(150);
    expect(budget.remaining()).toBeGreaterThan(100);
    await aborted(budget.signal);
    expect(budget.remaining()).toBe(0);
    budget.dispose();
    clearTimeout(timer);
  });

  it('keeps its own timer when the caller’s deadline is later than its own', async () => {
    const outer = new AbortController();
    const budget = new Budget(100, outer.signal, undefined, performance.now() + 10_000);
    expect(budget.signal).not.toBe(outer.signal);
    expect(await aborted(budget.signal)).toBeGreaterThanOrEqual(90);
    expect(outer.signal.aborted).toBe(false);
    budget.dispose();
  });
});

describe('quickController and onAbort', () => {
  it('call each listener once, after the signal has aborted with its reason; a removed one is not called', () => {
    const controller = quickController();
    const calls: string[] = [];
    onAbort(controller.signal, () => calls.push(`first ${(controller.signal.reason as Error).message}`));
    const removeSecond = onAbort(controller.signal, () => calls.push('second'));
    controller.signal.addEventListener('abort', () => calls.push('event'), { once: true });
    removeSecond();
    controller.abort(new Error('ctrl-c'));
    controller.abort(new Error('again'));
    expect(controller.signal.aborted).toBe(true);
    expect(calls).toEqual(['event', 'first ctrl-c']);
  });

  it('onAbort listens on any other signal as an abort event, and stops listening when removed', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    onAbort(controller.signal, () => calls.push('kept'));
    onAbort(controller.signal, () => calls.push('removed'))();
    controller.abort();
    expect(calls).toEqual(['kept']);
  });
});
