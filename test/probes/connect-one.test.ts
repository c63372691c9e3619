/**
 * connectAddresses of one address takes connectOne (src/probes/tcp.ts), a path without connectEach's async loop: the
 * common case, once a target. Each outcome must read as the loop reads it: the connection, or the error's class,
 * failure, recorded address and duration, on IPv4 and IPv6, refused, timed out, interrupted, and a dial's own bug.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAddresses, connectEach, connectTcp, SocketPool, type ConnectOptions, type Dial } from '../../src/probes/tcp.js';
import { failure, PhaseError } from '../../src/probes/classify.js';
import { onAbort, QuickController, stoppedFailure, timedOut } from '../../src/probes/phases.js';
import { closedPort, ipv6Available, startTcpServer, type TestServer } from '../helpers/servers.js';

const haveIpv6 = await ipv6Available();

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
    // The ms a message gives are each connect's own (a timer's lateness): the words must agree.
    const words = (text: string): string => text.replace(/\d+ ms/g, 'N ms');
    return { failure: { ...err.failure, message: words(err.failure.message) }, recorded: err.recorded, message: words(err.message) };
  }
}

/** The same connect through connectAddresses (connectOne) and through connectEach: the same verdict. */
async function expectSameVerdict(address: string, port: number, dial: () => Dial<object>, options: () => ConnectOptions): Promise<Record<string, unknown>> {
  const one = await verdict(() => connectAddresses([address], port, options(), dial()));
  const loop = await verdict(() => connectEach([address], port, options(), dial()));
  expect(one).toEqual(loop);
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

  it('connects as the loop does, on a pooled socket and on a socket of its own, and with endsWithSignal', async () => {
    expect(await expectSameVerdict('127.0.0.1', server.port, () => pool.connectAndClose, free)).toEqual({ connected: '127.0.0.1', keys: ['address', 'connectMs'] });
    expect(await expectSameVerdict('127.0.0.1', server.port, () => connectTcp, free)).toMatchObject({ connected: '127.0.0.1' });
    const ending = (): ConnectOptions => ({ ...free(), endsWithSignal: true });
    expect(await expectSameVerdict('127.0.0.1', server.port, () => pool.connectAndClose, ending)).toMatchObject({ connected: '127.0.0.1' });
  });

  it('refuses as the loop does, on IPv4 and on IPv6', async (context) => {
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

  it('times out, and is interrupted, as the loop does: the dial stopped by the signal at its deadline or on Ctrl-C', async () => {
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
