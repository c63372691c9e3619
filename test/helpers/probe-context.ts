/**
 * Literals for probe tests: a ProbeContext with a real resolver (pins, or a test DNS server) and a Target
 * with a complete Rule whose fields can be overridden.
 */
import { createResolver, type DnsServer, type Pin } from '../../src/probes/dns.js';
import type { ProbeContext } from '../../src/probes/types.js';
import type { CheckKind, Rule, Target } from '../../src/types.js';
import { rule as literalRule } from './literals.js';

export interface ContextOptions extends Partial<Omit<ProbeContext, 'resolve'>> {
  /** --resolve pins, e.g. `[{ host: 'push.test', address: '127.0.0.1' }]`. */
  pins?: Pin[];
  dnsServer?: DnsServer;
  /** Bound of the resolver itself; defaults to timeoutMs. */
  dnsTimeoutMs?: number;
}

export function probeContext(options: ContextOptions = {}): ProbeContext {
  const { pins = [], dnsServer, dnsTimeoutMs, ...rest } = options;
  const timeoutMs = rest.timeoutMs ?? 3000;
  return {
    timeoutMs,
    signal: rest.signal ?? new AbortController().signal,
    resolve: createResolver({ pins, timeoutMs: dnsTimeoutMs ?? timeoutMs, ...(dnsServer && { dnsServer }) }),
    ca: rest.ca ?? [],
    insecure: rest.insecure ?? false,
    now: rest.now ?? (() => new Date()),
    ...(rest.proxy && { proxy: rest.proxy }),
    // The scheduler's attempt window, so that a probe test can lend the budget the attempt's signal as run.ts does.
    ...(rest.startedAt !== undefined && { startedAt: rest.startedAt }),
    ...(rest.deadline !== undefined && { deadline: rest.deadline }),
  };
}

export function testTarget(host: string, port: number, check: CheckKind, rule: Partial<Rule> = {}, url?: string): Target {
  return {
    ruleset: 'test',
    rule: literalRule({ id: 'test-rule', host, ports: [port], check, ...rule }),
    host,
    port,
    check,
    ...(url !== undefined && { url }),
  };
}
