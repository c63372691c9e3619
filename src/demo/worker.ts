/**
 * The demo network in a worker thread (started by off-loop.ts). Its servers answer on an event loop of their own,
 * so that a busy machine slows both sides alike instead of the probes timing out while the servers wait behind
 * them on one loop. Messages: the parent sends 'close'; the worker answers once with the network or the error
 * that stopped it, and with 'closed' when every listener is closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Target } from '../types.js';
import { startDemoNetwork, type DemoNetwork } from './servers.js';
import type { DemoStarted, WorkerError } from './off-loop.js';

const { targets, clean } = workerData as { targets: Target[]; clean: boolean };
const port = parentPort!;

let network: DemoNetwork | undefined;
try {
  network = await startDemoNetwork(targets, { clean });
  const { plan, servers, addresses } = network;
  const started: DemoStarted = { plan, shared: addresses.shared, dnsServer: servers.dns.address, caPem: servers.caPem, occupied: servers.occupied };
  port.postMessage({ started });
} catch (err) {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const error: WorkerError = { message: e.message, stack: e.stack, code: e.code, address: e.address, port: e.port };
  port.postMessage({ error });
}

port.on('message', (message) => {
  if (message !== 'close') return;
  void (network?.servers.close() ?? Promise.resolve()).then(() => {
    port.postMessage('closed');
    port.close();
  });
});
