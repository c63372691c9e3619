/**
 * Starts the demo network off the probing event loop, in a worker thread (worker.ts). With servers and probes on
 * one loop, a busy machine made the probes' clocks run while the servers' answers waited their turn: the demo
 * failed on a healthy network one run in three. Where the worker's file is not there (a single executable),
 * the network runs in this thread, as before.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { packageUrl } from '../package-root.js';
import type { Target } from '../types.js';
import type { NetworkPlan } from './network.js';
import { startDemoNetwork } from './servers.js';

/** What the CLI needs of a running demo network: plain data, so that it crosses to and from a worker. */
export interface DemoStarted {
  plan: NetworkPlan;
  /** Every host on one address (no 127.77.x.x on this system). */
  shared: boolean;
  /** `host:port` of the demo's DNS server. */
  dnsServer: string;
  /** The demo CA's certificate. */
  caPem: string;
  /** Endpoints meant to be closed where something else listens. */
  occupied: string[];
}

export interface RunningDemo extends DemoStarted {
  /** Closes every listener and ends the worker. Safe to call twice. */
  close(): Promise<void>;
}

/** An error of the worker, as it crosses back: the fields the CLI reads to explain it. */
export interface WorkerError {
  message: string;
  stack?: string | undefined;
  code?: string | undefined;
  address?: string | undefined;
  port?: number | undefined;
}

/** The bundled worker (scripts/bundle.mjs builds it beside the CLI). */
export const WORKER_URL = packageUrl('dist/bundle/demo-worker.js');

export async function startDemoOffLoop(targets: Target[], options: { clean: boolean }): Promise<RunningDemo> {
  if (!existsSync(WORKER_URL)) return inThisThread(targets, options);
  const worker = new Worker(WORKER_URL, { workerData: { targets, clean: options.clean } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const reply = await new Promise<{ started?: DemoStarted; error?: WorkerError }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the demo network's worker ended (exit code ${code}) before it started`)));
  });
  if (reply.error) {
    await worker.terminate();
    throw Object.assign(new Error(reply.error.message), reply.error);
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => worker.on('message', (m) => m === 'closed' && resolve()));
      worker.postMessage('close');
      // A worker that does not close within a few seconds is ended: the demo never leaves a thread behind.
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await Promise.race([closed, exited]);
      clearTimeout(timer);
      await worker.terminate();
    })());
  return { ...reply.started!, close };
}

async function inThisThread(targets: Target[], options: { clean: boolean }): Promise<RunningDemo> {
  const { plan, servers, addresses } = await startDemoNetwork(targets, options);
  return { plan, shared: addresses.shared, dnsServer: servers.dns.address, caPem: servers.caPem, occupied: servers.occupied, close: () => servers.close() };
}
