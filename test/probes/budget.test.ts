/**
 * The whole-probe budget (phases.ts): its own timer, or the caller's signal lent with its deadline (the scheduler's
 * attempt), which must bound the probe all the same.
 */
import { describe, expect, it, vi } from 'vitest';
import { abortSignalOf, Budget, onAbort, QuickController, timedOut } from '../../src/probes/phases.js';
import { countAbortControllers } from '../helpers/abort-controllers.js';

const aborted = (signal: AbortSignal): Promise<number> => {
  const began = performance.now();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(performance.now() - began), { once: true }));
};

describe('Budget', () => {
  it('times out on its own after timeoutMs, with a TimeoutError, and follows the caller’s abort', async () => {
    const outer = new AbortController();
    const budget = new Budget(150, outer.signal);
    expect(abortSignalOf(budget.stop)).not.toBe(outer.signal);
    expect(await aborted(abortSignalOf(budget.stop))).toBeGreaterThanOrEqual(140);
    expect((abortSignalOf(budget.stop).reason as Error).name).toBe('TimeoutError');
    expect(budget.remaining()).toBe(0);
    budget.dispose();

    const interrupted = new Budget(10_000, outer.signal);
    outer.abort(new Error('ctrl-c'));
    expect(abortSignalOf(interrupted.stop).aborted).toBe(true);
    expect((abortSignalOf(interrupted.stop).reason as Error).message).toBe('ctrl-c');
    interrupted.dispose();
  });

  it('borrows a caller signal that times out no later than it would, and counts down to that deadline', async () => {
    const outer = new AbortController();
    const deadline = performance.now() + 150;
    const timer = setTimeout(() => outer.abort(timedOut(150)), 150);
    const budget = new Budget(1000, outer.signal, undefined, deadline);
    expect(abortSignalOf(budget.stop)).toBe(outer.signal);
    expect(budget.remaining()).toBeLessThanOrEqual(150);
    expect(budget.remaining()).toBeGreaterThan(100);
    await aborted(abortSignalOf(budget.stop));
    expect(budget.remaining()).toBe(0);
    budget.dispose();
    clearTimeout(timer);
  });

  it('keeps its own timer when the caller’s deadline is later than its own', async () => {
    const outer = new AbortController();
    const budget = new Budget(100, outer.signal, undefined, performance.now() + 10_000);
    expect(abortSignalOf(budget.stop)).not.toBe(outer.signal);
    expect(await aborted(abortSignalOf(budget.stop))).toBeGreaterThanOrEqual(90);
    expect(outer.signal.aborted).toBe(false);
    budget.dispose();
  });
});

