/**
 * The connect phase, and the tcp probe built on it: can a TCP connection to the host and port be opened (directly,
 * or as a tunnel through --proxy)? tls.ts and http.ts build on connectPhase, so every kind connects the same way.
 */
import { Socket, connect as netConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ipVersion } from '../ip-version.js';
import { classifyError, detailOf, failure, PhaseError, withContext } from './classify.js';
import { bounded, isInterrupted, lookFirst, onAbort, ProbeRecord, runProbe, since, stoppedFailure, type Budget } from './phases.js';
import { openTunnel, proxyName } from './proxy.js';
import type { ProbeOutcome, Target } from '../types.js';
import type { ProbeContext, ProbeKind, Proxy, ResolveHost, AbortSignalLike, Resolution } from './types.js';

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    tcp: true;
  }
}

export interface ConnectOptions {
  /** Aborting stops the attempt and destroys the socket. */
  signal: AbortSignalLike;
  timeoutMs: number;
  /**
   * `signal` aborts (with a TimeoutError) once `timeoutMs` has passed: the probe's budget, whose deadline is the one
   * this connect has. The connect then arms no timer of its own: a timer set and cleared once a target cost the
   * 1,000-target bench run about 20 of its 320 ms of CPU (docs/contributing.md).
   */
  endsWithSignal?: boolean;
  /** When this connect's time began (a performance.now() the caller has just read): no clock to read again. */
  startedAt?: number;
}

/** What connectTcp gives; a pooled connect gives nothing (its socket closed as it connected and went back). */
export interface TcpConnection {
  socket: Socket;
}

/**
 * A connection as connectAddresses gives it: `address` connected (through a proxy: the name or address sent to it),
 * `connectMs` after the first SYN to any of the addresses, rounded to 0.1 (the one connect time a result records).
 */
export type HostConnection<C extends object = TcpConnection> = C & { address: string; connectMs: number };

/** Opens a connection to one address: connectTcp, connectAndClose, or a tunnel through a proxy. */
export type Dial<C extends object = TcpConnection> = (address: string, port: number, options: ConnectOptions) => Promise<C>;

const ignore = (): void => undefined;

/**
 * Arms the end of one connect attempt: `stop` is called when `options.timeoutMs` has passed and the loop has looked at
 * its input once more (lookFirst: a SYN-ACK that came while it stood still is read first), unless the signal ends it
 * then anyway, or when the signal aborts. Returns what disarms both.
 */
function armStop(options: ConnectOptions, stop: () => void): () => void {
  const disarm = options.endsWithSignal ? undefined : lookFirst(stop, options.timeoutMs, options.signal);
  const stopListening = onAbort(options.signal, stop);
  return () => {
    disarm?.();
    stopListening();
  };
}

/**
 * Opens a TCP connection to an IP address (no DNS here). Rejects with a PhaseError of phase `connect` on refusal,
 * timeout, abort or any socket error; the socket is destroyed on every path but success.
 * The socket returned keeps a no-op 'error' listener so that a late error never crashes the process. Its callers
 * (tls, http, hold, a proxy's tunnel) close it in order, with a FIN: a reset would end a protocol's conversation
 * or a proxy's session as a fault; only the tcp check's pooled connects close by a reset.
 */
export function connectTcp(address: string, port: number, options: ConnectOptions): Promise<TcpConnection> {
  const { signal } = options;
  const start = options.startedAt ?? performance.now();
  if (signal.aborted) return Promise.reject(stoppedFailure('connect', 0, signal, { address }));
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port, noDelay: true });
    socket.on('error', ignore);
    const settle = (err?: PhaseError): void => {
      disarm();
      socket.off('error', onError);
      socket.off('connect', onConnect);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve({ socket });
      }
    };
    const onError = (err: unknown): void =>
      settle(new PhaseError(classifyError(err, 'connect'), performance.now() - start, { address }));
    const onConnect = (): void => settle();
    const disarm = armStop(options, () => settle(stoppedFailure('connect', performance.now() - start, signal, { address })));
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}

/**
 * A socket of the pool, with the attempt it serves. It keeps its three listeners for life, serves one attempt at a
 * time, and goes back to the pool on 'close', when Node has let go of its handle: nothing of one target's connect
 * (an error, a late event, the peer's address) can reach the next's.
 */
