/**
 * A busy machine, allowed for as the code promises (docs/timeouts.md) and no further. A probe that used up its
 * timeout while this process's event loop stood still for at least OVERLOAD_SHARE of its wait is tried once more,
 * beyond --retries, and if that try is starved too (or cannot start in time) it reads local_overload, a warning that
 * says what it would have read. A test that asserts a timeout's verdict therefore asserts the verdict the network
 * gave, which a local_overload names, and accepts a starved attempt only when the loop really stood still that long,
 * as the run's own stall watch (src/run/stall.ts) saw it. A run in a child process cannot be watched from here: for
 * it the test passes what the child's loop witness saw (runCli's `witness`, test/helpers/witness.ts).
 */
import { expect } from 'vitest';
import { OVERLOAD_SHARE, stalledMs, watchStalls } from '../../src/run/stall.js';
import type { Failure, FailureCode, Result } from '../../src/types.js';
import { runQueueWaitMs } from './schedstat.cjs';

/** Keeps this thread's event loop from running for `ms`: the stall a busy machine makes, made on purpose. */
export function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the point: nothing else runs
  }
}

/**
 * Watches the event loop as a run does: how long it has stood still since this call, up to stop() (after which the
 * figure stays as it was: stall.ts counts nothing while no one watches).
 */
export function watchLoop(): { stalledMs: () => number; stop: () => void } {
  const stopWatching = watchStalls();
  const before = stalledMs();
  let atStop: number | undefined;
  return {
    stalledMs: () => atStop ?? stalledMs() - before,
    stop: () => {
      if (atStop !== undefined) return;
      atStop = stalledMs() - before;
      stopWatching();
    },
  };
}

/**
 * Watches how long this thread waits for a CPU (Linux's run queue, /proc/thread-self/schedstat): time in which a
 * machine busy with other work let nothing in this thread run, neither a client nor a server the test started in it.
 * `waitedMs()`: ms since this call, or undefined where the kernel does not say.
 */
export function watchRunQueue(): { waitedMs: () => number | undefined } {
  const read = (): number | undefined => runQueueWaitMs('/proc/thread-self/schedstat');
  const before = read();
  return {
    waitedMs: () => {
      const now = read();
      return before === undefined || now === undefined ? undefined : now - before;
    },
  };
}

/**
 * Fails the test unless the loop stood still (`stalledMs`) long enough for a probe of `timeoutMs` to have been judged
 * starved: a starved attempt waited at least 95 % of the timeout, and the loop stood still for OVERLOAD_SHARE of that,
 * or, past a lookup that answered, of the time from its answer (after at most `lookupMs` of running time in the test).
 * For a result whose message cannot be read (a Prometheus scrape), this is all networkVerdict can hold it to.
 */
export function expectStoodStillForStarved(what: string, run: { timeoutMs: number; stalledMs: number; lookupMs?: number }): void {
  const judgedMs = 0.95 * run.timeoutMs - (run.lookupMs ?? 0);
  expect(run.stalledMs, `${what} was judged starved: the loop must have stood still that long`).toBeGreaterThanOrEqual(OVERLOAD_SHARE * judgedMs);
}

export interface NetworkVerdict {
  /** The failure the network gave: the result's own, or the one its local_overload says it would have read. */
  code: FailureCode | undefined;
  phase: Failure['phase'] | undefined;
  message: string | undefined;
  /** The result reads local_overload (a warning). */
  overloaded: boolean;
  /** A try beyond --retries was made: the overload retry, after an attempt the machine starved. */
  overloadRetried: boolean;
}

/**
 * local_overload's message: FAILURES' explanation, then run.ts's overloadOf() detail in brackets (judged past a lookup
 * that answered, or past an answer read late before a step begun with little time left).
 */
const OVERLOAD_MESSAGE =
  /\(this machine was too busy to judge: pushcheck stood still for (\d+) of the (\d+) ms the probe waited(?: past (?:its DNS lookup, which answered in|its last answer, read late from) (\d+) ms)? \(it would have read (\w+): (.*)\)\)$/s;

/**
 * What `result` says of the network, once a starved attempt is allowed for; fails the test where the result claims
 * more starvation than the loop had (`stalledMs`: watchLoop's figure over the run when it ran in this process, or the
 * child's loop witness's totalStallMs), or is malformed. `lookupMs`: where the test's names take a lookup, the most
 * running time one takes; a connect, handshake or request after it is also judged on the time from its answer (run.ts
 * overloadOf).
 */
export function networkVerdict(result: Result, run: { timeoutMs: number; retries?: number; stalledMs: number; lookupMs?: number }): NetworkVerdict {
  const retries = run.retries ?? 0;
  const what = `${result.rule} ${result.host}:${result.port}`;
  const overloaded = result.error?.code === 'local_overload';
  const overloadRetried = result.attempts > retries + 1;
  expect(result.attempts, `${what}: at most one try beyond --retries`).toBeLessThanOrEqual(retries + 2);
  if (overloaded || overloadRetried) expectStoodStillForStarved(what, run);
  if (!overloaded) {
    return { code: result.error?.code, phase: result.error?.phase, message: result.error?.message, overloaded, overloadRetried };
  }
  expect(result.status, `${what}: local_overload is a warning`).toBe('warn');
  const said = OVERLOAD_MESSAGE.exec(result.error?.message ?? '');
  expect(said, `${what}: ${result.error?.message}`).not.toBeNull();
  const [, stoodMs, waitedMs, answeredMs, code, message] = said!;
  // A phase after a lookup that answered, or after an answer read late, may be judged on the time from that answer
  // (run.ts overloadOf).
  expect(Number(waitedMs) + Number(answeredMs ?? 0)).toBeGreaterThanOrEqual(Math.floor(run.timeoutMs * 0.95) - 1);
  expect(Number(stoodMs)).toBeGreaterThanOrEqual(Math.floor(Number(waitedMs) * OVERLOAD_SHARE));
  expect(Number(stoodMs)).toBeLessThanOrEqual(Math.ceil(run.stalledMs) + 1);
  return { code: code as FailureCode, phase: result.error?.phase, message, overloaded, overloadRetried };
}
