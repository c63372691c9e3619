// Runs a list of connects twice, once on a SocketPool of one socket (the tcp check's way: every step re-uses the
// socket of the step before) and once on new sockets (connectTcp, then destroy: the way before the pool), and prints
// both verdicts per step as one JSON line, with whether the step took the pooled socket, and what the pooled socket
// looked like once it was back in the pool.
//   node test/helpers/pool-steps.mjs '<steps as JSON>'
// A step: { addresses, port, timeoutMs, abortAfterMs?, abortPreviousAfterMs?, signalTimesOutAfterMs? }
//   abortAfterMs           aborts the step's own signal then, as Ctrl-C does (an Error reason)
//   abortPreviousAfterMs   aborts the previous step's signal then (a pool that kept a listener on it would stop)
//   signalTimesOutAfterMs  the step's signal aborts with a TimeoutError then, and the connect is told so
//                          (endsWithSignal: the probe's budget)
// Imports the built dist/ (run `npm run build` first), so that it runs with plain Node, also in a namespace.
import { connectAddresses, connectTcp, SocketPool } from '../../dist/probes/tcp.js';
import { PhaseError } from '../../dist/probes/classify.js';

const steps = JSON.parse(process.argv[2] ?? '[]');
const LISTENED = ['connect', 'error', 'close', 'end', 'ready', 'timeout', 'data', 'lookup'];

const fresh = async (address, port, options) => {
  const { socket } = await connectTcp(address, port, options);
  socket.destroy();
  return {};
};

async function verdict(step, dial, previous, pool) {
  const controller = new AbortController();
  const timers = [];
  if (step.abortAfterMs !== undefined) timers.push(setTimeout(() => controller.abort(new Error('ctrl-c')), step.abortAfterMs));
  if (step.abortPreviousAfterMs !== undefined && previous) timers.push(setTimeout(() => previous.abort(new Error('ctrl-c')), step.abortPreviousAfterMs));
  if (step.signalTimesOutAfterMs !== undefined) {
    timers.push(setTimeout(() => controller.abort(new DOMException('timed out', 'TimeoutError')), step.signalTimesOutAfterMs));
  }
  const options = { signal: controller.signal, timeoutMs: step.timeoutMs, ...(step.signalTimesOutAfterMs !== undefined && { endsWithSignal: true }) };
  const start = performance.now();
  const idle = pool?.idleSockets()[0];
  const connecting = connectAddresses(step.addresses, step.port, options, dial);
  // The first connect is made before connectAddresses first waits: it took the idle socket, or made a new one.
  const took = idle !== undefined && !pool.idleSockets().includes(idle);
  let result;
  try {
    const { address } = await connecting;
    result = { ok: true, address };
  } catch (err) {
    if (!(err instanceof PhaseError)) throw err;
    // The waited time in a message is a measurement: compared apart, as elapsedMs.
    const message = err.failure.message.replace(/after \d+ ms/, 'after N ms');
    result = { ok: false, code: err.failure.code, phase: err.failure.phase, message, address: err.recorded.address };
  }
  for (const timer of timers) clearTimeout(timer);
  return { result, elapsedMs: performance.now() - start, controller, took };
}

/** Waits (bounded) for the pool's one socket to come back from its 'close'. */
async function returned(pool) {
  for (let i = 0; i < 400 && pool.idleSockets().length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
  return pool.idleSockets()[0];
}

const pool = new SocketPool(1);
let previousPooled;
let previousFresh;
for (const step of steps) {
  const pooled = await verdict(step, pool.connectAndClose, previousPooled, pool);
  const socket = await returned(pool);
  const unpooled = await verdict(step, fresh, previousFresh);
  previousPooled = pooled.controller;
  previousFresh = unpooled.controller;
  const listeners = Object.fromEntries(LISTENED.map((event) => [event, socket?.listenerCount(event) ?? -1]));
  console.log(
    JSON.stringify({
      pooled: pooled.result,
      fresh: unpooled.result,
      pooledMs: Math.round(pooled.elapsedMs),
      freshMs: Math.round(unpooled.elapsedMs),
      took: pooled.took,
      returned: socket !== undefined,
      listeners,
      idle: { destroyed: socket?.destroyed, connecting: socket?.connecting, remoteAddress: socket?.remoteAddress ?? null },
    }),
  );
}
