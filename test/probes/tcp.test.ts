import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectAddresses, connectTcp, SocketPool, tcpProbe } from '../../src/probes/tcp.js';
import { failure, PhaseError } from '../../src/probes/classify.js';
import { QuickController, timedOut } from '../../src/probes/phases.js';
import { probeFor } from '../../src/probes/index.js';
import { runChecks } from '../../src/run/run.js';
import { checkSettings, rule, ruleSet } from '../helpers/literals.js';
import { expectTimings } from '../helpers/outcome.js';
import { expectPoolParity, type PoolStep } from '../helpers/pool-steps.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import {
  closedPort,
  ipv6Available,
  startBacklogFullServer,
  startTcpServer,
  type TestServer,
} from '../helpers/servers.js';
import { activeResources, addedOnceSettled } from '../helpers/active-resources.js';

const never = new AbortController().signal;

describe('tcp probe', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(() => server.close());

  it('is the registry entry for check tcp', () => {
    expect(probeFor('tcp')).toBe(tcpProbe);
  });

  it('passes against a listener, reporting the address used and the phase timings', async () => {
    const ctx = probeContext({ pins: [{ host: 'push.test', address: '127.0.0.1' }] });
    const before = server.accepted;
    const outcome = await tcpProbe.run(testTarget('push.test', server.port, 'tcp'), ctx);
    expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', addresses: ['127.0.0.1'], pinned: true });
    expect(outcome.failure).toBeUndefined();
    expectTimings(outcome, ['dnsMs', 'connectMs']);
    expect(Object.keys(outcome.timings)).toEqual(['dnsMs', 'connectMs', 'totalMs']);
    expect(server.accepted).toBe(before + 1);
    await server.idle();
  });

  it('fails with tcp_refused on a closed port', async () => {
    const port = await closedPort();
    const outcome = await tcpProbe.run(testTarget('127.0.0.1', port, 'tcp'), probeContext());
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'tcp_refused', phase: 'connect' });
    expect(outcome.failure?.message).toContain('ECONNREFUSED');
    expect(outcome.address).toBe('127.0.0.1');
    expect(outcome.pinned).toBe(false);
    expectTimings(outcome, ['dnsMs', 'connectMs']);
  });

  it('tries the next address when one fails, and reports the one that connected', async () => {
    // 127.0.0.2 is loopback too, but the server listens on 127.0.0.1 only: refused there.
    const ctx = probeContext({
      pins: [
        { host: 'push.test', address: '127.0.0.2' },
        { host: 'push.test', address: '127.0.0.1' },
      ],
    });
    const outcome = await tcpProbe.run(testTarget('push.test', server.port, 'tcp'), ctx);
    expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', addresses: ['127.0.0.2', '127.0.0.1'] });
  });

  it('reports the last address tried, and how many, when all fail', async () => {
    const port = await closedPort();
    const ctx = probeContext({
      pins: [
        { host: 'push.test', address: '127.0.0.1' },
        { host: 'push.test', address: '127.0.0.2' },
      ],
    });
    const outcome = await tcpProbe.run(testTarget('push.test', port, 'tcp'), ctx);
    expect(outcome.failure).toMatchObject({ code: 'tcp_refused' });
    expect(outcome.failure?.message).toContain('2 addresses tried');
    expect(outcome.address).toBe('127.0.0.2');
  });

  it('connects over IPv6 loopback', async (context) => {
    if (!(await ipv6Available())) {
      context.skip('no IPv6 loopback on this machine');
      return;
    }
    const v6 = await startTcpServer({ host: '::1' });
    try {
      const outcome = await tcpProbe.run(testTarget('::1', v6.port, 'tcp'), probeContext());
      expect(outcome).toMatchObject({ ok: true, address: '::1' });
    } finally {
      await v6.close();
    }
  });

  it('fails with tcp_timeout, bounded by timeoutMs, when SYNs are dropped (full accept queue)', async (context) => {
    const blackhole = await startBacklogFullServer();
    if (!blackhole) {
      context.skip('this kernel does not drop SYNs on a full accept queue; the namespace fault matrix covers tcp_timeout');
      return;
    }
    try {
      const start = Date.now();
      const outcome = await tcpProbe.run(testTarget('127.0.0.1', blackhole.port, 'tcp'), probeContext({ timeoutMs: 400 }));
      const elapsed = Date.now() - start;
      expect(outcome.failure).toMatchObject({ code: 'tcp_timeout', phase: 'connect' });
      expect(outcome.failure?.message).toMatch(/timed out after \d+ ms/);
      expect(outcome.address).toBe('127.0.0.1');
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(1000);
      expect(outcome.timings.connectMs).toBeGreaterThanOrEqual(390);
    } finally {
      await blackhole.close();
    }
  });

  // The scheduler's attempt signal (a QuickController itself, run.ts) is lent to the budget with its deadline, and the
  // connect listens on it through onAbort, without an AbortSignal ever being made for it.
  it.for(['an AbortController', 'the scheduler’s QuickController, lent with its deadline'])('stops promptly when the signal aborts, reporting an interruption (%s)', async (kind, context) => {
    const blackhole = await startBacklogFullServer();
    if (!blackhole) {
      context.skip('this kernel does not drop SYNs on a full accept queue');
      return;
    }
    try {
      const quick = kind.includes('quick');
      const controller = quick ? new QuickController() : new AbortController();
      setTimeout(() => controller.abort(new Error('ctrl-c')), 100);
      const start = Date.now();
      const startedAt = performance.now();
      const signal = controller instanceof AbortController ? controller.signal : controller;
      const ctx = probeContext({ timeoutMs: 10_000, signal, ...(quick && { startedAt, deadline: startedAt + 10_000 }) });
      const outcome = await tcpProbe.run(testTarget('127.0.0.1', blackhole.port, 'tcp'), ctx);
      expect(Date.now() - start).toBeLessThan(600);
      expect(outcome.ok).toBe(false);
      expect(outcome.failure).toMatchObject({ code: 'tcp_error', phase: 'connect' });
      expect(outcome.failure?.message).toContain('interrupted');
    } finally {
      await blackhole.close();
    }
  });

  it('reports a DNS failure without connecting', async () => {
    const notFound = failure('dns_not_found', 'dns');
    const ctx = { ...probeContext(), resolve: async () => ({ addresses: [], pinned: false, durationMs: 1.2, failure: notFound }) };
    const outcome = await tcpProbe.run(testTarget('push.test', server.port, 'tcp'), ctx);
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'dns_not_found' }, timings: { dnsMs: 1.2 } });
    expect(outcome.address).toBeUndefined();
    expect(outcome.timings.connectMs).toBeUndefined();
  });
});

