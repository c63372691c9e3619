/**
 * The scheduler hands each attempt the run's lookup of its name once it has succeeded (ctx.resolved), so that
 * runProbe need not wait on a settled promise once a target. That shortcut must read every target as the probe's
 * own lookup through ctx.resolve does: the same targets, run once as they are and once with the shortcut taken away,
 * give the same verdicts (a pass, a refusal tried again, IPv4 and IPv6 of one name, a timeout, and a loop that
 * stood still, read through stall.ts), addresses, attempts and timing fields.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runChecks } from '../../src/run/run.js';
import { checkSettings } from '../../src/run/settings.js';
import { tcpProbe } from '../../src/probes/tcp.js';
import type { ProbeContext } from '../../src/probes/types.js';
import type { Report, Result } from '../../src/types.js';
import { startDnsServer, type LoopbackDnsServer } from '../../src/demo/dns-server.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { closedPort, ipv6Available, startBacklogFullServer, startTcpServer, type TestServer } from '../helpers/servers.js';
import { networkVerdict, watchLoop } from '../helpers/starved.js';

const haveIpv6 = await ipv6Available();
if (!haveIpv6 && process.env.CI) throw new Error('CI needs ::1 for the IPv6 targets');
if (!haveIpv6) console.warn('known-lookup: no ::1 on this machine, the IPv6 target is left out');

let dns: LoopbackDnsServer;
const servers: TestServer[] = [];
let open: TestServer;
let refusedPort: number;
let dropping: TestServer | undefined;

beforeAll(async () => {
  open = await startTcpServer({ host: '127.0.0.1' });
  servers.push(open);
  refusedPort = await closedPort('127.0.0.1');
  dropping = await startBacklogFullServer();
  if (dropping) servers.push(dropping);
  else if (process.env.CI) throw new Error('CI needs a full accept queue for the timeout target');
  else console.warn('known-lookup: no full accept queue on this machine, the timeout target is left out');
  dns = await startDnsServer({
    records: {
      'v4.known.test': { A: ['127.0.0.1'] },
      'dual.known.test': { A: ['127.0.0.1'], AAAA: haveIpv6 ? ['::1'] : [] },
    },
  });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await dns?.close();
});

function ruleSets(): Parameters<typeof runChecks>[0] {
  return [
    ruleSet([
      rule({ id: 'pass', host: 'v4.known.test', ports: [open.port], check: 'tcp' }),
      rule({ id: 'pinned', host: 'pinned.known.test', ports: [open.port, refusedPort], check: 'tcp' }),
      rule({ id: 'refused', host: 'v4.known.test', ports: [refusedPort], check: 'tcp' }),
      // IPv6 is refused (nothing listens on ::1 at that port), IPv4 passes.
      rule({ id: 'dual', host: 'dual.known.test', ports: [open.port], check: 'tcp' }),
      ...(dropping ? [rule({ id: 'dropped', host: 'v4.known.test', ports: [dropping.port], check: 'tcp' })] : []),
    ]),
  ];
}

/** What a result says, with the numbers of its message (ms waited) left out and its timing fields by name. */
function verdictOf(result: Result, stalledMs: number, timeoutMs: number): unknown {
  const verdict = networkVerdict(result, { timeoutMs, retries: 1, stalledMs });
  return {
    target: `${result.rule} ${result.host}:${result.port} ${result.family ?? ''}`,
    // A local_overload (a warning) is read as the verdict it says it would have had.
    status: verdict.overloaded ? 'fail' : result.status,
    code: verdict.code,
    message: verdict.message?.replace(/\d+/g, 'N'),
    address: result.address,
    addresses: result.addresses,
    attempts: verdict.overloadRetried ? result.attempts - 1 : result.attempts,
    timings: Object.keys(result.timings),
  };
}

/** One run of the rule sets; `shortcut` false takes ctx.resolved away, so that each attempt asks ctx.resolve. */
async function run(shortcut: boolean, options: { blockMs?: number } = {}): Promise<{ report: Report; handed: number; stalledMs: number }> {
  const original = tcpProbe.run;
  let handed = 0;
  const spy = vi.spyOn(tcpProbe, 'run').mockImplementation((target, ctx: ProbeContext) => {
    if (ctx.resolved) handed += 1;
    return original(target, shortcut ? ctx : { ...ctx, resolved: undefined });
  });
  const loop = watchLoop();
  const timeoutMs = 600;
  const settings = checkSettings({ timeoutMs, retries: 1, pins: [{ host: 'pinned.known.test', address: '127.0.0.1' }], dnsServer: { host: dns.host, port: dns.port } });
  const running = runChecks(ruleSets(), settings);
  if (options.blockMs) {
    // The loop stands still once the attempts are under way (stall.ts's witness sees it).
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + options.blockMs;
    while (performance.now() < until) {
      // standing still
    }
  }
  const report = await running.finally(() => {
    loop.stop();
    spy.mockRestore();
  });
  return { report, handed, stalledMs: loop.stalledMs() };
}

describe('an attempt handed the run’s lookup', () => {
  it.for([
    ['on a free loop', 0],
    ['on a loop that stood still for most of the timeout', 500],
  ] as const)('reads every target as one that asks its resolver, %s', async ([, blockMs]) => {
    const direct = await run(true, { blockMs });
    const asked = await run(false, { blockMs });
    // The shortcut was taken in the first run (every attempt but those of failed lookups), and in both the probes ran.
    expect(direct.handed).toBeGreaterThan(0);
    expect(direct.report.results.length).toBe(asked.report.results.length);
    const verdicts = (outcome: typeof direct): unknown[] => outcome.report.results.map((result) => verdictOf(result, outcome.stalledMs, 600));
    expect(verdicts(direct)).toEqual(verdicts(asked));
    const byRule = new Map(direct.report.results.map((result) => [`${result.rule}:${result.port}:${result.family}`, result]));
    // The verdicts are the ones these targets must have (not two runs equally wrong).
    expect(byRule.get(`pass:${open.port}:ipv4`)?.status).toBe('pass');
    expect(byRule.get(`pinned:${open.port}:ipv4`)?.status).toBe('pass');
    expect(byRule.get(`refused:${refusedPort}:ipv4`)).toMatchObject({ status: 'fail', attempts: 2, error: { code: 'tcp_refused' } });
    expect(byRule.get(`pinned:${refusedPort}:ipv4`)).toMatchObject({ status: 'fail', error: { code: 'tcp_refused' } });
    expect(byRule.get(`dual:${open.port}:ipv4`)?.status).toBe('pass');
    if (haveIpv6) expect(byRule.get(`dual:${open.port}:ipv6`)).toMatchObject({ address: '::1', error: { code: 'tcp_refused' } });
    if (dropping) {
      const dropped = byRule.get(`dropped:${dropping.port}:ipv4`)!;
      expect(networkVerdict(dropped, { timeoutMs: 600, retries: 1, stalledMs: direct.stalledMs }).code).toBe('tcp_timeout');
    }
    if (blockMs) expect(direct.stalledMs).toBeGreaterThanOrEqual(400);
  });
});
