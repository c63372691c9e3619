/**
 * The connect phase, and the tcp probe built on it: can a TCP connection to the host and port be opened?
 * tls.ts and http.ts build on connectAddresses, so every kind connects the same way.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { classifyError, PhaseError, withContext } from './classify.js';
import { runProbe, since, stoppedFailure, type Budget } from './phases.js';
import type { ProbeOutcome } from '../types.js';
import type { ProbeKind } from './types.js';

export interface ConnectOptions {
  /** Aborting stops the attempt and destroys the socket. */
  signal: AbortSignal;
  timeoutMs: number;
}

export interface TcpConnection {
  socket: net.Socket;
  /** ms from the first SYN to the connection being open, rounded to 0.1. */
  connectMs: number;
}

export interface HostConnection extends TcpConnection {
  /** The address that connected. */
  address: string;
}

const ignore = (): void => undefined;

/**
 * Opens a TCP connection to an IP address (no DNS here). Rejects with a PhaseError of phase `connect` on refusal,
 * timeout, abort or any socket error; the socket is destroyed on every path but success.
 * The socket returned keeps a no-op 'error' listener so that a late error never crashes the process.
 */
export function connectTcp(address: string, port: number, options: ConnectOptions): Promise<TcpConnection> {
  const { signal, timeoutMs } = options;
  const start = performance.now();
  if (signal.aborted) return Promise.reject(stoppedFailure('connect', 0, signal, { address }));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address, port, noDelay: true });
    socket.on('error', ignore);
    const settle = (err?: PhaseError): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onStop);
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve({ socket, connectMs: since(start) });
      }
    };
    const onError = (err: unknown): void =>
      settle(new PhaseError(classifyError(err, 'connect'), performance.now() - start, { address }));
    const onConnect = (): void => settle();
    const onStop = (): void => settle(stoppedFailure('connect', performance.now() - start, signal, { address }));
    const timer = setTimeout(onStop, Math.max(0, timeoutMs));
    signal.addEventListener('abort', onStop, { once: true });
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

/**
 * Tries `addresses` in turn until one connects, within `timeoutMs` for them all. Each attempt gets an equal share
 * of the time still left, so one address that drops packets does not starve the others. On failure the error
 * is the last attempt's, with `recorded.address` the last address tried and `durationMs` the time spent on all.
 */
export async function connectAddresses(
  addresses: string[],
  port: number,
  options: ConnectOptions,
): Promise<HostConnection> {
  const start = performance.now();
  let last: PhaseError | undefined;
  let tried = 0;
  for (const [i, address] of addresses.entries()) {
    const left = options.timeoutMs - (performance.now() - start);
    tried = i + 1;
    try {
      const { socket } = await connectTcp(address, port, {
        signal: options.signal,
        timeoutMs: left / (addresses.length - i),
      });
      return { socket, connectMs: since(start), address };
    } catch (err) {
      if (!(err instanceof PhaseError)) throw err;
      last = err;
      if (options.signal.aborted) break;
    }
  }
  if (!last) throw new Error('connectAddresses needs at least one address');
  const failure = tried > 1 ? withContext(last.failure, `${tried} addresses tried`) : last.failure;
  throw new PhaseError(failure, performance.now() - start, { address: addresses[tried - 1] });
}

/** The connect phase of every probe kind: connects within the budget and records the address and time. */
export async function connectPhase(
  addresses: string[],
  port: number,
  outcome: ProbeOutcome,
  budget: Budget,
): Promise<net.Socket> {
  const { socket, connectMs, address } = await connectAddresses(addresses, port, {
    signal: budget.signal,
    timeoutMs: budget.remaining(),
  });
  outcome.address = address;
  outcome.timings.connectMs = connectMs;
  return socket;
}

export const tcpProbe: ProbeKind = {
  checks: ['tcp'],
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome, budget) => {
      (await connectPhase(addresses, target.port, outcome, budget)).destroy();
    }),
};
