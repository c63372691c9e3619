/**
 * Literals for probe tests in plain JavaScript (types beside it, in probe-literals.d.mts), so that the TypeScript tests
 * (through probe-context.ts and literals.ts, with src/'s resolver) and tcp-dropped.mjs (plain Node in a network
 * namespace, with dist/'s) build them the same way: a complete Rule, a Target of it, a ProbeContext with a real
 * resolver (pins, or a test DNS server).
 */

/** A Rule with every field, `overrides` winning. */
export function rule(overrides = {}) {
  return {
    id: '1',
    host: 'example.test',
    probe: [],
    ports: [443],
    check: 'tls',
    plainPorts: [],
    purpose: 'HTTPS',
    impact: 'Things break',
    severity: 'critical',
    origin: 'documented',
    cidr: [],
    narrowCidr: [],
    vendorIssuers: [],
    line: 1,
    ...overrides,
  };
}

/** A Target of rule set "test" for `check` on host:port, its rule "test-rule" with `overrides`. */
export function testTarget(host, port, check, overrides = {}, url) {
  return {
    ruleset: 'test',
    rule: rule({ id: 'test-rule', host, ports: [port], check, ...overrides }),
    host,
    port,
    check,
    ...(url !== undefined && { url }),
  };
}

/** A ProbeContext whose resolver `createResolver` (src/'s or dist/'s probes/dns) makes from `options`. */
export function probeContextWith(createResolver, options = {}) {
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
