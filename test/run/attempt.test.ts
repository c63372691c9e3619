/**
 * One attempt's clock: the signal a probe is given times out at the attempt's deadline (the probe's budget borrows
 * it instead of setting a timer of its own), and a probe that ignores it is given up by the watchdog one grace
 * second later, its signal aborted and its late connection closed.
 */
import { getEventListeners } from 'node:events';
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runChecks } from '../../src/run/run.js';
import { checkSettings } from '../../src/run/settings.js';
import { tcpProbe } from '../../src/probes/tcp.js';
import { tlsProbe } from '../../src/probes/tls.js';
import { failure } from '../../src/probes/classify.js';
import { onAbort } from '../../src/probes/phases.js';
import type { KeptConnection, ProbeContext, AbortSignalLike } from '../../src/probes/types.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { startHttpServer, startTcpServer, startTlsServer, type TestServer } from '../helpers/servers.js';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { startDnsServer } from '../../src/demo/dns-server.js';
import { countAbortControllers } from '../helpers/abort-controllers.js';
import { activeResources, addedOnceSettled } from '../helpers/active-resources.mjs';
import { networkVerdict, watchLoop } from '../helpers/starved.js';
import { droppedInClient } from '../helpers/tcp-dropped.js';
import type { Report } from '../../src/types.js';
import { announceSkip, createDroppingNetwork, faultNetworkUnavailable, reportBoundMs, SERVER_ADDRESS } from '../faults/netns.js';

const unavailable = await faultNetworkUnavailable();
announceSkip('attempt: Ctrl-C during a dropped connect (run in network namespaces)', unavailable);