describe('QuickController and onAbort', () => {
  it('aborts the controllers it adopted with its own reason, in order with its listeners, and not one it released', () => {
    const run = new QuickController();
    const [first, released, last] = [new QuickController(), new QuickController(), new QuickController()];
    const calls: string[] = [];
    run.adopt(first);
    onAbort(first, () => calls.push(`first ${(first.reason as Error).message}`));
    onAbort(run, () => calls.push('listener'));
    run.adopt(released);
    run.adopt(last);
    onAbort(last, () => calls.push(`last ${(last.reason as Error).message}`));
    run.release(released);
    run.abort(new Error('ctrl-c'));
    expect(calls).toEqual(['first ctrl-c', 'listener', 'last ctrl-c']);
    expect([first.aborted, released.aborted, last.aborted]).toEqual([true, false, true]);
    expect(first.signal.reason).toBe(run.reason);
    // Once aborted, it keeps none of them.
    run.abort(new Error('again'));
    expect(calls).toHaveLength(3);
  });

  it('call each listener once, after the signal has aborted with its reason; a removed one is not called', () => {
    const controller = new QuickController();
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

  // The first listener is kept in a field of its own, the others in a Set made for a second (d8c3e18): whichever is
  // removed, the rest are called once each in the order added, and what happens during the abort is as with one Set.
  it('calls the listeners left in the order added, once each, whichever were removed and added again', () => {
    const controller = new QuickController();
    const calls: string[] = [];
    const listener = (name: string) => () => calls.push(name);
    const a = listener('a');
    const removeA = onAbort(controller, a);
    onAbort(controller, listener('b'));
    removeA();
    onAbort(controller, listener('c'));
    // Added again after b and c: called after them, once, however often it was added.
    onAbort(controller, a);
    onAbort(controller, a);
    const alone = new QuickController();
    onAbort(alone, listener('removed'))();
    onAbort(alone, listener('after the first was removed'));
    const removeD = onAbort(controller, listener('d'));
    removeD();
    controller.abort(new Error('ctrl-c'));
    alone.abort(new Error('ctrl-c'));
    expect(calls).toEqual(['b', 'c', 'a', 'after the first was removed']);
  });

  it('during its abort: a listener removed by an earlier one is still called, one added then is not, nor is abort entered twice', () => {
    for (const listeners of [1, 2]) {
      const controller = new QuickController();
      const calls: string[] = [];
      let removeLast = (): void => undefined;
      onAbort(controller, () => {
        calls.push('first');
        removeLast();
        onAbort(controller, () => calls.push('added during the abort'));
        controller.abort(new Error('again'));
      });
      if (listeners === 2) removeLast = onAbort(controller, () => calls.push(`last ${(controller.reason as Error).message}`));
      controller.abort(new Error('ctrl-c'));
      expect(calls).toEqual(listeners === 2 ? ['first', 'last ctrl-c'] : ['first']);
      controller.abort(new Error('later'));
      expect(calls).toHaveLength(listeners);
    }
  });

  it('onAbort listens on any other signal as an abort event, and stops listening when removed', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    onAbort(controller.signal, () => calls.push('kept'));
    onAbort(controller.signal, () => calls.push('removed'))();
    controller.abort();
    expect(calls).toEqual(['kept']);
  });

  it('stands in for its AbortSignal until asked for it: aborted and reason, listeners, and a signal made later already aborted', () => {
    const made = countAbortControllers();
    try {
      const controller = new QuickController();
      const calls: string[] = [];
      onAbort(controller, () => calls.push('before'));
      expect(controller.aborted).toBe(false);
      expect(made()).toBe(0);
      controller.abort(new Error('ctrl-c'));
      expect(controller.aborted).toBe(true);
      expect((controller.reason as Error).message).toBe('ctrl-c');
      expect(calls).toEqual(['before']);
      expect(made()).toBe(0);
      // Asked for after the abort (a TLS handshake starting late): already aborted, with the same reason.
      expect(controller.signal.aborted).toBe(true);
      expect((controller.signal.reason as Error).message).toBe('ctrl-c');
      expect(made()).toBe(1);
      expect(abortSignalOf(controller)).toBe(controller.signal);
      expect(made()).toBe(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('gives one set of listeners whether onAbort is given the controller or the signal it made, and the signal its abort event', () => {
    const controller = new QuickController();
    const calls: string[] = [];
    onAbort(controller, () => calls.push('controller'));
    const { signal } = controller;
    onAbort(signal, () => calls.push('signal'));
    signal.addEventListener('abort', () => calls.push('event'), { once: true });
    onAbort(controller, () => calls.push('removed'))();
    controller.abort(timedOut(100));
    expect(calls).toEqual(['event', 'controller', 'signal']);
    expect((signal.reason as Error).name).toBe('TimeoutError');
  });
});

describe('a budget lent a QuickController', () => {
  it('makes no AbortSignal unless asked for one, and stops when the controller aborts', () => {
    const made = countAbortControllers();
    try {
      const controller = new QuickController();
      const budget = new Budget(1000, controller, undefined, performance.now() + 500);
      expect(budget.stop).toBe(controller);
      expect(budget.remaining()).toBeGreaterThan(400);
      const calls: string[] = [];
      onAbort(budget.stop, () => calls.push('stopped'));
      controller.abort(timedOut(500));
      expect(calls).toEqual(['stopped']);
      expect(budget.remaining()).toBe(0);
      expect(made()).toBe(0);
      expect(abortSignalOf(budget.stop).aborted).toBe(true);
      expect(made()).toBe(1);
      budget.dispose();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
