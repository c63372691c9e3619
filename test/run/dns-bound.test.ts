/**
 * The lookup a target starts with is part of its first attempt (docs/timeouts.md): it counts against that attempt's
 * timeout, and the stall watch judges it with the rest. Through --dns-server, against the demo's DNS server on
 * loopback made slow or silent; the system resolver's side is test/faults/dns-bound.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type LoopbackDnsServer } from '../../src/demo/dns-server.js';
import { runChecks } from '../../src/run/run.js';
import { checkSettings } from '../../src/run/settings.js';
import { boundMs, reportBoundMs } from '../faults/netns.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { startTcpServer, type TestServer } from '../helpers/servers.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import type { Result } from '../../src/types.js';

const TIMEOUT_MS = 1000;
/**
 * How late an attempt may end past its deadline on a loop that runs freely. The loop's standing still (the run's own
 * stall watch, as the test saw it) comes on top: no timer fires while it stands still.
 */
const SLACK_MS = 200;
const NAMES = ['a.slow.test', 'b.slow.test', 'c.slow.test', 'd.slow.test'];
/** The most running time a lookup of the server's 600 ms answer takes (networkVerdict's lookupMs). */
const LOOKUP_MS = 700;
/** The stall the early-stall case makes in the lookup. */
const STALL_MS = 300;

let dns: LoopbackDnsServer;
let mute: TestServer;

beforeAll(async () => {
  dns = await startDnsServer({ records: Object.fromEntries(NAMES.map((name) => [name, { A: ['127.0.0.1'] }])) });
  mute = await startTcpServer(); // accepts, never answers a ClientHello
});

afterAll(async () => {
  await Promise.all([dns.close(), mute.close()]);
});

/** A retried attempt that made no lookup (it had the run's answer): its connect and handshake had the whole timeout. */
function expectWholeTimeout(result: Result, message: string | undefined): void {
  const handshakeMs = Number(/timed out after (\d+) ms/.exec(message ?? '')?.[1]);
  const said = `${result.error?.message} (attempts ${result.attempts})`;
  expect(message, said).not.toMatch(/the DNS lookup took/);
  expect(handshakeMs + (result.timings.connectMs ?? 0), said).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.95 - 1);
}

function settings(concurrency: number) {
  return checkSettings({ timeoutMs: TIMEOUT_MS, concurrency, dnsServer: { host: dns.host, port: dns.port } });
}

