// Runs one connect or run to a port a firewall drops, in this process, and prints one JSON line with what it gave and
// how long it took. tcp.test.ts and attempt.test.ts run it (tcp-dropped.ts) in the client namespace of a fault network
// (test/faults/netns.ts), where an nftables rule of the server namespace drops the SYNs.
//   node test/helpers/tcp-dropped.mjs '{ "case": "probe", ... }'
// Cases:
//   probe          tcpProbe.run on { address, port } (or { host, pins }) with { timeoutMs } and a --proxy value
//                  (proxy); abortAfterMs: aborted then, by an AbortController or (quick) the scheduler's
//                  QuickController lent with its deadline; known: the lookup handed over as the scheduler hands
//                  it (ctx.resolved), so that a probe of one address takes SocketPool.probe rather than runProbe
//   addresses      connectAddresses(addresses, port) with { timeoutMs }
//   endsWithSignal a SocketPool's connectAndClose and connectTcp, each with { timeoutMs, endsWithSignal } and a signal
//                  that times out after signalMs
//   runs           runChecks on ruleSets with settings twice, then once more interrupted after interruptAfterMs with
//                  interruptSettings; and what the runs left behind (process.getActiveResourcesInfo(), by type)
//   interrupt      runChecks on ruleSets with settings, aborted after interruptAfterMs as Ctrl-C does: the report, how
//                  long it took, and how many AbortControllers were made meanwhile (attempt.test.ts)
// Imports the built dist/ (run `npm run build` first), so that it runs with plain Node in a namespace.
import { parseProxy } from '../../dist/cli/proxy-option.js';
import { PhaseError } from '../../dist/probes/classify.js';
import { createResolver } from '../../dist/probes/dns.js';
import { QuickController, timedOut } from '../../dist/probes/phases.js';
import { connectAddresses, connectTcp, SocketPool, tcpProbe } from '../../dist/probes/tcp.js';
import { runChecks } from '../../dist/run/run.js';
import { checkSettings } from '../../dist/run/settings.js';
import { activeResources, addedOnceSettled } from './active-resources.mjs';
import { countingAbortController } from './counting-abort-controller.mjs';
import { probeContextWith, testTarget } from './probe-literals.mjs';

const input = JSON.parse(process.argv[2] ?? '{}');
const never = new AbortController().signal;

/** A failure as data: the PhaseError's failure and the address it recorded. */
const failed = (err) => {
  if (!(err instanceof PhaseError)) throw err;
  return { failure: err.failure, address: err.recorded.address };
};

async function probe({ address, host = address, pins = [], proxy, port, timeoutMs, abortAfterMs, quick, known }) {
  const controller = quick ? new QuickController() : new AbortController();
  if (abortAfterMs !== undefined) setTimeout(() => controller.abort(new Error('ctrl-c')), abortAfterMs);
  const start = Date.now();
  const startedAt = performance.now();
  const signal = controller instanceof AbortController ? controller.signal : controller;
  const ctx = probeContextWith(createResolver, {
    timeoutMs,
    signal,
    pins,
    ...(quick && { startedAt, deadline: startedAt + timeoutMs }),
    ...(proxy && { proxy: parseProxy(proxy) }),
  });
  if (known) ctx.resolved = await ctx.resolve(host, never);
  const outcome = await tcpProbe.run(testTarget(host, port, 'tcp'), ctx);
  return { outcome, elapsedMs: Date.now() - start };
}

async function addresses({ addresses: list, port, timeoutMs }) {
  const start = Date.now();
  const result = await connectAddresses(list, port, { signal: never, timeoutMs }, connectTcp).then(
    ({ socket, address }) => {
      socket.destroy();
      return { address };
    },
    failed,
  );
  return { ...result, elapsedMs: Date.now() - start };
}

async function endsWithSignal({ address, port, timeoutMs, signalMs }) {
  const dials = [];
  for (const dial of [new SocketPool(1).connectAndClose, connectTcp]) {
    const controller = new AbortController();
    // When the signal aborted, by this process's clock: the timer's own start is libuv's cached loop time, which at a
    // process's start can be older than a performance.now() read here, so the elapsed time alone may read short.
    let abortedAt;
    setTimeout(() => {
      abortedAt = performance.now();
      controller.abort(timedOut(signalMs));
    }, signalMs);
    const start = performance.now();
    const result = await dial(address, port, { signal: controller.signal, timeoutMs, endsWithSignal: true }).then(() => ({}), failed);
    const end = performance.now();
    dials.push({ ...result, elapsedMs: end - start, endedAfterAbort: abortedAt !== undefined && abortedAt <= end });
  }
  return { dials };
}

async function runs({ ruleSets, settings, interruptSettings, interruptAfterMs }) {
  // process.stdout and stderr are made on first use (pipes here): made before counting, not counted as the runs'.
  void process.stdout;
  void process.stderr;
  const before = activeResources();
  const reports = [];
  for (let i = 0; i < 2; i += 1) reports.push(await runChecks(ruleSets, checkSettings(settings)));
  const controller = new AbortController();
  const ctrlC = setTimeout(() => controller.abort(), interruptAfterMs);
  const interrupted = await runChecks(ruleSets, checkSettings(interruptSettings), { signal: controller.signal });
  clearTimeout(ctrlC);
  return { reports, interrupted: interrupted.interrupted, added: await addedOnceSettled(before) };
}

async function interrupt({ ruleSets, settings, interruptAfterMs }) {
  const controller = new AbortController();
  // Counts the AbortControllers made from here on (the caller's own, just made, is not counted).
  const Original = globalThis.AbortController;
  const { CountingAbortController, made } = countingAbortController();
  globalThis.AbortController = CountingAbortController;
  try {
    const started = performance.now();
    setTimeout(() => controller.abort(new Error('ctrl-c')), interruptAfterMs);
    const report = await runChecks(ruleSets, checkSettings(settings), { signal: controller.signal });
    return { report, elapsedMs: performance.now() - started, abortControllersMade: made() };
  } finally {
    globalThis.AbortController = Original;
  }
}

const cases = { probe, addresses, endsWithSignal, runs, interrupt };
const result = await cases[input.case](input);
process.stdout.write(`${JSON.stringify(result)}\n`);