class PooledSocket {
  readonly socket = new Socket();
  #start = 0;
  #address = '';
  #signal: AbortSignalLike | undefined;
  #disarm: (() => void) | undefined;
  #resolve: ((connection: object) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  /** The probe this connect is the one phase of (SocketPool.probe): recorded and ended here, resolved with its outcome. */
  #probe: ProbeRecord | undefined;

  constructor(release: (pooled: PooledSocket) => void) {
    const { socket } = this;
    socket.on('connect', () => {
      // Settled first, so that nothing of the close (an 'error' from it) can reach the attempt: it connected.
      this.#settle();
      // Closed here, before the server's first bytes or FIN set Node's stream machinery reading (a third of a
      // connect's CPU), and by a reset (SO_LINGER 0), as nmap -sT closes: no TIME_WAIT left on this machine
      // (`pushcheck serve` connects to the same ports run after run), and fewer wake-ups of the listening process
      // (1,000 loopback targets: 16% of the run's CPU samples with FIN, 3.7% with a reset; docs/contributing.md).
      // Node clears its reset flag as it closes, so the next connect on this socket starts without it.
      socket.resetAndDestroy();
    });
    // Also keeps a late error from crashing the process.
    socket.on('error', (err) => this.#settle(new PhaseError(classifyError(err, 'connect'), this.#waited(), { address: this.#address })));
    socket.on('close', () => release(this));
  }

  connect(
    address: string,
    port: number,
    options: ConnectOptions,
    resolve: (connection: object) => void,
    reject: (err: unknown) => void,
    probe?: ProbeRecord,
  ): void {
    this.#start = options.startedAt ?? performance.now();
    this.#address = address;
    this.#signal = options.signal;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#probe = probe;
    this.#disarm = armStop(options, this.#stop);
    try {
      this.socket.connect({ host: address, port });
    } catch (err) {
      // Node's own argument checks (a port out of range): pushcheck's bug, which the probe re-throws.
      this.#settle(err);
    }
  }

  #waited(): number {
    return performance.now() - this.#start;
  }

  readonly #stop = (): void => this.#settle(stoppedFailure('connect', this.#waited(), this.#signal, { address: this.#address }));

  #settle(err?: unknown): void {
    const resolve = this.#resolve;
    const reject = this.#reject;
    if (!resolve || !reject) return;
    const probe = this.#probe;
    this.#resolve = undefined;
    this.#reject = undefined;
    this.#signal = undefined;
    this.#probe = undefined;
    this.#disarm?.();
    this.#disarm = undefined;
    // Already destroyed after a socket error; after a timeout or an abort this ends the connect, and 'close' follows.
    if (err !== undefined) this.socket.destroy();
    if (!probe) {
      if (err === undefined) resolve({});
      else reject(err);
      return;
    }
    // As connectAddresses and runProbe would record a connect to one address, its time from the lookup's end.
    try {
      if (err === undefined) {
        recordConnect({ address: this.#address, connectMs: since(this.#start) }, probe.outcome);
        probe.passed();
      } else {
        probe.failed(err);
      }
    } catch (bug) {
      probe.end();
      reject(bug);
      return;
    }
    resolve(probe.end());
  }
}

/**
 * Closed sockets for connects that are closed as they open (the tcp check), re-used: building a Socket costs
 * more JavaScript than the connect it makes (1,000 loopback connects at -c 256, Node 20: 190 ms with a new socket
 * each, 130 ms on re-used ones), and Node's docs allow `socket.connect()` again once 'close' has been emitted. At most
 * `maxIdle` wait; more are left to the garbage collector. A closed socket holds no handle: the pool never keeps a
 * process alive.
 */
export class SocketPool {
  readonly #idle: PooledSocket[] = [];
  readonly #release = (pooled: PooledSocket): void => {
    if (this.#idle.length < this.maxIdle) this.#idle.push(pooled);
  };

  constructor(readonly maxIdle: number) {}

  /**
   * Opens a TCP connection to an IP address on a pooled socket and closes it in its connect event. Resolves, never
   * with the socket (it goes back to the pool); rejects as connectTcp does.
   */
  readonly connectAndClose: Dial<object> = (address, port, options) => {
    if (options.signal.aborted) return Promise.reject(stoppedFailure('connect', 0, options.signal, { address }));
    const pooled = this.#idle.pop() ?? new PooledSocket(this.#release);
    return new Promise((resolve, reject) => pooled.connect(address, port, options, resolve, reject));
  };

