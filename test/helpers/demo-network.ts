/** Runs rule sets against a demo network started in the test, as `pushcheck demo` runs them: its DNS server, pins and CA. */
import type { DemoNetwork } from '../../src/demo/servers.js';
import { parseDnsServer, parsePin } from '../../src/probes/dns.js';
import { runChecks } from '../../src/run/run.js';
import { checkSettings } from '../../src/run/settings.js';
import type { Report, RuleSet } from '../../src/types.js';

export function runOnDemoNetwork(
  ruleSets: RuleSet[],
  { plan, servers }: Pick<DemoNetwork, 'plan' | 'servers'>,
  options: { timeoutMs: number; concurrency: number; vars: Record<string, string> },
): Promise<Report> {
  return runChecks(
    ruleSets,
    checkSettings({ ...options, dnsServer: parseDnsServer(servers.dns.address), pins: plan.pins.map(parsePin), caPems: [servers.caPem] }),
  );
}
