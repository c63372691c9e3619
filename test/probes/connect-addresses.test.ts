/**
 * connectAddresses (src/probes/tcp.ts): one address, the common case, once a target, must read as its dial reads:
 * the connection with its address and connectMs, or the dial's failure unchanged with the address recorded (if an IP)
 * and the duration from the first SYN, on IPv4 and IPv6, refused, timed out, interrupted, and a dial's own bug as it
 * is. Several addresses: each its share of the time left, the last with the signal's end, none after an interruption.
 */
import { isIP } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAddresses, connectTcp, SocketPool, type ConnectOptions, type Dial } from '../../src/probes/tcp.js';
import { failure, PhaseError, withContext } from '../../src/probes/classify.js';
import { onAbort, QuickController, stoppedFailure, timedOut } from '../../src/probes/phases.js';
import type { ProbeOutcome } from '../../src/types.js';
import { closedPort, ipv6Available, startTcpServer, type TestServer } from '../helpers/servers.js';

const haveIpv6 = await ipv6Available();

/** The ms a message gives are each connect's own (a timer's lateness): the words must agree. */
const words = (text: string): string => text.replace(/\d+ ms/g, 'N ms');

/** What a connect gave, as a verdict: the connection's address, or the error as connectAddresses's caller sees it. */
async function verdict(connecting: () => Promise<object>): Promise<Record<string, unknown>> {
  const began = performance.now();
  try {
    const connection = (await connecting()) as { address: string; connectMs: number; socket?: { destroy(): void } };
    connection.socket?.destroy();
    expect(connection.connectMs).toBeGreaterThanOrEqual(0);
    expect(connection.connectMs).toBeLessThanOrEqual(performance.now() - began + 0.1);
    return { connected: connection.address, keys: Object.keys(connection).sort() };
  } catch (err) {
    if (!(err instanceof PhaseError)) return { threw: err };
    expect(err.durationMs).toBeGreaterThanOrEqual(0);
    expect(err.durationMs).toBeLessThanOrEqual(performance.now() - began);
    return { failure: { ...err.failure, message: words(err.failure.message) }, recorded: err.recorded, message: words(err.message) };
  }
}

/** The verdict connectAddresses of one address owes a dial's own outcome (the dial called directly). */
async function dialVerdict(address: string, port: number, dial: Dial<object>, options: ConnectOptions): Promise<Record<string, unknown>> {
  try {
    const connection = (await dial(address, port, options)) as { socket?: { destroy(): void } };
    connection.socket?.destroy();
    return { connected: address, keys: [...Object.keys(connection), 'address', 'connectMs'].sort() };
  } catch (err) {
    if (!(err instanceof PhaseError)) return { threw: err };
    return { failure: { ...err.failure, message: words(err.failure.message) }, recorded: isIP(address) ? { address } : {}, message: words(err.message) };
  }
}

/** The same connect through connectAddresses and through the dial alone: the verdict the dial's outcome owes. */
async function expectSameVerdict(address: string, port: number, dial: () => Dial<object>, options: () => ConnectOptions): Promise<Record<string, unknown>> {
  const one = await verdict(() => connectAddresses([address], port, options(), dial()));
  const alone = await dialVerdict(address, port, dial(), options());
  expect(one).toEqual(alone);
  return one;
}

const free = (): ConnectOptions => ({ signal: new QuickController(), timeoutMs: 2000 });

