/**
 * An independent witness of a child pushcheck's stalls, for tests that run the CLI as a process (runCli's
 * `witness` option preloads it with `node -r`, so nothing of it is in pushcheck itself). It watches the child's
 * event loop with Node's own perf_hooks.monitorEventLoopDelay (a native timer) and a tick of its own (none of
 * src/run/stall.ts's code), and reads from Linux's /proc/self/schedstat how long the process's main thread waited
 * for a CPU (the run queue), from its exec on (`ip netns exec` and Node's start-up included). At exit it writes what it saw as JSON to the file
 * named by PUSHCHECK_TEST_LOOP_WITNESS (test/helpers/witness.ts reads it). CommonJS: a preload of built-ins only, so
 * that watching costs the child next to nothing.
 */
'use strict';
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');
const { readFileSync, writeFileSync } = require('node:fs');

const file = process.env.PUSHCHECK_TEST_LOOP_WITNESS;
// Children of the child (none today) are no one's to watch.
delete process.env.PUSHCHECK_TEST_LOOP_WITNESS;
const RESOLUTION_MS = 10;

/** ms the main thread has waited for a CPU since exec, or undefined where the kernel does not say. */
function runQueueMs() {
  try {
    const [, waitedNs] = readFileSync('/proc/self/schedstat', 'utf8').trim().split(/\s+/);
    return Number(waitedNs) / 1e6;
  } catch {
    return undefined;
  }
}

if (file) {
  // The longest stall, from Node's native timer.
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  // Every stall added up, from a tick of the witness's own: each tick's lateness beyond ORDINARY_LATENESS_MS counts
  // whole (src/run/stall.ts counts only beyond 15 ms, so what it claims should never exceed this), a scheduler's
  // ordinary jitter not at all.
  const ORDINARY_LATENESS_MS = 5;
  const watchedFrom = performance.now();
  let lastTick = watchedFrom;
  let totalStallMs = 0;
  const lateness = (now) => now - lastTick - RESOLUTION_MS;
  setInterval(() => {
    const now = performance.now();
    if (lateness(now) > ORDINARY_LATENESS_MS) totalStallMs += lateness(now);
    lastTick = now;
  }, RESOLUTION_MS).unref();
  process.on('exit', () => {
    const now = performance.now();
    delay.disable();
    if (lateness(now) > ORDINARY_LATENESS_MS) totalStallMs += lateness(now);
    // Each sample is the time between two ticks due RESOLUTION_MS apart: what is beyond that, the loop stood still.
    const longestStallMs = delay.count > 0 ? Math.max(0, delay.max / 1e6 - RESOLUTION_MS) : 0;
    writeFileSync(file, JSON.stringify({ watchedMs: now - watchedFrom, longestStallMs, totalStallMs, runQueueMs: runQueueMs(), uptimeMs: now }));
  });
}
