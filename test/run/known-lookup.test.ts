/**
 * The scheduler hands each attempt the run's lookup of its name once it has succeeded (ctx.resolved), so that
 * runProbe need not wait on a settled promise once a target. That shortcut must read every target as the probe's
 * own lookup through ctx.resolve does: the same targets, run once as they are and once with the shortcut taken away,
 * give the same verdicts (a pass, a pin, a refusal tried again, IPv4 and IPv6 of one name, a port a firewall drops
 * on both families, and a loop that stood still, read through stall.ts), addresses, attempts and timing fields.
 * The runs are made in network namespaces (test/faults/netns.ts): known-lookup-runs.mjs in the client namespace,
 * the servers and an nftables rule that drops SYNs in the server namespace.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report, Result } from '../../src/types.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { ipv6Available } from '../helpers/servers.js';
import { expectStoodStillForStarved, networkVerdict } from '../helpers/starved.js';
import { announceSkip, createDroppingNetwork, faultNetworkUnavailable, SERVER_ADDRESS, SERVER_ADDRESS6, type FaultNetwork } from '../faults/netns.js';

const execFileAsync = promisify(execFile);
const RUNS = fileURLToPath(new URL('./known-lookup-runs.mjs', import.meta.url));

const unavailable = await faultNetworkUnavailable();
announceSkip('known-lookup (runs in network namespaces)', unavailable);
const haveIpv6 = await ipv6Available();
if (!haveIpv6 && process.env.CI) throw new Error('CI needs IPv6 for the IPv6 targets');
if (!haveIpv6) console.warn('known-lookup: no IPv6 on this machine, the IPv6 targets are left out');

/** Ports on SERVER_ADDRESS: one a server listens on (IPv4 only), one nothing listens on, one the firewall drops. */
const OPEN = 7001;
const REFUSED = 7002;
const DROPPED = 7003;
const TIMEOUT_MS = 600;

let net: FaultNetwork | undefined;

beforeAll(async () => {
  if (unavailable) return;
  // A server stands behind the drop rule too: it is the firewall, not an empty port, that keeps the SYN unanswered.
  net = await createDroppingNetwork({ dropped: DROPPED, open: OPEN, ipv6: haveIpv6 });
}, 60_000);

afterAll(async () => {
  await net?.close();
});

const records = {
  'v4.known.test': { A: [SERVER_ADDRESS] },
  'dual.known.test': { A: [SERVER_ADDRESS], AAAA: haveIpv6 ? [SERVER_ADDRESS6] : [] },
};

const ruleSets = [
  ruleSet([
    rule({ id: 'pass', host: 'v4.known.test', ports: [OPEN], check: 'tcp' }),
    rule({ id: 'pinned', host: 'pinned.known.test', ports: [OPEN, REFUSED], check: 'tcp' }),
    rule({ id: 'refused', host: 'v4.known.test', ports: [REFUSED], check: 'tcp' }),
    // IPv6 is refused (the server listens on IPv4 only), IPv4 passes.
    rule({ id: 'dual', host: 'dual.known.test', ports: [OPEN], check: 'tcp' }),
    // The firewall drops the SYNs of both families.
    rule({ id: 'dropped', host: 'dual.known.test', ports: [DROPPED], check: 'tcp' }),
  ]),
];

/** What a result says, with the numbers of its message (ms waited) left out and its timing fields by name. */
function verdictOf(result: Result, stalledMs: number, timeoutMs: number): Record<string, unknown> & { attempts: number } {
  const verdict = networkVerdict(result, { timeoutMs, retries: 1, stalledMs });
  return {
    target: `${result.rule} ${result.host}:${result.port} ${result.family ?? ''}`,
    // A local_overload (a warning) is read as the verdict it says it would have had.
    status: verdict.overloaded ? 'fail' : result.status,
    code: verdict.code,
    // Without the lookup's share of a first attempt's time: under load the two runs may report different attempts (a
    // first one read local_overload, a retry), and on a free loop the lookup (a server in the same process) is too quick
    // for a message to mention it.
    message: verdict.message?.replace(/; the DNS lookup took \d+ ms of the \d+ ms timeout/, '').replace(/\d+/g, 'N'),
    address: result.address,
    addresses: result.addresses,
    attempts: verdict.overloadRetried ? result.attempts - 1 : result.attempts,
    timings: Object.keys(result.timings),
  };
}

