import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connectAddresses, connectTcp, SocketPool, tcpProbe } from '../../src/probes/tcp.js';
import { failure, PhaseError } from '../../src/probes/classify.js';
import { probeFor } from '../../src/probes/index.js';
import { runChecks } from '../../src/run/run.js';
import { activeResources, addedOnceSettled } from '../helpers/active-resources.mjs';
import { checkSettings, rule, ruleSet } from '../helpers/literals.js';
import { expectTimings } from '../helpers/outcome.js';
import { expectPoolParity, type PoolStep } from '../helpers/pool-steps.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { closedPort, ipv6Available, startTcpServer, type TestServer } from '../helpers/servers.js';
import type { Failure, ProbeOutcome, Report } from '../../src/types.js';
import { droppedInClient } from '../helpers/tcp-dropped.js';
import { announceSkip, createDroppingNetwork, faultNetworkUnavailable, SERVER_ADDRESS, SERVER_ADDRESS6, type FaultNetwork } from '../faults/netns.js';

const never = new AbortController().signal;

// The connects to a dropped port are made in a network namespace (test/faults/netns.ts): helpers/tcp-dropped.mjs and
// pool-steps.mjs in the client namespace, the servers and an nftables rule that drops SYNs in the server namespace.
const unavailable = await faultNetworkUnavailable();
announceSkip('tcp probe: the connects to a dropped port (run in network namespaces)', unavailable);
const haveIpv6 = await ipv6Available();

/** Ports on SERVER_ADDRESS: one a server listens on, one nothing listens on, one the firewall drops, one that writes at once. */
const OPEN = 7001;
const CLOSED = 7002;
const DROPPED = 7003;
const CHATTY = 7005;
/** In the client namespace, its own loopback: nothing listens there, so it refuses at once. */
const REFUSING = '127.0.0.2';

let net: FaultNetwork | undefined;

beforeAll(async () => {
  if (unavailable) return;
  net = await createDroppingNetwork({ dropped: DROPPED, open: OPEN, ipv6: haveIpv6 });
  if (haveIpv6) await net.startServer('silent', `${OPEN}`, undefined, SERVER_ADDRESS6);
  // Its peer's reset (a socket destroyed with 'hello' unread) is an error to ignore, not one to end the server with.
  const chatty = `require('net').createServer((s) => s.on('error', () => {}).end('hello')).listen(${CHATTY}, '${SERVER_ADDRESS}', () => console.log('ready'))`;
  await net.runInServer([process.execPath, '-e', chatty], /^ready$/m, 'a server that writes and closes at once');
}, 60_000);

afterAll(async () => {
  await net?.close();
});

/** Runs one case of tcp-dropped.mjs in the client namespace (see there). */
const inClient = <T>(input: Record<string, unknown>): Promise<T> => droppedInClient<T>(net, input);

interface Dialled {
  failure?: Failure;
  address?: string;
  elapsedMs: number;
}

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

  it.skipIf(unavailable !== undefined)('fails with tcp_timeout, bounded by timeoutMs, when a firewall drops the SYNs', { timeout: 60_000 }, async () => {
    const { outcome, elapsedMs: elapsed } = await inClient<{ outcome: ProbeOutcome; elapsedMs: number }>({ case: 'probe', address: SERVER_ADDRESS, port: DROPPED, timeoutMs: 400 });
    expect(outcome.failure).toMatchObject({ code: 'tcp_timeout', phase: 'connect' });
    expect(outcome.failure?.message).toMatch(/timed out after \d+ ms/);
    expect(outcome.address).toBe(SERVER_ADDRESS);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1000);
    // The connect's own wait: most of the probe's 400 ms, not all of it on a busy machine, where the connect starts
    // late in the budget (385 ms beside four busy loops).
    expect(outcome.timings.connectMs).toBeGreaterThanOrEqual(200);
    expect(outcome.timings.connectMs).toBeLessThanOrEqual(outcome.timings.totalMs);
  });

  // The scheduler's attempt signal (a QuickController itself, run.ts) is lent to the budget with its deadline, and the
  // connect listens on it through onAbort, without an AbortSignal ever being made for it.
  it.skipIf(unavailable !== undefined).for(['an AbortController', 'the scheduler’s QuickController, lent with its deadline'])(
    'stops promptly when the signal aborts, reporting an interruption (%s)',
    { timeout: 60_000 },
    async (kind) => {
      // Aborted after 100 ms by one controller or the other (tcp-dropped.mjs), with a 10 s timeout.
      const quick = kind.includes('QuickController');
      const { outcome, elapsedMs } = await inClient<{ outcome: ProbeOutcome; elapsedMs: number }>({ case: 'probe', address: SERVER_ADDRESS, port: DROPPED, timeoutMs: 10_000, abortAfterMs: 100, quick });
      expect(elapsedMs).toBeLessThan(600);
      expect(outcome.ok).toBe(false);
      expect(outcome.failure).toMatchObject({ code: 'tcp_error', phase: 'connect' });
      expect(outcome.failure?.message).toContain('interrupted');
    },
  );

  it('reports a DNS failure without connecting', async () => {
    const notFound = failure('dns_not_found', 'dns');
    // A lookup that took 1.2 ms of the 5 the probe waited for it (dnsMs is never more than the attempt's wait).
    const lookup = async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { addresses: [], pinned: false, durationMs: 1.2, failure: notFound };
    };
    const ctx = { ...probeContext(), resolve: lookup };
    const outcome = await tcpProbe.run(testTarget('push.test', server.port, 'tcp'), ctx);
    expect(outcome).toMatchObject({ ok: false, failure: { code: 'dns_not_found' }, timings: { dnsMs: 1.2 } });
    expect(outcome.address).toBeUndefined();
    expect(outcome.timings.connectMs).toBeUndefined();
  });
});