describe('connectAddresses of one address', () => {
  let server: TestServer;
  let server6: TestServer | undefined;
  let closed: number;
  const pool = new SocketPool(4);
  beforeAll(async () => {
    server = await startTcpServer({ onConnection: (socket) => socket.end() });
    if (haveIpv6) server6 = await startTcpServer({ host: '::1', onConnection: (socket) => socket.end() });
    closed = await closedPort();
  });
  afterAll(async () => {
    await Promise.all([server.close(), server6?.close()]);
  });

  it('connects as its dial does, on a pooled socket and on a socket of its own, and with endsWithSignal', async () => {
    expect(await expectSameVerdict('127.0.0.1', server.port, () => pool.connectAndClose, free)).toEqual({ connected: '127.0.0.1', keys: ['address', 'connectMs'] });
    expect(await expectSameVerdict('127.0.0.1', server.port, () => connectTcp, free)).toMatchObject({ connected: '127.0.0.1' });
    const ending = (): ConnectOptions => ({ ...free(), endsWithSignal: true });
    expect(await expectSameVerdict('127.0.0.1', server.port, () => pool.connectAndClose, ending)).toMatchObject({ connected: '127.0.0.1' });
  });

  it('refuses as its dial does, on IPv4 and on IPv6', async (context) => {
    expect(await expectSameVerdict('127.0.0.1', closed, () => pool.connectAndClose, free)).toMatchObject({
      failure: { code: 'tcp_refused', phase: 'connect' },
      recorded: { address: '127.0.0.1' },
    });
    if (!haveIpv6 || !server6) {
      context.skip('no IPv6 loopback on this machine');
      return;
    }
    expect(await expectSameVerdict('::1', server6.port, () => pool.connectAndClose, free)).toMatchObject({ connected: '::1' });
    const closed6 = server6.port;
    await server6.close();
    server6 = undefined;
    expect(await expectSameVerdict('::1', closed6, () => pool.connectAndClose, free)).toMatchObject({ failure: { code: 'tcp_refused' }, recorded: { address: '::1' } });
  });

  it('times out, and is interrupted, as its dial does: the dial stopped by the signal at its deadline or on Ctrl-C', async () => {
    // A dial that never connects (a dropped SYN) and gives up when its signal aborts, as the pool's sockets do.
    const silentDial = (): Dial<object> => (address, _port, options) =>
      new Promise((_resolve, reject) => {
        const began = performance.now();
        onAbort(options.signal, () => reject(stoppedFailure('connect', performance.now() - began, options.signal, { address })));
      });
    const abortingIn = (ms: number, reason: () => unknown) => (): ConnectOptions => {
      const signal = new QuickController();
      setTimeout(() => signal.abort(reason()), ms);
      return { signal, timeoutMs: ms, endsWithSignal: true };
    };
    expect(await expectSameVerdict('127.0.0.1', 9, silentDial, abortingIn(30, () => timedOut(30)))).toMatchObject({
      failure: { code: 'tcp_timeout', phase: 'connect' },
      recorded: { address: '127.0.0.1' },
    });
    expect(await expectSameVerdict('127.0.0.1', 9, silentDial, abortingIn(30, () => new Error('ctrl-c')))).toMatchObject({
      failure: { code: 'tcp_error', message: 'the TCP connection failed (interrupted after N ms)' },
    });
    const stopped = (): ConnectOptions => {
      const signal = new QuickController();
      signal.abort(new Error('ctrl-c'));
      return { signal, timeoutMs: 2000 };
    };
    expect(await expectSameVerdict('127.0.0.1', server.port, () => pool.connectAndClose, stopped)).toMatchObject({ failure: { code: 'tcp_error' } });
  });

  it("hands on a dial's own bug as it is, thrown or rejected, and wraps a PhaseError thrown at once; a name is no recorded address", async () => {
    const bug = new TypeError('a bug');
    expect(await expectSameVerdict('127.0.0.1', 1, () => () => { throw bug; }, free)).toEqual({ threw: bug });
    expect(await expectSameVerdict('127.0.0.1', 1, () => () => Promise.reject(bug), free)).toEqual({ threw: bug });
    const refusedAtOnce = (): Dial<object> => () => {
      throw new PhaseError(failure('tcp_refused', 'connect', 'refused'), 1, { address: 'x' });
    };
    expect(await expectSameVerdict('127.0.0.1', 1, refusedAtOnce, free)).toMatchObject({ failure: { code: 'tcp_refused' }, recorded: { address: '127.0.0.1' } });
    expect(await expectSameVerdict('proxy.test', 1, refusedAtOnce, free)).toMatchObject({ recorded: {} });
  });
});

