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
import { networkVerdict, watchLoop } from '../helpers/starved.js';

const TIMEOUT_MS = 1000;
/**
 * How late an attempt may end past its deadline on a loop that runs freely. The loop's standing still (the run's own
 * stall watch, as the test saw it) comes on top: no timer fires while it stands still.
 */
const SLACK_MS = 200;
const NAMES = ['a.slow.test', 'b.slow.test', 'c.slow.test', 'd.slow.test'];

let dns: LoopbackDnsServer;
let mute: TestServer;

beforeAll(async () => {
  dns = await startDnsServer({ records: Object.fromEntries(NAMES.map((name) => [name, { A: ['127.0.0.1'] }])) });
  mute = await startTcpServer(); // accepts, never answers a ClientHello
});

afterAll(async () => {
  await Promise.all([dns.close(), mute.close()]);
});

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the point: nothing else runs
  }
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
      expect(result.timings.dnsMs).toBeGreaterThanOrEqual(550);
      expect(result.timings.totalMs).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS + stalledMs);
      // A busy machine may starve an attempt: tried once more, or local_overload, which names this verdict.
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs });
      expect(verdict.code).toBe('tls_handshake_failed');
      expect(verdict.message, `${result.error?.message} (attempts ${result.attempts})`).toMatch(/the DNS lookup took \d+ ms of the 1000 ms timeout/);
    }
    // Two rounds of two targets. With the lookup outside the attempt each took 1.6 s: 3.2 s against a bound of 3 s.
    expect(boundMs(TIMEOUT_MS, NAMES.length, 2, 0)).toBe(3000);
    expect(report.durationMs).toBeLessThanOrEqual(reportBoundMs(report, TIMEOUT_MS, 2, 0));
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
