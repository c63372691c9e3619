/** Small builders for the plain data types, so verdict logic can be tested without a network. */
import type { CheckSettings } from '../../src/run/run.js';
import { checkSettings as librarySettings } from '../../src/run/settings.js';
import type { ProbeOutcome, Rule, RuleSet, Target } from '../../src/types.js';

/** A Rule with every field (probe-literals.mjs, which tcp-dropped.mjs shares). */
export { rule } from './probe-literals.mjs';

export function ruleSet(rules: Rule[], overrides: Partial<RuleSet> = {}): RuleSet {
  return { id: 'set', title: 'A set', aliases: [], notes: [], rules, file: 'set.yaml', builtin: false, ...overrides };
}

export function target(r: Rule, overrides: Partial<Target> = {}): Target {
  return { ruleset: 'set', rule: r, host: r.probe[0] ?? r.host, port: r.ports[0] ?? 443, check: r.check, ...overrides };
}

export function passed(addresses = ['17.1.2.3'], pinned = false): ProbeOutcome {
  return { ok: true, address: addresses[0], addresses, pinned, timings: { totalMs: 12 } };
}

export function failed(code: 'tcp_timeout' | 'tcp_refused' = 'tcp_timeout', addresses = ['17.1.2.3']): ProbeOutcome {
  return {
    ok: false,
    address: addresses[0],
    addresses,
    pinned: false,
    timings: { totalMs: 5000 },
    failure: { code, phase: 'connect', message: 'no answer', hint: 'open the port' },
  };
}

/** Run settings for in-process runs: the library's, with a 3 s timeout and 8 probes at once; `overrides` win. */
export function checkSettings(overrides: Partial<CheckSettings> = {}): CheckSettings {
  return librarySettings({ timeoutMs: 3000, concurrency: 8, ...overrides });
}