describe('connectAddresses of several addresses', () => {
  /** A dial that never connects and gives up at its own timeout or when its signal aborts, telling what it was given. */
  const silentDial = (given: Array<{ address: string; timeoutMs: number; endsWithSignal: boolean | undefined }>): Dial<object> => (address, _port, options) =>
    new Promise((_resolve, reject) => {
      given.push({ address, timeoutMs: options.timeoutMs, endsWithSignal: options.endsWithSignal });
      const began = performance.now();
      const stop = (): void => {
        clearTimeout(timer);
        stopListening();
        reject(stoppedFailure('connect', performance.now() - began, options.signal, { address }));
      };
      const timer = setTimeout(stop, Math.max(0, options.timeoutMs));
      const stopListening = onAbort(options.signal, stop);
    });

  it('gives each address an equal share of the time left, the last one the signal that ends it, and says how many it tried', async () => {
    const given: Array<{ address: string; timeoutMs: number; endsWithSignal: boolean | undefined }> = [];
    const began = performance.now();
    const result = await verdict(() => connectAddresses(['127.0.0.1', '127.0.0.2'], 9, { signal: new QuickController(), timeoutMs: 200, endsWithSignal: true }, silentDial(given)));
    expect(given.map(({ address, endsWithSignal }) => ({ address, endsWithSignal }))).toEqual([
      { address: '127.0.0.1', endsWithSignal: false },
      { address: '127.0.0.2', endsWithSignal: true },
    ]);
    expect(given[0]!.timeoutMs).toBe(100);
    // What is left after the first share: its half, less as the first share's timer was late (a timer counts whole
    // ms of the loop's clock, so it may end up to 1 ms early by performance.now()).
    expect(given[1]!.timeoutMs).toBeLessThanOrEqual(101);
    expect(given[1]!.timeoutMs).toBeGreaterThan(200 - (performance.now() - began) - 1);
    const timedOutTwice = withContext(stoppedFailure('connect', 0).failure, '2 addresses tried');
    expect(timedOutTwice.code).toBe('tcp_timeout');
    expect(result).toEqual({ failure: { ...timedOutTwice, message: words(timedOutTwice.message) }, recorded: { address: '127.0.0.2' }, message: words(timedOutTwice.message) });
  });

  it('tries no address after an interruption: the failure is the one address tried, not counted', async () => {
    const given: Array<{ address: string; timeoutMs: number; endsWithSignal: boolean | undefined }> = [];
    const signal = new QuickController();
    setTimeout(() => signal.abort(new Error('ctrl-c')), 30);
    const result = await verdict(() => connectAddresses(['127.0.0.1', '127.0.0.2'], 9, { signal, timeoutMs: 2000 }, silentDial(given)));
    expect(given.map(({ address }) => address)).toEqual(['127.0.0.1']);
    expect(result).toMatchObject({ failure: { code: 'tcp_error', message: 'the TCP connection failed (interrupted after N ms)' }, recorded: { address: '127.0.0.1' } });
  });

  it("records the connection in the caller's outcome as it connects, and nothing when every address failed", async () => {
    const server = await startTcpServer({ onConnection: (socket) => socket.end() });
    try {
      const closed = await closedPort();
      const outcome = (): ProbeOutcome => ({ ok: false, addresses: [], pinned: false, timings: { totalMs: 0 } });
      const passed = outcome();
      const connection = await connectAddresses(['127.0.0.2', '127.0.0.1'], server.port, free(), (address, port, options) =>
        connectTcp(address, address === '127.0.0.2' ? closed : port, options), passed);
      connection.socket.destroy();
      expect(passed).toEqual({ ok: false, addresses: [], pinned: false, address: '127.0.0.1', timings: { totalMs: 0, connectMs: connection.connectMs } });
      const failed = outcome();
      await expect(connectAddresses(['127.0.0.1'], closed, free(), connectTcp, failed)).rejects.toBeInstanceOf(PhaseError);
      expect(failed).toEqual(outcome());
    } finally {
      await server.close();
    }
  });

  it("times the connects from the caller's clock when it is given (startedAt): the first dial starts then, a later one when it began", async () => {
    const given: Array<number | undefined> = [];
    const refused: Dial<object> = (address, _port, options) => {
      given.push(options.startedAt);
      return Promise.reject(new PhaseError(failure('tcp_refused', 'connect', 'refused'), 0, { address }));
    };
    const startedAt = performance.now() - 50;
    const err = await connectAddresses(['127.0.0.1', '127.0.0.2'], 9, { ...free(), startedAt }, refused).catch((error: unknown) => error);
    expect(given[0]).toBe(startedAt);
    expect(given[1]).toBeGreaterThan(startedAt + 50);
    // The time spent on all runs from the caller's clock.
    expect((err as PhaseError).durationMs).toBeGreaterThanOrEqual(50);
  });

  it('connects on the first address that does, and asks for at least one', async () => {
    const server = await startTcpServer({ onConnection: (socket) => socket.end() });
    try {
      const closed = await closedPort();
      const refusedThenOpen = (address: string, port: number, options: ConnectOptions) => connectTcp(address, address === '127.0.0.2' ? closed : port, options);
      expect(await verdict(() => connectAddresses(['127.0.0.2', '127.0.0.1'], server.port, { signal: new QuickController(), timeoutMs: 2000 }, refusedThenOpen))).toEqual({
        connected: '127.0.0.1',
        keys: ['address', 'connectMs', 'socket'],
      });
    } finally {
      await server.close();
    }
    await expect(connectAddresses([], 9, { signal: new QuickController(), timeoutMs: 2000 }, connectTcp)).rejects.toThrow('connectAddresses needs at least one address');
  });
});
