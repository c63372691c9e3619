/**
 * An independent witness of a child pushcheck's stalls, for tests that run the CLI as a process (runCli's
 * `witness` option preloads it with `node -r`, so nothing of it is in pushcheck itself). It watches the child's
 * event loop with a tick of its own (none of src/run/stall.ts's code), and reads from Linux's /proc/self/schedstat
 * how long the process's main thread waited for a CPU (the run queue), from its exec on (`ip netns exec` and Node's
 * start-up included). At exit it writes what it saw as JSON to the file named by PUSHCHECK_TEST_LOOP_WITNESS
 * (test/helpers/witness.ts reads it). CommonJS: a preload of built-ins only (and schedstat.cjs, the same), so that
 * watching costs the child next to nothing.
 */
'use strict';
const { performance } = require('node:perf_hooks');
const { writeFileSync } = require('node:fs');
const { runQueueWaitMs } = require('./schedstat.cjs');

const file = process.env.PUSHCHECK_TEST_LOOP_WITNESS;
// Children of the child (none today) are no one's to watch.
delete process.env.PUSHCHECK_TEST_LOOP_WITNESS;
const RESOLUTION_MS = 10;

if (file) {
  // A tick of the witness's own (none of src/run/stall.ts's code). Each tick's lateness beyond ORDINARY_LATENESS_MS
  // counts whole in the sum of stalls (stall.ts counts only beyond 15 ms, so what it claims should never exceed this),
  // a scheduler's ordinary jitter not at all; the greatest lateness of a tick is the longest stall.
  const ORDINARY_LATENESS_MS = 5;
  let lastTick = performance.now();
  let longestStallMs = 0;
  let totalStallMs = 0;
  /** The loop's lateness from the last tick to `now`, added to the sum where it is a stall. */
  const stallUntil = (now) => {
    const latenessMs = now - lastTick - RESOLUTION_MS;
    if (latenessMs > ORDINARY_LATENESS_MS) totalStallMs += latenessMs;
    return latenessMs;
  };
  setInterval(() => {
    const now = performance.now();
    longestStallMs = Math.max(longestStallMs, stallUntil(now));
    lastTick = now;
  }, RESOLUTION_MS).unref();
  process.on('exit', () => {
    stallUntil(performance.now());
    writeFileSync(file, JSON.stringify({ longestStallMs, totalStallMs, runQueueMs: runQueueWaitMs('/proc/self/schedstat') }));
  });
}
