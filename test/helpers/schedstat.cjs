/**
 * How long a thread has waited for a CPU (Linux's run queue: the second field of /proc/.../schedstat, in ns). The one
 * reader of it for the loop witness (loop-witness.cjs: a child's main thread, /proc/self/schedstat) and for the tests'
 * own threads (starved.ts's watchRunQueue: /proc/thread-self/schedstat, a vitest worker being a thread). CommonJS and
 * built-ins only, as the preload that requires it must stay: nothing of pushcheck in the process it watches.
 */
'use strict';
const { readFileSync } = require('node:fs');

/** ms the thread that `file` describes has waited for a CPU, or undefined where the kernel does not say. */
function runQueueWaitMs(file) {
  try {
    const [, waitedNs] = readFileSync(file, 'utf8').trim().split(/\s+/);
    return waitedNs === undefined ? undefined : Number(waitedNs) / 1e6;
  } catch {
    return undefined;
  }
}

module.exports = { runQueueWaitMs };