describe('connectTcp', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(() => server.close());

  it('resolves with an open socket, and connectAddresses with it, the address and connectMs', async () => {
    const connected = await connectTcp('127.0.0.1', server.port, { signal: never, timeoutMs: 1000 });
    expect(Object.keys(connected)).toEqual(['socket']);
    connected.socket.destroy();
    const start = performance.now();
    const { socket, address, connectMs } = await connectAddresses(['127.0.0.1'], server.port, { signal: never, timeoutMs: 1000 }, connectTcp);
    const elapsedMs = performance.now() - start;
    expect(socket.remotePort).toBe(server.port);
    expect(address).toBe('127.0.0.1');
    // A measured duration, rounded to 0.1 ms: not a constant, not more than the call took.
    expect(Number.isFinite(connectMs) && connectMs >= 0).toBe(true);
    expect(connectMs).toBeLessThanOrEqual(Math.ceil(elapsedMs * 10) / 10);
    expect(Math.round(connectMs * 10) / 10).toBe(connectMs);
    socket.destroy();
    await server.idle();
  });

  it('rejects with a classified PhaseError, never a raw error', async () => {
    const port = await closedPort();
    const err = await connectTcp('127.0.0.1', port, { signal: never, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PhaseError);
    expect((err as PhaseError).failure.code).toBe('tcp_refused');
    expect((err as PhaseError).recorded.address).toBe('127.0.0.1');
  });

  it('rejects at once on an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await connectTcp('127.0.0.1', server.port, { signal: controller.signal, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect((err as PhaseError).failure.code).toBe('tcp_error');
  });

  it('shares the time among addresses: a dropping address does not starve the next one', async (context) => {
    const blackhole = await startBacklogFullServer();
    if (!blackhole) {
      context.skip('this kernel does not drop SYNs on a full accept queue');
      return;
    }
    // Both addresses on the blackhole's port: 127.0.0.1 drops, 127.0.0.2 refuses at once.
    try {
      const start = Date.now();
      const err = await connectAddresses(['127.0.0.1', '127.0.0.2'], blackhole.port, { signal: never, timeoutMs: 600 }, connectTcp).catch(
        (e: unknown) => e as PhaseError,
      );
      const elapsed = Date.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(280);
      expect(elapsed).toBeLessThan(500);
      expect((err as PhaseError).recorded.address).toBe('127.0.0.2');
      expect((err as PhaseError).failure.code).toBe('tcp_refused');
    } finally {
      await blackhole.close();
    }
  });
});