describe('a lookup inside the attempt’s timeout (--dns-server)', () => {
  it('answered after 600 ms: the handshake gets the 400 ms left, and the run keeps t × ⌈T/c⌉ + 1 s', async () => {
    dns.mode = 'answer';
    dns.delayMs = 600;
    const set = ruleSet([rule({ id: 'slow', host: '*.slow.test', probe: NAMES, ports: [mute.port], check: 'tls' })]);
    const loop = watchLoop();
    const report = await runChecks([set], settings(2)).finally(loop.stop);
    const stalledMs = loop.stalledMs();
    expect(report.results).toHaveLength(NAMES.length);
    for (const result of report.results) {
      const said = `${result.error?.message} (attempts ${result.attempts})`;
      // A busy machine may starve an attempt: tried once more, or local_overload, which names this verdict.
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs, lookupMs: LOOKUP_MS });
      if (verdict.code === 'dns_timeout') {
        // An answer due at 600 ms sent after 1000: the server runs in this process, so a stall of the 400 ms between
        // held its answer back too, past the deadline (an answer that came in such a stall is read in the deadline's
        // look: overload-look.test.ts). Only then.
        expect(stalledMs, said).toBeGreaterThanOrEqual(TIMEOUT_MS - 600 - SLACK_MS);
        continue;
      }
      expect(verdict.code, said).toBe('tls_handshake_failed');
      const handshakeMs = Number(/timed out after (\d+) ms/.exec(verdict.message ?? '')?.[1]);
      const lookup = /the DNS lookup took (\d+) ms of the 1000 ms timeout/.exec(verdict.message ?? '');
      if (lookup || !verdict.overloadRetried) {
        // The attempt began with the lookup (the only attempt, or an overload retry after a starved lookup): the
        // handshake had what the lookup left, and the message says where the time went.
        expect(lookup, said).not.toBeNull();
        expect(Number(lookup![1]), said).toBeGreaterThanOrEqual(550);
        expect(result.timings.dnsMs, said).toBeGreaterThanOrEqual(550);
        expect(handshakeMs, said).toBeLessThanOrEqual(TIMEOUT_MS - Number(lookup![1]) + SLACK_MS + stalledMs);
        expect(result.timings.totalMs).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + stalledMs);
      } else {
        // An overload retry after a first attempt starved past its lookup reuses that lookup, as every retry does (the
        // run's answer for the name): no lookup inside this attempt, so the handshake had the whole timeout, and its
        // message, which says what this attempt saw, has no share of DNS to tell. Its timings describe it too: no
        // lookup (dnsMs 0), and totalMs within its timeout.
        expectWholeTimeout(result, verdict.message);
        expect(result.timings.dnsMs, said).toBe(0);
        expect(result.timings.totalMs, said).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + stalledMs);
      }
    }
    // Two rounds of two targets. With the lookup outside the attempt each took 1.6 s: 3.2 s against a bound of 3 s.
    expect(boundMs(TIMEOUT_MS, NAMES.length, 2, 0)).toBe(3000);
    expect(report.durationMs).toBeLessThanOrEqual(reportBoundMs(report, TIMEOUT_MS, 2, 0));
  });

  it('starved after an answered lookup: tried again on that answer, so the whole timeout goes to the handshake and the message tells no DNS share', async () => {
    dns.mode = 'answer';
    dns.delayMs = 600;
    // The loop stands still for 700 ms as the first attempt's handshake begins: past its deadline, on a free machine too.
    let starved = false;
    const stalling = await startTcpServer({
      onConnection: () => {
        if (!starved) setTimeout(() => busyFor(700), 20);
        starved = true;
      },
    });
    try {
      const set = ruleSet([rule({ id: 'starved', host: 'a.slow.test', ports: [stalling.port], check: 'tls' })]);
      const loop = watchLoop();
      const report = await runChecks([set], settings(1)).finally(loop.stop);
      const [result] = report.results;
      const verdict = networkVerdict(result!, { timeoutMs: TIMEOUT_MS, stalledMs: loop.stalledMs() });
      expect(verdict.overloadRetried, `attempts ${result?.attempts}: ${result?.error?.message}`).toBe(true);
      // A machine busy with other work may starve the second try too: then local_overload names the same verdict.
      expect(verdict.code).toBe('tls_handshake_failed');
      expectWholeTimeout(result!, verdict.message);
      // The result's timings are the retry's, which made no lookup: dnsMs 0, and totalMs within its own timeout. They
      // were the first try's 600 ms lookup beside the retry's whole-timeout handshake: a total of about 1,600 ms.
      // The loop's other stalls, beyond the 700 ms made here before the retry, may hold the retry's timer.
      const said = `${result!.error?.message}: ${JSON.stringify(result!.timings)}`;
      expect(result!.timings.dnsMs, said).toBe(0);
      expect(result!.timings.totalMs, said).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + Math.max(0, loop.stalledMs() - 700));
    } finally {
      await stalling.close();
    }
  });

  it("a name's later targets use its lookup: their dnsMs is their own wait for it, so totalMs stays within the timeout", async () => {
    dns.mode = 'answer';
    dns.delayMs = 600;
    // One at a time: the second target starts once the first has ended, and finds the name's answer ready.
    const set = ruleSet(['first', 'second'].map((id) => rule({ id, host: 'a.slow.test', ports: [mute.port], check: 'tls' })));
    const loop = watchLoop();
    const report = await runChecks([set], settings(1)).finally(loop.stop);
    const stalledMs = loop.stalledMs();
    const [first, second] = report.results.map((result) => ({ result, verdict: networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs }) }));
    const said = (result: Result): string => `${result.error?.message}: ${JSON.stringify(result.timings)} (attempts ${result.attempts})`;
    expect(first!.verdict.code).toBe('tls_handshake_failed');
    // The first waited for the lookup; unless starved and tried again on its answer, its time began with it.
    if (!first!.verdict.overloadRetried) expect(first!.result.timings.dnsMs, said(first!.result)).toBeGreaterThanOrEqual(550);
    // The second made no lookup: the whole timeout went to its handshake, and nothing of a lookup is in its timings.
    // Before, its dnsMs was the first's 600 ms, and its totalMs about 1,600 ms.
    expect(second!.verdict.code).toBe('tls_handshake_failed');
    expectWholeTimeout(second!.result, second!.verdict.message);
    expect(second!.result.timings.dnsMs, said(second!.result)).toBe(0);
    expect(second!.result.timings.totalMs, said(second!.result)).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + stalledMs);
    // So with --family 6, where the name has no IPv6 address: the first target's lookup, then none.
    const none = await runChecks([set], { ...settings(1), family: '6' });
    expect(none.results.map((result) => [result.error?.code, result.timings.dnsMs! >= 550, result.timings.dnsMs === 0])).toEqual([
      ['dns_no_address', true, false],
      ['dns_no_address', false, true],
    ]);
  });

  it('a 600 ms answer read late by a stall under half the timeout: the handshake it left no time is tried again, not judged', async () => {
    dns.mode = 'answer';
    dns.delayMs = 600;
    const set = ruleSet([rule({ id: 'late', host: 'a.slow.test', ports: [mute.port], check: 'tls' })]);
    // The loop stands still from 560 to 970 ms of the attempt, 41 % of it: the answer is read at about 975 ms, and the
    // handshake has some 25 ms. Before, that read tls_handshake_failed (or tcp_timeout, with less left) at once: the
    // whole attempt's stall was under half its wait, though it was most of the time the lookup left.
    const started = performance.now();
    setTimeout(() => busyFor(started + 970 - performance.now()), 560);
    const loop = watchLoop();
    const report = await runChecks([set], settings(1)).finally(loop.stop);
    const [result] = report.results;
    const said = `${result?.error?.message} (attempts ${result?.attempts})`;
    const verdict = networkVerdict(result!, { timeoutMs: TIMEOUT_MS, stalledMs: loop.stalledMs(), lookupMs: LOOKUP_MS });
    expect(verdict.overloadRetried || verdict.overloaded, said).toBe(true);
    expect(verdict.code, said).toBe('tls_handshake_failed');
    // The retry had the run's answer and the whole timeout: no lookup, no DNS share. (On a machine busy beside the
    // test the answer may come later still, past the lookup's own timeout: a starved lookup, which the retry makes
    // again, its message then telling its share.)
    if (verdict.overloadRetried && !/the DNS lookup took/.test(verdict.message ?? '')) expectWholeTimeout(result!, verdict.message);
  });

  it('a stall early in a slow lookup that then answers on time is no overload: the handshake it left is judged, once', async () => {
    dns.mode = 'answer';
    dns.delayMs = 800;
    const set = ruleSet([rule({ id: 'early', host: 'a.slow.test', ports: [mute.port], check: 'tls' })]);
    // The loop stands still 300 ms early in the lookup (from 50 ms after the server has the query), which answers on
    // time at 800 ms; the handshake has 200 ms on a loop that runs. Counting every stall of the lookup as the
    // handshake's (300 of its 500 ms) read local_overload.
    const asked = dns.queries.length;
    const stall = setInterval(() => {
      if (dns.queries.length === asked) return;
      clearInterval(stall);
      setTimeout(() => busyFor(STALL_MS), 50);
    }, 1);
    const loop = watchLoop();
    const report = await runChecks([set], settings(1)).finally(() => {
      loop.stop();
      clearInterval(stall);
    });
    const [result] = report.results;
    const said = `${result?.error?.message} (attempts ${result?.attempts})`;
    // A machine busy beside the test may starve the handshake itself: allowed only where the loop stood still for half
    // of its time from the answer (at 800 ms, and 50 for the query's sending and the count of the stall made here),
    // beyond that stall.
    const verdict = networkVerdict(result!, { timeoutMs: TIMEOUT_MS, stalledMs: loop.stalledMs() - STALL_MS, lookupMs: 850 });
    expect(verdict.code, said).toBe('tls_handshake_failed');
    if (!verdict.overloadRetried) expect(verdict.message, said).toMatch(/the DNS lookup took \d+ ms of the 1000 ms timeout/);
  });

  it('never answered: dns_timeout after the timeout, once per target', async () => {
    dns.mode = 'silent';
    dns.delayMs = 0;
    const set = ruleSet([rule({ id: 'silent', host: '*.slow.test', probe: NAMES, ports: [mute.port], check: 'tcp' })]);
    const loop = watchLoop();
    const report = await runChecks([set], settings(4)).finally(loop.stop);
    const stalledMs = loop.stalledMs();
    for (const result of report.results) {
      // Once per target: a second try only where a busy machine starved the first (networkVerdict holds that).
      expect(networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs }).code).toBe('dns_timeout');
      expect(result.timings.totalMs).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + stalledMs);
    }
    expect(report.durationMs).toBeLessThanOrEqual(reportBoundMs(report, TIMEOUT_MS, 4, 0));
  });

  it('a lookup that timed out while the loop stood still measured the machine: tried again, then judged on the network', async () => {
    dns.mode = 'silent';
    dns.delayMs = 0;
    const set = ruleSet([rule({ id: 'stalled', host: 'a.slow.test', ports: [mute.port], check: 'tcp' })]);
    // The loop stands still for 800 of the lookup's 1000 ms.
    setTimeout(() => busyFor(800), 20);
    const report = await runChecks([set], settings(1));
    const [result] = report.results;
    // The first attempt (the lookup) is local_overload and tried again once the loop is free; the second try waits
    // on a free loop and is an honest dns_timeout. Judged outside the attempt, the stalled lookup was a dns_timeout
    // at once, tried once.
    expect(result?.attempts).toBe(2);
    // A machine busy with other work may starve the second try too: then it says so.
    expect(['dns_timeout', 'local_overload']).toContain(result?.error?.code);
  });
});
