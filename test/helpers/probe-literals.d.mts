import type { createResolver, DnsServer, Pin } from '../../src/probes/dns.js';
import type { ProbeContext } from '../../src/probes/types.js';
import type { CheckKind, Rule, Target } from '../../src/types.js';

export interface ContextOptions extends Partial<Omit<ProbeContext, 'resolve'>> {
  /** --resolve pins, e.g. `[{ host: 'push.test', address: '127.0.0.1' }]`. */
  pins?: Pin[];
  dnsServer?: DnsServer;
  /** Bound of the resolver itself; defaults to timeoutMs. */
  dnsTimeoutMs?: number;
}

/** A Rule with every field, `overrides` winning. */
export function rule(overrides?: Partial<Rule>): Rule;
/** A Target of rule set "test" for `check` on host:port, its rule "test-rule" with `overrides`. */
export function testTarget(host: string, port: number, check: CheckKind, overrides?: Partial<Rule>, url?: string): Target;
/** A ProbeContext whose resolver `makeResolver` (src/'s or dist/'s probes/dns) makes from `options`. */
export function probeContextWith(makeResolver: typeof createResolver, options?: ContextOptions): ProbeContext;
