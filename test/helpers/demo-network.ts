/** Runs rule sets against a demo network started in the test, as `pushcheck demo` runs them: its DNS server, pins and CA. */
import type { DemoNetwork } from '../../src/demo/servers.js';
import { parseDnsServer, parsePin } from '../../src/probes/dns.js';
import { runChecks } from '../../src/run/run.js';
import type { Report, RuleSet } from '../../src/types.js';

export function runOnDemoNetwork(
  ruleSets: RuleSet[],
  { plan, servers }: Pick<DemoNetwork, 'plan' | 'servers'>,
  options: { timeoutMs: number; concurrency: number; vars: Record<string, string> },
): Promise<Report> {
  const { timeoutMs, concurrency, vars } = options;
  return runChecks(ruleSets, {
    timeoutMs,
    concurrency,
    retries: 0,
    strict: false,
    insecure: false,
    dnsServer: parseDnsServer(servers.dns.address),
    pins: plan.pins.map(parsePin),
    caPems: [servers.caPem],
    vars,
    recorded: { timeoutMs, concurrency, retries: 0, resolve: [], caFiles: [], vars: [], strict: false, insecure: false },
  });
}