describe('the tcp check’s socket pool', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(() => server.close());

  it('closes each connection in its connect event: nothing is read, the server sees it end, the socket waits closed', async () => {
    // A server that writes at once: an open socket would start reading it.
    const chatty = await startTcpServer({ onConnection: (socket) => socket.end('hello') });
    const pool = new SocketPool(4);
    try {
      const connection = await pool.connectAndClose('127.0.0.1', chatty.port, { signal: never, timeoutMs: 1000 });
      // Never the socket: it went back to the pool.
      expect(connection).toEqual({});
      expect(chatty.accepted).toBe(1);
      await chatty.idle();
      const [socket] = pool.idleSockets();
      expect(socket?.destroyed).toBe(true);
      expect(socket?.bytesRead).toBe(0);
    } finally {
      await chatty.close();
    }
  });

  it('keeps at most maxIdle sockets, and re-uses them', async () => {
    const pool = new SocketPool(2);
    const connect = (): Promise<unknown> => pool.connectAndClose('127.0.0.1', server.port, { signal: never, timeoutMs: 1000 });
    await Promise.all([connect(), connect(), connect(), connect()]);
    await server.idle();
    // 'close' follows the server seeing the end; wait for the pool to have them back (up to 2 s).
    const returned = { timeout: 2000, interval: 5 };
    await vi.waitFor(() => expect(pool.idleSockets()).toHaveLength(2), returned);
    const kept = pool.idleSockets();
    const again = [connect(), connect()];
    // Both connects took a waiting socket rather than making one.
    expect(pool.idleSockets()).toEqual([]);
    await Promise.all(again);
    await vi.waitFor(() => expect(new Set(pool.idleSockets())).toEqual(new Set(kept)), returned);
  });

  it('with endsWithSignal, leaves the end to the signal (no timer of its own)', async (context) => {
    const blackhole = await startBacklogFullServer();
    if (!blackhole) {
      context.skip('this kernel does not drop SYNs on a full accept queue');
      return;
    }
    try {
      for (const dial of [new SocketPool(1).connectAndClose, connectTcp]) {
        const controller = new AbortController();
        setTimeout(() => controller.abort(timedOut(300)), 300);
        const start = performance.now();
        const err = await dial('127.0.0.1', blackhole.port, { signal: controller.signal, timeoutMs: 50, endsWithSignal: true }).catch((e: unknown) => e);
        expect(performance.now() - start).toBeGreaterThanOrEqual(290);
        expect((err as PhaseError).failure).toMatchObject({ code: 'tcp_timeout', message: expect.stringMatching(/timed out after \d+ ms/) });
      }
    } finally {
      await blackhole.close();
    }
  });

  // A library user runs checks again and again in one process (as `pushcheck serve` does for hours): once a run has
  // returned, nothing of it may keep the process alive. A socket not destroyed after a drop would stay in SYN-SENT
  // for about two minutes; a timer left armed would hold the process for its timeout.
  it('leaves no socket, connect or timer behind once a run returns, run after run and after an interrupted one', async () => {
    const closed = await closedPort();
    const blackhole = await startBacklogFullServer();
    try {
      const pins = [
        { host: '*.open.test', address: '127.0.0.1' },
        // Refused on the first address, connected on the second: the first's share arms a timer of its own.
        { host: '*.second.test', address: '127.0.0.2' },
        { host: '*.second.test', address: '127.0.0.1' },
        // Dropped on the first address until its share's timer ends it, refused on the second.
        { host: 'dropped.first.test', address: '127.0.0.1' },
        { host: 'dropped.first.test', address: '127.0.0.2' },
      ];
      const names = (suffix: string, count: number) => Array.from({ length: count }, (_, i) => `h${i}.${suffix}`);
      const rules = [
        rule({ id: 'open', host: 'h.open.test', probe: names('open.test', 40), ports: [server.port], check: 'tcp' }),
        rule({ id: 'second', host: 'h.second.test', probe: names('second.test', 10), ports: [server.port], check: 'tcp' }),
        rule({ id: 'refused', host: '127.0.0.1', ports: [closed], check: 'tcp' }),
      ];
      if (blackhole) {
        rules.push(
          rule({ id: 'dropped', host: '127.0.0.1', ports: [blackhole.port], check: 'tcp' }),
          rule({ id: 'dropped-first', host: 'dropped.first.test', ports: [blackhole.port], check: 'tcp' }),
        );
      } else {
        console.log('socket pool: the dropped targets are left out: this kernel does not drop SYNs on a full accept queue');
      }
      const set = ruleSet(rules);
      const before = activeResources();
      for (let i = 0; i < 2; i += 1) {
        const report = await runChecks([set], checkSettings({ timeoutMs: 1000, concurrency: 32, pins }));
        const verdicts = new Set(report.results.map((result) => `${result.rule} ${result.status} ${result.error?.code ?? ''}`));
        const dropped = blackhole ? ['dropped fail tcp_timeout', 'dropped-first fail tcp_refused'] : [];
        expect(verdicts).toEqual(new Set(['open pass ', 'second pass ', 'refused fail tcp_refused', ...dropped]));
      }
      if (blackhole) {
        // Stopped while the dropped targets wait on their SYNs, with their attempts' 10 s timers armed.
        const controller = new AbortController();
        const ctrlC = setTimeout(() => controller.abort(), 150);
        const interrupted = await runChecks([set], checkSettings({ timeoutMs: 10_000, concurrency: 32, pins }), { signal: controller.signal });
        clearTimeout(ctrlC);
        expect(interrupted.interrupted).toBe(true);
      }
      expect(await addedOnceSettled(before)).toEqual({});
    } finally {
      await blackhole?.close();
    }
  });

  it('gives every outcome the verdict a new socket gives, on one socket re-used after each (IPv4, IPv6, drops, aborts)', async () => {
    const closed = await closedPort();
    const chatty = await startTcpServer({ onConnection: (socket) => socket.end('hello') });
    const v6 = (await ipv6Available()) ? await startTcpServer({ host: '::1' }) : undefined;
    const blackhole = await startBacklogFullServer();
    try {
      const ok = (address = '127.0.0.1') => ({ ok: true, address }) as const;
      const steps: PoolStep[] = [
        { name: 'connects', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
        { name: 'refused', addresses: ['127.0.0.1'], port: closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: '127.0.0.1', message: /ECONNREFUSED/ } },
        { name: 'connects after a refusal', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
        { name: 'a server that writes and closes at once', addresses: ['127.0.0.1'], port: chatty.port, timeoutMs: 1000, expect: ok() },
        { name: 'first address refused, the second connects', addresses: ['127.0.0.2', '127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
        { name: 'both refused', addresses: ['127.0.0.1', '127.0.0.2'], port: closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: '127.0.0.2', message: /2 addresses tried/ } },
      ];
      if (v6) {
        steps.push(
          { name: 'IPv6 connects', addresses: ['::1'], port: v6.port, timeoutMs: 1000, expect: ok('::1') },
          { name: 'IPv6 refused', addresses: ['::1'], port: closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: '::1' } },
          { name: 'IPv4 after IPv6', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
        );
      } else {
        console.log('socket pool: IPv6 steps left out: no IPv6 loopback on this machine');
      }
      if (blackhole) {
        const dropped = { addresses: ['127.0.0.1'], port: blackhole.port };
        steps.push(
          { name: 'connects with a short timer', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 500, expect: ok() },
          // The step before's timer (500 ms) and signal (aborted at 100 ms here) must not reach this one.
          { name: 'dropped', ...dropped, timeoutMs: 1000, abortPreviousAfterMs: 100, expect: { ok: false, code: 'tcp_timeout', address: '127.0.0.1' } },
          { name: 'connects after a timeout', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
          { name: 'interrupted mid-connect', ...dropped, timeoutMs: 5000, abortAfterMs: 150, expect: { ok: false, code: 'tcp_error', message: /interrupted/ } },
          { name: 'the probe’s budget ends it', ...dropped, timeoutMs: 300, signalTimesOutAfterMs: 300, expect: { ok: false, code: 'tcp_timeout', message: /timed out/ } },
          { name: 'dropped first, the second connects in its share', addresses: ['127.0.0.1', '127.0.0.2'], port: blackhole.port, timeoutMs: 600, expect: { ok: false, code: 'tcp_refused', address: '127.0.0.2' } },
          { name: 'connects after an interruption', addresses: ['127.0.0.1'], port: server.port, timeoutMs: 1000, expect: ok() },
        );
      } else {
        console.log('socket pool: drop and abort steps left out: this kernel does not drop SYNs on a full accept queue (test/faults covers them)');
      }
      await expectPoolParity(steps);
    } finally {
      await Promise.all([chatty.close(), v6?.close(), blackhole?.close()]);
    }
  });
});
