/**
 * Bounded time: under any mix of faults, a run of T targets with timeout t, concurrency c and r retries ends within
 * t × ⌈T/c⌉ × (r + 1) + 1 s. Asserted on the slowest faults there are (everything times out): ports behind an
 * nftables drop, servers that accept and never answer, and names whose DNS server drops the query, in the network
 * namespaces of netns.ts.
 *
 * The report's own durationMs is held to the bound; the child's wall time to the bound plus netns.ts's startupAllowanceMs
 * (ip netns exec, Node's start-up and loading pushcheck, which the bound does not count) and the time the child waited
 * for a CPU. A starved child is allowed for only as far as its loop witness (test/helpers/witness.ts) saw it stand still.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailureCode, Report } from '../../src/types.js';
import { writeRuleFile, type RuleSpec } from '../helpers/rule-file.js';
import { networkVerdict } from '../helpers/starved.js';
import { describeWitness, expectWithinTimeout, witnessOf, type LoopWitness } from '../helpers/witness.js';
import { announceSkip, boundMs, createFaultNetwork, expectWallWithin, faultNetworkUnavailable, reportBoundMs, SERVER_ADDRESS, type FaultNetwork } from './netns.js';

const TIMEOUT_MS = 1000;

const unavailable = await faultNetworkUnavailable();
announceSkip('bounded-time test', unavailable);

let dir: string;
let net: FaultNetwork | undefined;

/** A rule file with `filtered` tcp ports behind a drop, `silent` tls ports on a mute server, `quiet` names. */
function mixFile(name: string, counts: { filtered: number; silent: number; quiet: number }): string {
  const rules: RuleSpec[] = [
    { id: 'filtered', host: 'filtered.push.test', ports: [`7100-${7100 + counts.filtered - 1}`], check: 'tcp' },
    { id: 'silent', host: 'silent.push.test', ports: [`7200-${7200 + counts.silent - 1}`], check: 'tls' },
  ];
  if (counts.quiet > 0) {
    const probe = Array.from({ length: counts.quiet }, (_, i) => `q${i}.quiet.test`);
    rules.push({ id: 'quiet', host: '*.quiet.test', probe, ports: [7300], check: 'tcp' });
  }
  return writeRuleFile(path.join(dir, name), 'bounded', 'Bounded time', rules);
}

const EXPECTED: Record<string, FailureCode> = { filtered: 'tcp_timeout', silent: 'tls_handshake_failed', quiet: 'dns_timeout' };

async function runMix(
  file: string,
  options: { targets: number; concurrency: number; retries: number },
): Promise<{ report: Report; wallMs: number; bound: number; witness: LoopWitness }> {
  const { targets, concurrency, retries } = options;
  const run = await net!.pushcheck(
    [
      file,
      '--format', 'json',
      '--timeout', String(TIMEOUT_MS),
      '--concurrency', String(concurrency),
      '--retries', String(retries),
      '--resolve', `*.push.test=${SERVER_ADDRESS}`,
      '--dns-server', `${SERVER_ADDRESS}:53`,
    ],
    { killAfterMs: 60_000, witness: true },
  );
  expect(run.signal, 'pushcheck was killed').toBeNull();
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as Report;
  expect(run.code).toBe(1);
  expect(report.results).toHaveLength(targets);
  const witness = witnessOf(run);
  for (const result of report.results) {
    // A target a busy machine starved is tried once more, or reads local_overload, a warning naming this verdict,
    // where the witness saw the child's loop stand still that long.
    const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, retries, stalledMs: witness.totalStallMs });
    expect(result.status).toBe(verdict.overloaded ? 'warn' : 'fail');
    expect(verdict.code).toBe(EXPECTED[result.rule]);
    // Every try --retries allows was made (networkVerdict allows one more, the overload retry, and no other).
    if (!verdict.overloaded) expect(result.attempts).toBeGreaterThanOrEqual(retries + 1);
    expectWithinTimeout(result, TIMEOUT_MS, witness);
  }
  // The bound that counts the overload retry where the report shows a starved target (docs/timeouts.md).
  const bound = reportBoundMs(report, TIMEOUT_MS, concurrency, retries);
  return { report, wallMs: run.durationMs, bound, witness };
}

beforeAll(async () => {
  if (unavailable) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-bounded-'));
  net = await createFaultNetwork();
  await net.firewall(['tcp dport 7100-7199 drop', 'udp dport 53 drop', 'tcp dport 53 drop']);
  await net.startServer('silent', '7200-7299');
});

afterAll(async () => {
  try {
    await net?.close();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe.skipIf(unavailable !== undefined)('bounded time (network namespaces)', () => {
  it('50 filtered, silent and DNS-silent targets, --timeout 1000 --concurrency 10: within 1000 × 5 × 1 + 1000 ms', async () => {
    const file = mixFile('fifty.yaml', { filtered: 20, silent: 20, quiet: 10 });
    const { report, wallMs, bound, witness } = await runMix(file, { targets: 50, concurrency: 10, retries: 0 });
    expect(boundMs(TIMEOUT_MS, 50, 10, 0)).toBe(6000); // the bound, with no target starved (else reportBoundMs's wider one)
    console.log(`bounded time: 50 targets, bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}`);
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, net!.client, witness);
    // Every target waited out its timeout ten at a time: five rounds. Far less would mean they did not really wait.
    expect(report.durationMs).toBeGreaterThanOrEqual(5 * TIMEOUT_MS * 0.95);
  });

  it('with --retries 1 the bound doubles, and is kept: 20 targets, concurrency 10, within 1000 × 2 × 2 + 1000 ms', async () => {
    const file = mixFile('retries.yaml', { filtered: 10, silent: 10, quiet: 0 });
    const { report, wallMs, bound, witness } = await runMix(file, { targets: 20, concurrency: 10, retries: 1 });
    expect(boundMs(TIMEOUT_MS, 20, 10, 1)).toBe(5000);
    console.log(`bounded time: 20 targets × 2 attempts, bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}`);
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, net!.client, witness);
    expect(report.durationMs).toBeGreaterThanOrEqual(4 * TIMEOUT_MS * 0.95);
  });
});