/**
 * What a tcp check's outcome says, less its times: the verdict, the message (its ms masked), where it connected, and
 * which phases it timed, in their order.
 */
function verdictOf(outcome: ProbeOutcome): Record<string, unknown> {
  const { failure: failed } = outcome;
  return {
    ok: outcome.ok,
    failure: failed && { ...failed, message: failed.message.replace(/\d+ ms/g, 'N ms') },
    address: outcome.address,
    addresses: outcome.addresses,
    pinned: outcome.pinned,
    phases: Object.keys(outcome.timings),
  };
}

// A direct tcp check whose lookup the scheduler hands over (ctx.resolved) with one address ends its probe in the
// pooled socket's connect event (tcp.ts probeOneAddress, SocketPool.probe); without it the same target goes through
// runProbe and connectAddresses. Two ways to one verdict: each case is probed both ways and must read the same.
describe('the tcp check of one known address reads as runProbe around connectAddresses does', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTcpServer();
  });
  afterAll(() => server.close());

  /** The target probed without and with its lookup handed over: [general path, fast path]. */
  async function bothWays(host: string, port: number, options: Parameters<typeof probeContext>[0] = {}): Promise<[ProbeOutcome, ProbeOutcome]> {
    const target = testTarget(host, port, 'tcp');
    const general = await tcpProbe.run(target, probeContext(options));
    const ctx = probeContext(options);
    ctx.resolved = await ctx.resolve(host, never);
    expect(ctx.resolved.addresses).toHaveLength(1);
    return [general, await tcpProbe.run(target, ctx)];
  }

  it('on loopback: a pass and a refusal, pinned and as an IP, IPv4 and IPv6; an attempt already stopped', async (context) => {
    const refused = await closedPort();
    const stopped = new AbortController();
    stopped.abort(new Error('ctrl-c'));
    const cases: Array<[string, string, number, Parameters<typeof probeContext>[0], Partial<Failure> | undefined]> = [
      ['pinned, open', 'push.test', server.port, { pins: [{ host: 'push.test', address: '127.0.0.1' }] }, undefined],
      ['pinned, refused', 'push.test', refused, { pins: [{ host: 'push.test', address: '127.0.0.1' }] }, { code: 'tcp_refused' }],
      ['an IP, open', '127.0.0.1', server.port, {}, undefined],
      ['an IP, refused', '127.0.0.1', refused, {}, { code: 'tcp_refused' }],
      ['stopped before the connect', 'push.test', server.port, { pins: [{ host: 'push.test', address: '127.0.0.1' }], signal: stopped.signal }, { code: 'tcp_error' }],
    ];
    const v6 = (await ipv6Available()) ? await startTcpServer({ host: '::1' }) : undefined;
    try {
      if (v6) {
        cases.push(['IPv6, open', '::1', v6.port, {}, undefined], ['IPv6 pinned, refused', 'push.test', refused, { pins: [{ host: 'push.test', address: '::1' }] }, { code: 'tcp_refused' }]);
      } else {
        context.annotate('no IPv6 loopback on this machine: IPv4 only');
      }
      for (const [name, host, port, options, failed] of cases) {
        const [general, fast] = await bothWays(host, port, options);
        expect(general.failure, name).toEqual(failed && expect.objectContaining(failed));
        expect(verdictOf(fast), name).toEqual(verdictOf(general));
      }
    } finally {
      await v6?.close();
    }
  });

  // In the client namespace of a fault network: a port whose SYNs a firewall drops, to its timeout and interrupted
  // by the scheduler's QuickController, IPv4 and IPv6.
  it.skipIf(unavailable !== undefined)('on a dropped port: timed out and interrupted, IPv4 and IPv6', { timeout: 60_000 }, async () => {
    const cases: Array<[Record<string, unknown>, Partial<Failure>]> = [
      [{ address: SERVER_ADDRESS, port: DROPPED, timeoutMs: 400 }, { code: 'tcp_timeout' }],
      [{ host: 'dropped.test', pins: [{ host: 'dropped.test', address: SERVER_ADDRESS }], port: DROPPED, timeoutMs: 400 }, { code: 'tcp_timeout' }],
      [{ address: SERVER_ADDRESS, port: DROPPED, timeoutMs: 10_000, abortAfterMs: 100, quick: true }, { code: 'tcp_error' }],
      [{ address: SERVER_ADDRESS, port: CLOSED, timeoutMs: 400 }, { code: 'tcp_refused' }],
      [{ address: SERVER_ADDRESS, port: OPEN, timeoutMs: 400 }, {}],
    ];
    if (haveIpv6) cases.push([{ address: SERVER_ADDRESS6, port: DROPPED, timeoutMs: 400 }, { code: 'tcp_timeout' }]);
    for (const [input, failed] of cases) {
      const probed = (known: boolean): Promise<ProbeOutcome> => inClient<{ outcome: ProbeOutcome }>({ case: 'probe', ...input, known }).then(({ outcome }) => outcome);
      const [general, fast] = await Promise.all([probed(false), probed(true)]);
      const name = JSON.stringify(input);
      if (failed.code) expect(general.failure, name).toMatchObject(failed);
      else expect(general.ok, name).toBe(true);
      expect(verdictOf(fast), name).toEqual(verdictOf(general));
    }
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

  it.skipIf(unavailable !== undefined)('shares the time among addresses: a dropping address does not starve the next one', { timeout: 60_000 }, async () => {
    // Both addresses on the dropped port: SERVER_ADDRESS drops, the client namespace's own 127.0.0.2 refuses at once.
    const { failure: err, address, elapsedMs: elapsed } = await inClient<Dialled>({ case: 'addresses', addresses: [SERVER_ADDRESS, REFUSING], port: DROPPED, timeoutMs: 600 });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(500);
    expect(address).toBe(REFUSING);
    expect(err?.code).toBe('tcp_refused');
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

  it.skipIf(unavailable !== undefined)('with endsWithSignal, leaves the end to the signal (no timer of its own)', { timeout: 60_000 }, async () => {
    // A SocketPool's connectAndClose, then connectTcp: each with a 50 ms timer and a signal that times out at 300 ms.
    const { dials } = await inClient<{ dials: (Dialled & { endedAfterAbort: boolean })[] }>({ case: 'endsWithSignal', address: SERVER_ADDRESS, port: DROPPED, timeoutMs: 50, signalMs: 300 });
    expect(dials).toHaveLength(2);
    for (const dialled of dials) {
      // Ended by the signal, not by its own 50 ms timer: it was still waiting when the signal aborted. (Its elapsed
      // time can read a little under 300 ms: the signal's timer counts from libuv's loop time, older at a start.)
      expect(dialled.endedAfterAbort).toBe(true);
      expect(dialled.elapsedMs).toBeGreaterThan(200);
      expect(dialled.failure).toMatchObject({ code: 'tcp_timeout', message: expect.stringMatching(/timed out after \d+ ms/) });
    }
  });

  // A library user runs checks again and again in one process (as `pushcheck serve` does for hours): once a run has
  // returned, nothing of it may keep the process alive. A socket not destroyed after a drop would stay in SYN-SENT
  // for about two minutes; a timer left armed would hold the process for its timeout. On loopback, without root:
  // connects and refusals, in this process; the drops and an interrupted run in a namespace (the test after it).
  it('leaves no socket, connect or timer behind once a run returns, run after run (loopback: connects, refusals)', async () => {
    const closed = await closedPort();
    const pins = [
      { host: '*.open.test', address: '127.0.0.1' },
      // Refused on the first address (the server listens on 127.0.0.1 only), connected on the second: the first's
      // share arms a timer of its own.
      { host: '*.second.test', address: '127.0.0.2' },
      { host: '*.second.test', address: '127.0.0.1' },
    ];
    const set = ruleSet([
      rule({ id: 'open', host: 'h.open.test', probe: names('open.test', 40), ports: [server.port], check: 'tcp' }),
      rule({ id: 'second', host: 'h.second.test', probe: names('second.test', 10), ports: [server.port], check: 'tcp' }),
      rule({ id: 'refused', host: '127.0.0.1', ports: [closed], check: 'tcp' }),
    ]);
    const before = activeResources();
    for (let i = 0; i < 2; i += 1) {
      // A timeout well past addedOnceSettled's second: a timer left armed is still there when it counts.
      const report = await runChecks([set], checkSettings({ timeoutMs: 5000, concurrency: 32, pins }));
      expect(verdicts(report)).toEqual(new Set(['open pass ', 'second pass ', 'refused fail tcp_refused']));
    }
    expect(await addedOnceSettled(before)).toEqual({});
  });

  it.skipIf(unavailable !== undefined)('leaves no socket, connect or timer behind once a run returns, run after run and after an interrupted one (drops, in a namespace)', { timeout: 60_000 }, async () => {
    // The runs are made by tcp-dropped.mjs in the client namespace, which counts its own active resources
    // (process.getActiveResourcesInfo()) before them and once they have returned.
    const pins = [
      { host: '*.open.test', address: SERVER_ADDRESS },
      // Refused on the first address, connected on the second: the first's share arms a timer of its own.
      { host: '*.second.test', address: REFUSING },
      { host: '*.second.test', address: SERVER_ADDRESS },
      // Dropped on the first address until its share's timer ends it, refused on the second.
      { host: 'dropped.first.test', address: SERVER_ADDRESS },
      { host: 'dropped.first.test', address: REFUSING },
    ];
    const set = ruleSet([
      rule({ id: 'open', host: 'h.open.test', probe: names('open.test', 40), ports: [OPEN], check: 'tcp' }),
      rule({ id: 'second', host: 'h.second.test', probe: names('second.test', 10), ports: [OPEN], check: 'tcp' }),
      rule({ id: 'refused', host: SERVER_ADDRESS, ports: [CLOSED], check: 'tcp' }),
      rule({ id: 'dropped', host: SERVER_ADDRESS, ports: [DROPPED], check: 'tcp' }),
      rule({ id: 'dropped-first', host: 'dropped.first.test', ports: [DROPPED], check: 'tcp' }),
    ]);
    const { reports, interrupted, added } = await inClient<{ reports: Report[]; interrupted: boolean; added: Record<string, number> }>({
      case: 'runs',
      ruleSets: [set],
      settings: { timeoutMs: 1000, concurrency: 32, pins },
      // Stopped while the dropped targets wait on their SYNs, with their attempts' 10 s timers armed.
      interruptSettings: { timeoutMs: 10_000, concurrency: 32, pins },
      interruptAfterMs: 150,
    });
    expect(reports).toHaveLength(2);
    for (const report of reports) {
      expect(verdicts(report)).toEqual(new Set(['open pass ', 'second pass ', 'refused fail tcp_refused', 'dropped fail tcp_timeout', 'dropped-first fail tcp_refused']));
    }
    expect(interrupted).toBe(true);
    expect(added).toEqual({});
  });

  it('gives every outcome the verdict a new socket gives, on one socket re-used after each (loopback: IPv4, IPv6, refusals)', async () => {
    const chatty = await startTcpServer({ onConnection: (socket) => socket.end('hello') });
    const v6 = haveIpv6 ? await startTcpServer({ host: '::1' }) : undefined;
    try {
      const at = { address: '127.0.0.1', refusing: '127.0.0.2', open: server.port, closed: await closedPort(), chatty: chatty.port };
      await expectPoolParity([...connectSteps(at), ...(v6 ? ipv6Steps(at, { address: '::1', open: v6.port }) : [])]);
    } finally {
      await Promise.all([chatty.close(), v6?.close()]);
    }
  });

  it.skipIf(unavailable !== undefined)('gives every outcome the verdict a new socket gives, on one socket re-used after each (IPv4, IPv6, drops, aborts, in a namespace)', { timeout: 60_000 }, async () => {
    // Made by pool-steps.mjs in the client namespace; REFUSING is its own loopback, where nothing listens.
    const at = { address: SERVER_ADDRESS, refusing: REFUSING, open: OPEN, closed: CLOSED, chatty: CHATTY };
    const ok = { ok: true, address: SERVER_ADDRESS } as const;
    const steps = connectSteps(at);
    if (haveIpv6) {
      steps.push(
        ...ipv6Steps(at, { address: SERVER_ADDRESS6, open: OPEN }),
        { name: 'IPv6 dropped', addresses: [SERVER_ADDRESS6], port: DROPPED, timeoutMs: 400, expect: { ok: false, code: 'tcp_timeout', address: SERVER_ADDRESS6 } },
        { name: 'IPv4 after an IPv6 drop', addresses: [SERVER_ADDRESS], port: OPEN, timeoutMs: 1000, expect: ok },
      );
    } else {
      console.log('socket pool: IPv6 steps left out: no IPv6 on this machine');
    }
    const dropped = { addresses: [SERVER_ADDRESS], port: DROPPED };
    steps.push(
      { name: 'connects with a short timer', addresses: [SERVER_ADDRESS], port: OPEN, timeoutMs: 500, expect: ok },
      // The step before's timer (500 ms) and signal (aborted at 100 ms here) must not reach this one.
      { name: 'dropped', ...dropped, timeoutMs: 1000, abortPreviousAfterMs: 100, expect: { ok: false, code: 'tcp_timeout', address: SERVER_ADDRESS } },
      { name: 'connects after a timeout', addresses: [SERVER_ADDRESS], port: OPEN, timeoutMs: 1000, expect: ok },
      { name: 'interrupted mid-connect', ...dropped, timeoutMs: 5000, abortAfterMs: 150, expect: { ok: false, code: 'tcp_error', message: /interrupted/ } },
      { name: 'the probe’s budget ends it', ...dropped, timeoutMs: 300, signalTimesOutAfterMs: 300, expect: { ok: false, code: 'tcp_timeout', message: /timed out/ } },
      { name: 'dropped first, the second connects in its share', addresses: [SERVER_ADDRESS, REFUSING], port: DROPPED, timeoutMs: 600, expect: { ok: false, code: 'tcp_refused', address: REFUSING } },
      { name: 'connects after an interruption', addresses: [SERVER_ADDRESS], port: OPEN, timeoutMs: 1000, expect: ok },
    );
    await expectPoolParity(steps, ['ip', 'netns', 'exec', net!.client]);
  });
});

/** `count` host names under `suffix`: h0.suffix, h1.suffix, ... */
const names = (suffix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `h${i}.${suffix}`);

/** A run's verdicts, one `rule status code` each (a rule's targets share theirs). */
const verdicts = (report: Report): Set<string> => new Set(report.results.map((result) => `${result.rule} ${result.status} ${result.error?.code ?? ''}`));

/** Where the socket pool's steps connect: an address with a server on `open`, nothing on `closed` and one that writes and closes on `chatty`; `refusing`, where nothing listens. */
interface StepPlace {
  address: string;
  refusing: string;
  open: number;
  closed: number;
  chatty: number;
}

/** The socket pool's steps that need no firewall: connects and refusals, on loopback or in a namespace. */
function connectSteps(at: StepPlace): PoolStep[] {
  const ok = { ok: true, address: at.address } as const;
  return [
    { name: 'connects', addresses: [at.address], port: at.open, timeoutMs: 1000, expect: ok },
    { name: 'refused', addresses: [at.address], port: at.closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: at.address, message: /ECONNREFUSED/ } },
    { name: 'connects after a refusal', addresses: [at.address], port: at.open, timeoutMs: 1000, expect: ok },
    { name: 'a server that writes and closes at once', addresses: [at.address], port: at.chatty, timeoutMs: 1000, expect: ok },
    { name: 'first address refused, the second connects', addresses: [at.refusing, at.address], port: at.open, timeoutMs: 1000, expect: ok },
    { name: 'both refused', addresses: [at.address, at.refusing], port: at.closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: at.refusing, message: /2 addresses tried/ } },
  ];
}

/** IPv6 connects and refusals on `v6` (its `closed` is at's: closedPort finds it free on ::1 too), then IPv4 again. */
function ipv6Steps(at: StepPlace, v6: { address: string; open: number }): PoolStep[] {
  return [
    { name: 'IPv6 connects', addresses: [v6.address], port: v6.open, timeoutMs: 1000, expect: { ok: true, address: v6.address } },
    { name: 'IPv6 refused', addresses: [v6.address], port: at.closed, timeoutMs: 1000, expect: { ok: false, code: 'tcp_refused', address: v6.address } },
    { name: 'IPv4 after IPv6', addresses: [at.address], port: at.open, timeoutMs: 1000, expect: { ok: true, address: at.address } },
  ];
}
