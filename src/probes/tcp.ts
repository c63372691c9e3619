/**
 * The connect phase, and the tcp probe built on it: can a TCP connection to the host and port be opened (directly,
 * or as a tunnel through --proxy)? tls.ts and http.ts build on connectPhase, so every kind connects the same way.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ipVersion } from '../ip-version.js';
import { classifyError, detailOf, failure, PhaseError, withContext } from './classify.js';
import { bounded, isInterrupted, onAbort, runProbe, since, stoppedFailure, type Budget } from './phases.js';
import { openTunnel, proxyName } from './proxy.js';
import type { ProbeOutcome, Target } from '../types.js';
import type { ProbeContext, ProbeKind, Proxy, ResolveHost } from './types.js';

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    tcp: true;
  }
}

export interface ConnectOptions {
  /** Aborting stops the attempt and destroys the socket. */
  signal: AbortSignal;
  timeoutMs: number;
  /**
   * The caller needs only to know that the connection opened (the tcp check): it is closed in its connect event,
   * before the server's first bytes or FIN set Node's stream machinery reading (a third of a loopback connect's CPU).
   */
  closeOnConnect?: boolean;
}

export interface TcpConnection {
  socket: net.Socket;
  /** ms from the first SYN to the connection being open, rounded to 0.1. */
  connectMs: number;
}

export interface HostConnection extends TcpConnection {
  /** The address that connected (through a proxy: the name or address sent to it). */
  address: string;
}

/** Opens a connection to one address; connectTcp, or a tunnel through a proxy. */
export type Dial = (address: string, port: number, options: ConnectOptions) => Promise<TcpConnection>;

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
      stopListening();
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
    const onConnect = (): void => {
      if (options.closeOnConnect) socket.destroy();
      settle();
    };
    const onStop = (): void => settle(stoppedFailure('connect', performance.now() - start, signal, { address }));
    const timer = setTimeout(onStop, Math.max(0, timeoutMs));
    const stopListening = onAbort(signal, onStop);
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

/**
 * Tries `addresses` in turn until one connects, within `timeoutMs` for them all. Each attempt gets an equal share
 * of the time still left, so one address that drops packets does not starve the others. On failure the error
 * is the last attempt's, with `recorded.address` the last address tried (if it is an IP) and `durationMs` the
 * time spent on all.
 */
export async function connectAddresses(
  addresses: string[],
  port: number,
  options: ConnectOptions,
  dial: Dial = connectTcp,
): Promise<HostConnection> {
  const start = performance.now();
  let last: PhaseError | undefined;
  let tried = 0;
  for (let i = 0; i < addresses.length; i += 1) {
    const address = addresses[i] as string;
    const left = options.timeoutMs - (performance.now() - start);
    tried = i + 1;
    try {
      const { socket } = await dial(address, port, {
        signal: options.signal,
        timeoutMs: left / (addresses.length - i),
        ...(options.closeOnConnect && { closeOnConnect: true }),
      });
      return { socket, connectMs: since(start), address };
    } catch (err) {
      if (!(err instanceof PhaseError)) throw err;
      last = err;
      if (options.signal.aborted) break;
    }
  }
  if (!last) throw new Error('connectAddresses needs at least one address');
  const lastAddress = addresses[tried - 1] ?? '';
  throw new PhaseError(
    tried > 1 ? withContext(last.failure, `${tried} addresses tried`) : last.failure,
    performance.now() - start,
    ipVersion(lastAddress) !== 0 ? { address: lastAddress } : {},
  );
}

/**
 * A tunnel through `proxy` to `destination`:`port`: the proxy's name resolved like any other, a connection to it,
 * then its handshake. connectMs covers all three. A proxy that cannot be reached is proxy_unreachable, whatever the
 * errno; what the proxy answers about the destination is openTunnel's to say.
 */
async function connectViaProxy(
  proxy: Proxy,
  resolve: ResolveHost,
  destination: string,
  port: number,
  options: ConnectOptions,
): Promise<TcpConnection> {
  const start = performance.now();
  const left = (): number => options.timeoutMs - (performance.now() - start);
  const unreachable = (detail: string): PhaseError =>
    new PhaseError(failure('proxy_unreachable', 'connect', `${proxyName(proxy)}: ${detail}`), performance.now() - start);
  let socket: net.Socket;
  try {
    const resolution = await bounded(resolve(proxy.host, options.signal), 'connect', options.timeoutMs, options.signal);
    if (resolution.failure) throw unreachable(`its name did not resolve (${detailOf(resolution.failure)})`);
    ({ socket } = await connectAddresses(resolution.addresses, proxy.port, { signal: options.signal, timeoutMs: left() }));
  } catch (err) {
    if (!(err instanceof PhaseError) || isInterrupted(options.signal) || err.failure.code === 'proxy_unreachable') throw err;
    throw unreachable(detailOf(err.failure));
  }
  await openTunnel(socket, proxy, destination, port, { signal: options.signal, timeoutMs: left() });
  return { socket, connectMs: since(start) };
}

/**
 * The connect phase of every probe kind: connects within the budget and records the address and time. Through a
 * proxy, the pinned addresses are sent to it in turn, or else the target's name; `address` is then the target's
 * address as sent, never the proxy's, and absent when a name was sent. `closeOnConnect`: see ConnectOptions (a direct
 * connection only; a tunnel is the caller's to close).
 */
export async function connectPhase(
  addresses: string[],
  target: Target,
  ctx: ProbeContext,
  outcome: ProbeOutcome,
  budget: Budget,
  closeOnConnect = false,
): Promise<net.Socket> {
  const { proxy } = ctx;
  const options = { signal: budget.signal, timeoutMs: budget.remaining() };
  const { socket, connectMs, address } = proxy
    ? await connectAddresses(addresses.length > 0 ? addresses : [target.host], target.port, options, (destination, port, attempt) =>
        connectViaProxy(proxy, ctx.resolve, destination, port, attempt),
      )
    : await connectAddresses(addresses, target.port, closeOnConnect ? { ...options, closeOnConnect } : options);
  if (ipVersion(address) !== 0) outcome.address = address;
  outcome.timings.connectMs = connectMs;
  return socket;
}

export const tcpProbe = {
  checks: [{ name: 'tcp', plain: 'tcp', lastPhase: 'connect', speaks: { tls: false, http: false } }],
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome, budget) => {
      // Direct, the socket is closed as it connects; a tunnel through a proxy is closed here.
      (await connectPhase(addresses, target, ctx, outcome, budget, true)).destroy();
    }),
} satisfies ProbeKind;
