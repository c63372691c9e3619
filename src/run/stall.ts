/**
 * How long this process's event loop stood still: a 10 ms tick that arrives late was kept from running, by our
 * own work or by a machine whose CPUs are busy with other work. While the loop stands still no socket event is
 * seen, yet every timeout's clock runs on. A probe that timed out mostly during such stalls measured the machine,
 * not the network (run.ts retries it, or reports local_overload).
 */
import { performance } from 'node:perf_hooks';
import { onAbort } from '../probes/phases.js';

const TICK_MS = 10;
/** Lateness a scheduler gives a timer on an ordinary machine; only beyond it does a tick count as a stall. */
const SLACK_MS = 15;

let watchers = 0;
let timer: NodeJS.Timeout | undefined;
let lastTick = 0;
let stalledTotalMs = 0;
/**
 * The latest stall a tick ended: from when the loop stood still, when that tick ran, and stalledMs's count before it.
 * Stalls with no tick on time between them are one: the late tick that ends one and the start of the next leave the
 * loop a moment that need not reach its poll for input (a machine that takes the CPU back at once).
 */
let latestStall = { from: 0, to: 0, stalledBefore: 0 };

function tick(): void {
  const now = performance.now();
  const late = now - lastTick - TICK_MS;
  if (late > SLACK_MS) {
    const chained = latestStall.to === lastTick;
    latestStall = chained ? { ...latestStall, to: now } : { from: now - late, to: now, stalledBefore: stalledTotalMs };
    stalledTotalMs += late;
  }
  lastTick = now;
}

/** Starts watching (counted: each start needs its stop). The tick is unref'd: it never keeps the process alive. */
export function watchStalls(): () => void {
  watchers += 1;
  if (watchers === 1) {
    lastTick = performance.now();
    latestStall = { from: 0, to: 0, stalledBefore: 0 };
    timer = setInterval(tick, TICK_MS).unref();
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    watchers -= 1;
    if (watchers === 0) clearInterval(timer);
  };
}

/**
 * ms the loop has stood still since watching began, including a stall still going on now (`now`: a performance.now()
 * the caller has just read, to spare reading the clock twice).
 */
export function stalledMs(now = performance.now()): number {
  if (watchers === 0) return 0;
  const late = now - lastTick - TICK_MS;
  return stalledTotalMs + (late > SLACK_MS ? late : 0);
}

/**
 * The last moment before `now` that the loop ran on time, as an event read at `now` saw it: the start of the stall it
 * may have waited out (one still going on, from when the next tick fell due or, where the tick before it was late, from
 * the start of the stall that tick ended; or the one the latest tick ended when the tick after it is not yet late), else
 * `now`; and how long the loop had stood still by then (stalledMs's count). `now` may be a moment already past (run.ts
 * asks about a step noted earlier in its attempt): the latest stall is remembered, so that a moment in it, or in the
 * tick after it, still reads its start; a moment before it reads as itself, with the count before that stall (an
 * earlier stall between would count against the moment, a judgement of this machine made the less readily).
 */
export function lastRan(now = performance.now()): { at: number; stalledMs: number } {
  if (watchers === 0) return { at: now, stalledMs: 0 };
  const stall = latestStall;
  // A tick later than a scheduler makes it: a stall going on, since the one the last tick ended if that tick was late.
  if (now - lastTick - TICK_MS > SLACK_MS) {
    return stall.to === lastTick ? { at: stall.from, stalledMs: stall.stalledBefore } : { at: lastTick + TICK_MS, stalledMs: stalledTotalMs };
  }
  // In the latest stall, or before the tick after it.
  if (stall.to > 0 && stall.from < now && now <= stall.to + TICK_MS + SLACK_MS) return { at: stall.from, stalledMs: stall.stalledBefore };
  return { at: now, stalledMs: now < stall.to ? stall.stalledBefore : stalledTotalMs };
}

/** A wait during which the loop stood still for at least this share of it measured the machine, not the peer. */
export const OVERLOAD_SHARE = 0.5;

/**
 * Whether a wait of `waitedMs` measured this machine: the loop stood still for OVERLOAD_SHARE of it. The one rule
 * by which a probe (run.ts's overloadOf) and a burst's client (burst.ts) are excused as local_overload.
 */
export function stoodStillFor(waitedMs: number, stalledMs: number): boolean {
  return stalledMs >= waitedMs * OVERLOAD_SHARE;
}

/**
 * Resolves once the loop has run `quietTicks` ticks in a row on time, or after `maxWaitMs` (a machine that stays
 * busy must not hold the run forever), or when `signal` aborts.
 */
export function untilLoopFree(maxWaitMs: number, signal?: AbortSignal, quietTicks = 5): Promise<void> {
  return new Promise((resolve) => {
    let last = performance.now();
    let quiet = 0;
    const started = last;
    let stopListening: (() => void) | undefined;
    const finish = (): void => {
      clearInterval(interval);
      stopListening?.();
      resolve();
    };
    const interval = setInterval(() => {
      const now = performance.now();
      quiet = now - last - TICK_MS > SLACK_MS ? 0 : quiet + 1;
      last = now;
      if (quiet >= quietTicks || now - started >= maxWaitMs) finish();
    }, TICK_MS);
    if (signal?.aborted) finish();
    else if (signal) stopListening = onAbort(signal, finish);
  });
}
