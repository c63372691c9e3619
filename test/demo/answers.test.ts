/**
 * The demo serves what the probe registry says each check is answered with (a kind's `answer`), so a new kind is
 * served by the demo through its own file. These run every registered network check against the demo's stand-in
 * servers on a clean network and expect each to pass: one host per check, and all of them on one host and port,
 * where the listener must tell them apart (by ALPN, then by what each answer speaks).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startDemoNetwork, type DemoNetwork } from '../../src/demo/servers.js';
import { checkNames, checkOf } from '../../src/probes/index.js';
import { expandTargets } from '../../src/rules/expand.js';
import type { Result, Rule, RuleSet } from '../../src/types.js';
import { runOnDemoNetwork } from '../helpers/demo-network.js';
import { rule, ruleSet } from '../helpers/literals.js';

/** Every check that talks to a host and port of the rule (write takes a url of its own and is left out). */
const networkChecks = checkNames.filter((name) => checkOf(name).urlTarget === undefined);

let running: DemoNetwork | undefined;
afterEach(async () => {
  await running?.servers.close();
  running = undefined;
});

async function runOnDemo(set: RuleSet): Promise<Result[]> {
  const targets = expandTargets(set, { vars: {} });
  running = await startDemoNetwork(targets, { clean: true });
  const report = await runOnDemoNetwork([set], running, { timeoutMs: 5000, concurrency: 8, vars: {} });
  return report.results;
}

const verdicts = (results: Result[]): string[] => results.map((r) => `${r.check} ${r.host}:${r.port} ${r.status} ${r.error?.message ?? ''}`.trim());

describe("the demo's stand-in servers answer as each probe kind says", () => {
  it('finds the checks to try, with the answering ones among them', () => {
    expect(networkChecks).toEqual(expect.arrayContaining(['tcp', 'tls', 'https', 'apns', 'mqtt']));
    expect(networkChecks.filter((name) => checkOf(name).answer !== undefined)).toEqual(expect.arrayContaining(['http', 'https', 'apns', 'mqtt']));
  });

  it('passes every registered check on a host of its own, and its plain-port counterpart beside it', async () => {
    const rules: Rule[] = networkChecks.map((name, i) =>
      rule({ id: name, host: `${name}.stand-in.example`, check: name, ports: [20443, 20080 + i], plainPorts: [20080 + i] }),
    );
    const results = await runOnDemo(ruleSet(rules));
    expect(results).toHaveLength(networkChecks.length * 2);
    expect(new Set(results.map((r) => r.check))).toEqual(new Set([...networkChecks, ...networkChecks.map((name) => checkOf(name).plain)]));
    expect(verdicts(results).filter((line) => !line.includes(' pass'))).toEqual([]);
  });

  it('passes every TLS check (and tcp) on one host and port: the listener picks the answer by ALPN, then by what it speaks', async () => {
    // A plain http check cannot share a port with TLS: that port is one or the other.
    const sharing = networkChecks.filter((name) => checkOf(name).speaks.tls || name === 'tcp');
    expect(sharing).toEqual(expect.arrayContaining(['https', 'apns', 'mqtt']));
    const rules = sharing.map((name) => rule({ id: name, host: 'shared.stand-in.example', check: name, ports: [20443] }));
    const results = await runOnDemo(ruleSet(rules));
    expect(results.map((r) => r.check)).toEqual(sharing);
    expect(verdicts(results).filter((line) => !line.includes(' pass'))).toEqual([]);
  });

});