const pins = [{ host: '*.attempt.test', address: '127.0.0.1' }];
const oneTarget = ruleSet([rule({ id: 'one', host: 'one.attempt.test', ports: [9], check: 'tcp' })]);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('an attempt', () => {
  it('gives the probe a signal that times out at its deadline, timeoutMs after the attempt began', async () => {
    const seen: { ctx: ProbeContext; began: number; abortedAfterMs?: number; reason?: unknown }[] = [];
    vi.spyOn(tcpProbe, 'run').mockImplementation((_target, ctx) => {
      const began = performance.now();
      const entry: (typeof seen)[number] = { ctx, began };
      seen.push(entry);
      // A well-behaved probe: it stops when its signal says so.
      return new Promise((resolve) =>
        onAbort(ctx.signal, () => {
          // From the attempt's beginning (its lookup included), not from this call: on a busy machine the two differ.
          entry.abortedAfterMs = performance.now() - (ctx.startedAt ?? began);
          entry.reason = ctx.signal.reason;
          resolve({ ok: false, addresses: [], pinned: true, timings: { totalMs: entry.abortedAfterMs! }, failure: failure('tcp_timeout', 'connect', 'stopped') });
        }),
      );
    });
    const loop = watchLoop();
    const report = await runChecks([oneTarget], checkSettings({ timeoutMs: 300, pins })).finally(loop.stop);
    const [result] = report.results;
    // One attempt; two only where a busy machine starved the first (the overload retry), each held to its own deadline.
    expect(networkVerdict(result!, { timeoutMs: 300, stalledMs: loop.stalledMs() }).code).toBe('tcp_timeout');
    expect(seen).toHaveLength(result!.attempts);
    for (const attempt of seen) {
      expect(attempt.ctx.deadline).toBeGreaterThan(attempt.began - 5);
      expect(attempt.ctx.deadline).toBeLessThanOrEqual(attempt.began + 300);
      expect(attempt.ctx.deadline).toBe(attempt.ctx.startedAt! + 300);
      expect((attempt.reason as Error).name).toBe('TimeoutError');
      expect(attempt.abortedAfterMs).toBeGreaterThanOrEqual(290);
    }
  });

  it('is given up WATCHDOG_GRACE_MS after its deadline when the probe ignores its signal, and reports the timeout of its last phase', async () => {
    const signals: AbortSignalLike[] = [];
    vi.spyOn(tcpProbe, 'run').mockImplementation((_target, ctx) => {
      signals.push(ctx.signal);
      return new Promise(() => undefined); // a probe bug: never settles
    });
    const started = performance.now();
    const loop = watchLoop();
    const report = await runChecks([oneTarget], checkSettings({ timeoutMs: 200, pins })).finally(loop.stop);
    const tookMs = performance.now() - started;
    const [result] = report.results;
    const verdict = networkVerdict(result!, { timeoutMs: 200, stalledMs: loop.stalledMs() });
    expect(tookMs).toBeGreaterThanOrEqual(1150 * result!.attempts);
    expect(tookMs).toBeLessThan(5000);
    expect(verdict).toMatchObject({ code: 'tcp_timeout', phase: 'connect', message: expect.stringContaining('(no answer within 200 ms)') });
    expect(result!.status).toBe(verdict.overloaded ? 'warn' : 'fail');
    // A try per attempt: one, or two where a busy machine starved the first (networkVerdict holds that to the stalls).
    expect(signals).toHaveLength(result!.attempts);
    for (const signal of signals) {
      expect(signal.aborted).toBe(true);
      // Aborted at the deadline, as a well-behaved probe would have been told; the watchdog adds no reason of its own.
      expect((signal.reason as Error).name).toBe('TimeoutError');
    }
  });

  it('ends with the probe: a passed probe leaves no timer behind to abort its signal later', async () => {
    const signals: AbortSignalLike[] = [];
    vi.spyOn(tcpProbe, 'run').mockImplementation(async (_target, ctx) => {
      signals.push(ctx.signal);
      return { ok: true, address: '127.0.0.1', addresses: ['127.0.0.1'], pinned: true, timings: { totalMs: 1 } };
    });
    const report = await runChecks([oneTarget], checkSettings({ timeoutMs: 100, pins }));
    expect(report.results[0]!.status).toBe('pass');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(signals[0]!.aborted).toBe(false);
  });

  it('stays given up when the probe answers after the watchdog: the verdict is the timeout, and the connection it hands over is closed, not held', async () => {
    const closed: string[] = [];
    let lateAnswer: Promise<void> | undefined;
    vi.spyOn(tlsProbe, 'run').mockImplementation((_target, ctx) => {
      // A probe bug: it ignores its signal and passes 1.4 s after a 200 ms deadline (the watchdog gives up at 1.2 s).
      const answer = new Promise<void>((resolve) => setTimeout(resolve, 1400)).then(() => {
        const connection: KeptConnection = { socket: undefined as never, prove: async () => 'pong', close: () => closed.push('closed') };
        ctx.hold?.keep(connection);
      });
      lateAnswer = answer;
      return answer.then(() => ({ ok: true, address: '127.0.0.1', addresses: ['127.0.0.1'], pinned: true, timings: { totalMs: 1400 } }));
    });
    const held = ruleSet([rule({ id: 'held', host: 'held.attempt.test', ports: [9], check: 'tls', hold: true })]);
    const report = await runChecks([held], checkSettings({ timeoutMs: 200, pins, holdMs: 60_000 }));
    expect(report.results[0]).toMatchObject({ status: 'fail', attempts: 1, error: { code: 'tls_handshake_failed', message: expect.stringContaining('(no answer within 200 ms)') } });
    expect(closed).toEqual([]);
    await lateAnswer;
    expect(closed).toEqual(['closed']);
  });

  it("re-throws a probe's own bug rather than turning it into a verdict, whether the probe throws or rejects", async () => {
    const bug = new TypeError('a probe bug');
    const spy = vi.spyOn(tcpProbe, 'run').mockImplementation(() => {
      throw bug;
    });
    await expect(runChecks([oneTarget], checkSettings({ timeoutMs: 200, pins }))).rejects.toBe(bug);
    spy.mockImplementation(async () => {
      throw bug;
    });
    await expect(runChecks([oneTarget], checkSettings({ timeoutMs: 200, pins }))).rejects.toBe(bug);
  });

  it("lets go of the caller's signal when the run throws, for a rule's bad --var as for a probe's bug", async () => {
    const controller = new AbortController();
    const badVar = ruleSet([rule({ id: 'bad', host: 'x', ports: [0], check: 'write', url: '${target}' })], { vars: [{ name: 'target', example: 'webdav://files.example.test/messages.ibi', checks: 'the message file' }] });
    await expect(runChecks([badVar], checkSettings({ pins, vars: { target: 'not a url' } }), { signal: controller.signal })).rejects.toThrow('--var target');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    const bug = new TypeError('a probe bug');
    vi.spyOn(tcpProbe, 'run').mockImplementation(async () => {
      throw bug;
    });
    await expect(runChecks([oneTarget], checkSettings({ timeoutMs: 200, pins }), { signal: controller.signal })).rejects.toBe(bug);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('makes no AbortSignal for a tcp check: the attempt hands its QuickController to the connect as it is', async () => {
    const server = await startTcpServer();
    const made = countAbortControllers();
    try {
      const ports = Array.from({ length: 20 }, () => server.port);
      const set = ruleSet([rule({ id: 'many', host: 'many.attempt.test', ports, check: 'tcp' })]);
      const report = await runChecks([set], checkSettings({ timeoutMs: 3000, pins }));
      expect(report.results.map((result) => result.status)).toEqual(ports.map(() => 'pass'));
      // The run's own signal; none per target.
      expect(made()).toBeLessThanOrEqual(1);
    } finally {
      vi.unstubAllGlobals();
      await server.close();
    }
  });

  it.skipIf(unavailable !== undefined)('stops its connect on Ctrl-C through the run, with no AbortSignal made for it: the run ends at once and says interrupted', { timeout: 60_000 }, async () => {
    // Run in the client namespace of a fault network, to a port its firewall drops (helpers/tcp-dropped.mjs, which
    // counts the AbortControllers made there after the caller's own).
    const net = await createDroppingNetwork({ dropped: 7003 });
    try {
      const ports = Array.from({ length: 5 }, () => 7003);
      const set = ruleSet([rule({ id: 'dropped', host: 'dropped.attempt.test', ports, check: 'tcp' })]);
      const settings = { timeoutMs: 10_000, pins: [{ host: '*.attempt.test', address: SERVER_ADDRESS }] };
      const { report, elapsedMs, abortControllersMade } = await droppedInClient<{ report: Report; elapsedMs: number; abortControllersMade: number }>(net, {
        case: 'interrupt',
        ruleSets: [set],
        settings,
        interruptAfterMs: 200,
      });
      expect(elapsedMs).toBeLessThan(2000);
      expect(report.interrupted).toBe(true);
      expect(report.results.map((result) => [result.status, result.note])).toEqual(ports.map(() => ['skip', 'interrupted']));
      // The caller's own controller (made before counting) is not counted; the run's signal is the one made.
      expect(abortControllersMade).toBeLessThanOrEqual(1);
    } finally {
      await net.close();
    }
  });
});

describe('every probe kind and phase through the scheduler, whose attempt signal is a QuickController', () => {
  // Each waits in its last phase on a loopback server that never answers: the handshake (tls), the request (http,
  // https, write over WebDAV), HTTP/2 (apns), CONNACK (mqtt). The write check hands node:http an AbortSignal that the
  // attempt's controller made on demand; the others listen on the controller through onAbort().
  const names = ['tls', 'http', 'https', 'apns', 'mqtt', 'write'].map((kind) => `${kind}.attempt.test`);
  let silent: TestServer;
  let silentTls: TestServer;
  let silentH2: TestServer;
  let ca: string;
  beforeAll(async () => {
    const authority = await createCertificateAuthority('pushcheck attempt CA');
    ca = authority.cert;
    const leaf = await authority.issue({ names });
    silent = await startTcpServer();
    silentTls = await startTlsServer({ ...leaf });
    silentH2 = await startTlsServer({ ...leaf, ALPNProtocols: ['h2'] });
  });
  afterAll(async () => {
    await Promise.all([silent?.close(), silentTls?.close(), silentH2?.close()]);
  });
  const everyKind = () =>
    ruleSet([
      rule({ id: 'tls', host: 'tls.attempt.test', ports: [silent.port], check: 'tls' }),
      rule({ id: 'http', host: 'http.attempt.test', ports: [silent.port], check: 'http' }),
      rule({ id: 'https', host: 'https.attempt.test', ports: [silentTls.port], check: 'https' }),
      rule({ id: 'apns', host: 'apns.attempt.test', ports: [silentH2.port], check: 'apns' }),
      rule({ id: 'mqtt', host: 'mqtt.attempt.test', ports: [silentTls.port], check: 'mqtt' }),
      rule({ id: 'write', host: 'write.attempt.test', ports: [silent.port], check: 'write', url: `webdav://write.attempt.test:${silent.port}/dav/messages.ibi` }),
    ]);

  it('stops each at its deadline by itself (not by the watchdog), and on Ctrl-C at once with the run saying interrupted; nothing is left running after', async () => {
    const before = activeResources();
    const timeoutMs = 1000;
    const loop = watchLoop();
    const timed = await runChecks([everyKind()], checkSettings({ timeoutMs, pins, caPems: [ca] })).finally(loop.stop);
    const judged = timed.results.map((result) => [result.rule, networkVerdict(result, { timeoutMs, stalledMs: loop.stalledMs() })] as const);
    const verdicts = Object.fromEntries(judged.map(([rule, verdict]) => [rule, verdict.code]));
    expect(verdicts).toEqual({ tls: 'tls_handshake_failed', http: 'http_timeout', https: 'http_timeout', apns: 'http_timeout', mqtt: 'protocol_mismatch', write: 'write_error' });
    for (const [rule, verdict] of judged) {
      // The watchdog's verdict reads "no answer within"; a probe that stopped itself says what it waited for.
      expect(verdict.message, rule).not.toContain('no answer within');
    }

    const controller = new AbortController();
    const started = performance.now();
    const ctrlC = setTimeout(() => controller.abort(new Error('ctrl-c')), 300);
    const interrupted = await runChecks([everyKind()], checkSettings({ timeoutMs: 10_000, pins, caPems: [ca] }), { signal: controller.signal });
    clearTimeout(ctrlC);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(interrupted.interrupted).toBe(true);
    expect(interrupted.results.map((result) => [result.rule, result.status, result.note])).toEqual(
      ['tls', 'http', 'https', 'apns', 'mqtt', 'write'].map((kind) => [kind, 'skip', 'interrupted']),
    );

    expect(await addedOnceSettled(before)).toEqual({});
  });

  it('makes no AbortSignal for a tls, apns or mqtt check, passed, stopped at its deadline or on Ctrl-C: their phases listen on the attempt through onAbort()', async () => {
    const kinds = (id: string) => everyKind().rules.filter((r) => r.id === id);
    const counted = async (run: () => Promise<unknown>): Promise<number> => {
      const made = countAbortControllers();
      try {
        await run();
        return made();
      } finally {
        vi.unstubAllGlobals();
      }
    };
    // Passed: a handshake that completes (tls), ten times.
    const ports = Array.from({ length: 10 }, () => silentTls.port);
    const passing = ruleSet([rule({ id: 'tls', host: 'tls.attempt.test', ports, check: 'tls' })]);
    let passed: Awaited<ReturnType<typeof runChecks>> | undefined;
    expect(await counted(async () => (passed = await runChecks([passing], checkSettings({ timeoutMs: 3000, pins, caPems: [ca] }))))).toBeLessThanOrEqual(1);
    expect(passed!.results.map((result) => result.status)).toEqual(ports.map(() => 'pass'));
    // Stopped at the deadline in the handshake (tls), HTTP/2 (apns) and the CONNACK (mqtt).
    const stuck = ruleSet([...kinds('tls'), ...kinds('apns'), ...kinds('mqtt')]);
    let timed: Awaited<ReturnType<typeof runChecks>> | undefined;
    const loop = watchLoop();
    expect(await counted(async () => (timed = await runChecks([stuck], checkSettings({ timeoutMs: 500, pins, caPems: [ca] })).finally(loop.stop)))).toBeLessThanOrEqual(1);
    const stalledMs = loop.stalledMs();
    expect(timed!.results.map((result) => networkVerdict(result, { timeoutMs: 500, stalledMs }).code)).toEqual(['tls_handshake_failed', 'http_timeout', 'protocol_mismatch']);
    // On Ctrl-C (the caller's controller is made before counting).
    const controller = new AbortController();
    const ctrlC = setTimeout(() => controller.abort(new Error('ctrl-c')), 200);
    let interrupted: Awaited<ReturnType<typeof runChecks>> | undefined;
    expect(await counted(async () => (interrupted = await runChecks([stuck], checkSettings({ timeoutMs: 10_000, pins, caPems: [ca] }), { signal: controller.signal })))).toBeLessThanOrEqual(1);
    clearTimeout(ctrlC);
    expect(interrupted!.results.map((result) => result.note)).toEqual(['interrupted', 'interrupted', 'interrupted']);
  });

  it("times a write attempt from the attempt's start, its lookup included, and stops it at the attempt's deadline", async () => {
    const dns = await startDnsServer({ records: { 'write.attempt.test': { A: ['127.0.0.1'] } }, delayMs: 400 });
    try {
      const started = performance.now();
      const loop = watchLoop();
      const report = await runChecks([ruleSet(everyKind().rules.filter((r) => r.id === 'write'))], checkSettings({ timeoutMs: 1000, caPems: [ca], dnsServer: { host: dns.host, port: dns.port } })).finally(loop.stop);
      const tookMs = performance.now() - started;
      const [result] = report.results;
      // The write after a 400 ms answer is judged on the time the answer left it (lookupMs: at most 500 ms of it).
      const verdict = networkVerdict(result!, { timeoutMs: 1000, stalledMs: loop.stalledMs(), lookupMs: 500 });
      expect(verdict).toMatchObject({ code: 'write_error', message: expect.stringContaining('timed out after 1000 ms (PROPFIND)') });
      expect(result!.status).toBe(verdict.overloaded ? 'warn' : 'fail');
      // An overload retry made no lookup: the name's answer was the run's already (docs/timeouts.md).
      if (verdict.overloadRetried) expect(result!.timings.dnsMs).toBe(0);
      else expect(result!.timings.dnsMs).toBeGreaterThanOrEqual(350);
      // Before, totalMs ran from the probe's call, after the lookup: about 600 ms of the 1000.
      expect(result!.timings.totalMs).toBeGreaterThanOrEqual(990);
      expect(result!.timings.totalMs).toBeLessThan(tookMs + 1);
      // Stopped at its deadline, not by the watchdog a second later: the run keeps t + 1 s (docs/timeouts.md), or,
      // where a busy machine starved the attempt, the bound that counts its one overload retry.
      expect(tookMs).toBeLessThan(reportBoundMs(report, 1000, 1, 0));
    } finally {
      await dns.close();
    }
  });

  it('leaves nothing of a write attempt after it: the AbortSignal it handed node:http never aborts later, and no timer or socket is left', async () => {
    const refusing = await startHttpServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    const handed: AbortSignal[] = [];
    const request = http.request;
    vi.spyOn(http, 'request').mockImplementation(((options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
      if (options.signal) handed.push(options.signal);
      return request(options, callback);
    }) as typeof http.request);
    try {
      const before = activeResources();
      const set = ruleSet([rule({ id: 'write', host: 'write.attempt.test', ports: [refusing.port], check: 'write', url: `webdav://write.attempt.test:${refusing.port}/dav/messages.ibi` })]);
      const report = await runChecks([set], checkSettings({ timeoutMs: 300, pins }));
      expect(report.results[0]).toMatchObject({ status: 'fail', error: { code: 'write_not_found' } });
      expect(handed).toHaveLength(1);
      // Past the attempt's --timeout: a timer of the attempt left running would have aborted it by now.
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(handed[0]!.aborted).toBe(false);
      expect(await addedOnceSettled(before)).toEqual({});
    } finally {
      await refusing.close();
    }
  });

  it('stops a tcp check on Ctrl-C while a proxy (http or socks5) has not answered its handshake, and leaves nothing running', async () => {
    const before = activeResources();
    for (const protocol of ['http', 'socks5'] as const) {
      const controller = new AbortController();
      const started = performance.now();
      const ctrlC = setTimeout(() => controller.abort(new Error('ctrl-c')), 300);
      const set = ruleSet([rule({ id: 'proxied', host: 'proxied.attempt.test', ports: [443], check: 'tcp' })]);
      const proxy = { protocol, host: '127.0.0.1', port: silent.port };
      const report = await runChecks([set], checkSettings({ timeoutMs: 10_000, pins, proxy }), { signal: controller.signal });
      clearTimeout(ctrlC);
      expect(performance.now() - started, protocol).toBeLessThan(3000);
      expect(report.results.map((result) => [result.status, result.note])).toEqual([['skip', 'interrupted']]);
    }
    expect(await addedOnceSettled(before)).toEqual({});
  });

  it('stops the lookup a target starts with on Ctrl-C (a --dns-server that never answers), and leaves nothing running', async () => {
    const dns = await startDnsServer({ records: {} });
    dns.mode = 'silent';
    try {
      const before = activeResources();
      const controller = new AbortController();
      const started = performance.now();
      const ctrlC = setTimeout(() => controller.abort(new Error('ctrl-c')), 300);
      const set = ruleSet([rule({ id: 'unanswered', host: 'unanswered.attempt.test', ports: [silent.port], check: 'tls' })]);
      const report = await runChecks([set], checkSettings({ timeoutMs: 10_000, dnsServer: { host: dns.host, port: dns.port } }), { signal: controller.signal });
      clearTimeout(ctrlC);
      expect(performance.now() - started).toBeLessThan(3000);
      expect(report.results.map((result) => [result.status, result.note])).toEqual([['skip', 'interrupted']]);
      expect(await addedOnceSettled(before)).toEqual({});
    } finally {
      await dns.close();
    }
  });
});