interface Run {
  report: Report;
  /** Attempts handed the run's lookup (ctx.resolved). */
  handed: number;
  /** How long the loop stood still over the run. */
  stalledMs: number;
}

/** The rule sets run twice in the client namespace: as they are (`direct`), and with ctx.resolved taken away (`asked`). */
async function runBoth(blockMs: number): Promise<{ direct: Run; asked: Run }> {
  const input = JSON.stringify({ ruleSets, records, blockMs, settings: { timeoutMs: TIMEOUT_MS, retries: 1, pins: [{ host: 'pinned.known.test', address: SERVER_ADDRESS }] } });
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', net!.client, process.execPath, RUNS, input], { timeout: 60_000 });
  return JSON.parse(stdout) as { direct: Run; asked: Run };
}

describe.skipIf(unavailable !== undefined)('an attempt handed the run’s lookup', () => {
  it.for([
    ['on a free loop', 0],
    ['on a loop that stood still for most of the timeout', 500],
  ] as const)('reads every target as one that asks its resolver, %s', { timeout: 60_000 }, async ([, blockMs]) => {
    const { direct, asked } = await runBoth(blockMs);
    // The shortcut was taken in the first run (every attempt but those of failed lookups), and in both the probes ran.
    expect(direct.handed).toBeGreaterThan(0);
    expect(direct.report.results.length).toBe(asked.report.results.length);
    const verdicts = (outcome: Run) => outcome.report.results.map((result) => verdictOf(result, outcome.stalledMs, TIMEOUT_MS));
    const [fromDirect, fromAsked] = [verdicts(direct), verdicts(asked)];
    expect(fromDirect.map(({ attempts, ...verdict }) => verdict)).toEqual(fromAsked.map(({ attempts, ...verdict }) => verdict));
    // The same tries, but for the overload retry of a starved attempt, which networkVerdict tells apart only past
    // --retries: a target that passed on it (its lookup starved, say) shows 2 tries, as a --retries retry would. One
    // try more is allowed only where that run's loop stood still long enough to starve an attempt.
    fromDirect.forEach((verdict, i) => {
      const other = fromAsked[i]!;
      if (verdict.attempts === other.attempts) return;
      expect(Math.abs(verdict.attempts - other.attempts), `${String(verdict.target)}: tries`).toBe(1);
      const more = verdict.attempts > other.attempts ? direct : asked;
      expectStoodStillForStarved(`${String(verdict.target)}, one try more`, { timeoutMs: TIMEOUT_MS, stalledMs: more.stalledMs });
    });
    const byRule = new Map(direct.report.results.map((result) => [`${result.rule}:${result.port}:${result.family}`, result]));
    const networkSaid = (result: Result | undefined) => networkVerdict(result!, { timeoutMs: TIMEOUT_MS, retries: 1, stalledMs: direct.stalledMs });
    // The verdicts are the ones these targets must have (not two runs equally wrong).
    expect(byRule.get(`pass:${OPEN}:ipv4`)?.status).toBe('pass');
    expect(byRule.get(`pinned:${OPEN}:ipv4`)?.status).toBe('pass');
    // Refused, and tried once more (--retries 1): two attempts, or three where the first was starved and tried again
    // for the overload (run.ts), which networkVerdict allows only where the loop stood still that long.
    const refused = byRule.get(`refused:${REFUSED}:ipv4`);
    expect(refused).toMatchObject({ status: 'fail', error: { code: 'tcp_refused' } });
    expect(refused?.attempts).toBe(networkSaid(refused).overloadRetried ? 3 : 2);
    expect(byRule.get(`pinned:${REFUSED}:ipv4`)).toMatchObject({ status: 'fail', error: { code: 'tcp_refused' } });
    expect(byRule.get(`dual:${OPEN}:ipv4`)?.status).toBe('pass');
    if (haveIpv6) expect(byRule.get(`dual:${OPEN}:ipv6`)).toMatchObject({ address: SERVER_ADDRESS6, error: { code: 'tcp_refused' } });
    for (const family of haveIpv6 ? ['ipv4', 'ipv6'] : ['ipv4']) {
      const dropped = byRule.get(`dropped:${DROPPED}:${family}`);
      expect(dropped?.address).toBe(family === 'ipv4' ? SERVER_ADDRESS : SERVER_ADDRESS6);
      expect(networkSaid(dropped).code).toBe('tcp_timeout');
    }
    if (blockMs) expect(direct.stalledMs).toBeGreaterThanOrEqual(400);
  });
});