  /**
   * The tcp check's probe when it has one address to connect to (a --resolve pin, a name of one address in the family
   * probed): that connect on a pooled socket, closed as it opens, recorded in `probe` and ended there. Resolves with
   * the probe's outcome, as runProbe around connectAddresses would, without their promises and steps (once a target).
   */
  probe(address: string, port: number, options: ConnectOptions, probe: ProbeRecord): Promise<ProbeOutcome> {
    if (options.signal.aborted) {
      probe.failed(stoppedFailure('connect', 0, options.signal, { address }));
      return Promise.resolve(probe.end());
    }
    const pooled = this.#idle.pop() ?? new PooledSocket(this.#release);
    return new Promise((resolve, reject) => pooled.connect(address, port, options, resolve as (outcome: object) => void, reject, probe));
  }

  /** The closed sockets waiting for a connect (for tests). */
  idleSockets(): Socket[] {
    return this.#idle.map((pooled) => pooled.socket);
  }
}

/** The tcp check's sockets: as many as 256 probes in flight close at once. */
const checkPool = new SocketPool(256);

/**
 * Tries `addresses` in turn until one connects, within `timeoutMs` for them all. Each attempt gets an equal share
 * of the time still left, so one address that drops packets does not starve the others; the last gets all that is
 * left (and so `endsWithSignal` too, when it was given). On failure the error is the last attempt's, with
 * `recorded.address` the last address tried (if it is an IP) and `durationMs` the time spent on all. Their time runs
 * from `options.startedAt` when the caller has just read the clock. Given an `outcome`, the connection is recorded in
 * it (recordConnect) as it connects: no step of the caller's for it.
 */
export function connectAddresses<C extends object>(
  addresses: string[],
  port: number,
  options: ConnectOptions,
  dial: Dial<C>,
  outcome?: ProbeOutcome,
): Promise<HostConnection<C>> {
  if (addresses.length === 0) return Promise.reject(new Error('connectAddresses needs at least one address'));
  return connectFrom(0, addresses, port, options, dial, options.startedAt ?? performance.now(), outcome);
}

/**
 * connectAddresses from `addresses[i]` on, its time counted from `start`: promise handlers rather than an async
 * loop's promise, generator and steps, as it runs once a target (most often for one address: a --resolve pin, a name
 * with one address of the family probed).
 */
function connectFrom<C extends object>(
  i: number,
  addresses: string[],
  port: number,
  options: ConnectOptions,
  dial: Dial<C>,
  start: number,
  outcome: ProbeOutcome | undefined,
): Promise<HostConnection<C>> {
  const address = addresses[i] as string;
  const lastShare = i === addresses.length - 1;
  // The first address's share is read at `start`, and the dial starts then: no clock to read again.
  const startedAt = i === 0 ? start : performance.now();
  const left = options.timeoutMs - (startedAt - start);
  let dialing: Promise<C>;
  try {
    dialing = dial(address, port, {
      signal: options.signal,
      timeoutMs: left / (addresses.length - i),
      endsWithSignal: lastShare && options.endsWithSignal === true,
      startedAt,
    });
  } catch (err) {
    dialing = Promise.reject(err);
  }
  return dialing.then(
    (dialed) => {
      const connection = dialed as HostConnection<C>;
      connection.connectMs = since(start);
      connection.address = address;
      if (outcome) recordConnect(connection, outcome);
      return connection;
    },
    (err: unknown) => {
      if (!(err instanceof PhaseError)) throw err;
      if (!lastShare && !options.signal.aborted) return connectFrom(i + 1, addresses, port, options, dial, start, outcome);
      throw new PhaseError(
        i > 0 ? withContext(err.failure, `${i + 1} addresses tried`) : err.failure,
        performance.now() - start,
        ipVersion(address) !== 0 ? { address } : {},
      );
    },
  );
}

/**
 * A tunnel through `proxy` to `destination`:`port`: the proxy's name resolved like any other, a connection to it,
 * then its handshake (connectAddresses's connectMs covers all three). A proxy that cannot be reached is proxy_unreachable, whatever the
 * errno; what the proxy answers about the destination is openTunnel's to say.
 */
async function connectViaProxy(
  proxy: Proxy,
  resolve: ResolveHost,
  destination: string,
  port: number,
  options: ConnectOptions,
): Promise<TcpConnection> {
  // The try's time runs from when connectAddresses began it, as connectTcp's and a pooled socket's do.
  const start = options.startedAt ?? performance.now();
  const left = (): number => options.timeoutMs - (performance.now() - start);
  const unreachable = (detail: string): PhaseError =>
    new PhaseError(failure('proxy_unreachable', 'connect', `${proxyName(proxy)}: ${detail}`), performance.now() - start);
  let socket: Socket;
  try {
    const resolution = await bounded(resolve(proxy.host, options.signal), 'connect', options.timeoutMs, options.signal);
    if (resolution.failure) throw unreachable(`its name did not resolve (${detailOf(resolution.failure)})`);
    ({ socket } = await connectAddresses(resolution.addresses, proxy.port, { signal: options.signal, timeoutMs: left() }, connectTcp));
  } catch (err) {
    if (!(err instanceof PhaseError) || isInterrupted(options.signal) || err.failure.code === 'proxy_unreachable') throw err;
    throw unreachable(detailOf(err.failure));
  }
  await openTunnel(socket, proxy, destination, port, { signal: options.signal, timeoutMs: options.timeoutMs, startedAt: start });
  return { socket };
}

/**
 * The connect options of a phase that has what is left of the probe's budget, whose signal ends it at its deadline,
 * its time running from `now` (a performance.now(): runProbe's as the lookup ended, or read here), so that
 * connectAddresses reads no clock of its own.
 */
function phaseOptions(budget: Budget, now = performance.now()): ConnectOptions {
  return { signal: budget.stop, timeoutMs: budget.remaining(now), endsWithSignal: true, startedAt: now };
}

/** Records in the outcome where and how fast a connect phase connected. */
function recordConnect(connection: { address: string; connectMs: number }, outcome: ProbeOutcome): void {
  if (ipVersion(connection.address) !== 0) outcome.address = connection.address;
  outcome.timings.connectMs = connection.connectMs;
}

/**
 * The connect phase of every probe kind: connects within the budget and records the address and time. Through a
 * proxy, the pinned addresses are sent to it in turn, or else the target's name; `address` is then the target's
 * address as sent, never the proxy's, and absent when a name was sent.
 */
export async function connectPhase(
  addresses: string[],
  target: Target,
  ctx: ProbeContext,
  outcome: ProbeOutcome,
  budget: Budget,
): Promise<Socket> {
  const { proxy } = ctx;
  const connection = proxy
    ? await connectAddresses(
        addresses.length > 0 ? addresses : [target.host],
        target.port,
        phaseOptions(budget),
        (destination, port, attempt) => connectViaProxy(proxy, ctx.resolve, destination, port, attempt),
        outcome,
      )
    : await connectAddresses(addresses, target.port, phaseOptions(budget), connectTcp, outcome);
  return connection.socket;
}

/**
 * The tcp check of a target whose lookup the scheduler holds and gave one address, direct (the common case: a
 * --resolve pin, a name of one address in the family probed): its one connect ends the probe (SocketPool.probe).
 */
function probeOneAddress(target: Target, ctx: ProbeContext, resolved: Resolution): Promise<ProbeOutcome> {
  const probe = new ProbeRecord(ctx);
  const lookupEndedAt = performance.now();
  const addresses = probe.lookedUp(target, resolved, lookupEndedAt, ctx.startedAt);
  if (!addresses) return Promise.resolve(probe.end());
  return checkPool.probe(addresses[0] as string, target.port, phaseOptions(probe.budget, lookupEndedAt), probe);
}

export const tcpProbe = {
  checks: [{ name: 'tcp', plain: 'tcp', lastPhase: 'connect', speaks: { tls: false, http: false } }],
  run: (target, ctx) =>
    ctx.resolved !== undefined && ctx.resolved.addresses.length === 1 && ctx.proxy === undefined
      ? probeOneAddress(target, ctx, ctx.resolved)
      : // Not an async function: a step fewer once a target.
        runProbe(target, ctx, (addresses, outcome, budget, lookupEndedAt) =>
      // Direct, a pooled socket is closed as it connects (by a reset, see PooledSocket); a tunnel through a proxy is
      // closed here in order (FIN): a reset would reach the proxy, not the target, and end its session as a fault.
      ctx.proxy
        ? connectPhase(addresses, target, ctx, outcome, budget).then((socket) => void socket.destroy())
        : connectAddresses(addresses, target.port, phaseOptions(budget, lookupEndedAt), checkPool.connectAndClose, outcome),
    ),
} satisfies ProbeKind;
