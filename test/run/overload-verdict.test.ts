/**
 * test/helpers/starved.ts judges the timeout tests on a busy machine: it must read a real local_overload, and fail a
 * starved verdict the loop's stalls do not bear out.
 */
import { describe, expect, it } from 'vitest';
import { overloadOf } from '../../src/run/run.js';
import { failure } from '../../src/probes/classify.js';
import type { Result } from '../../src/types.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import { rule, target } from '../helpers/literals.js';

const timedOut = failure('tcp_timeout', 'connect', 'timed out after 1000 ms');
// The local_overload run.ts makes of a probe that stood still 700 of the 1000 ms it waited.
const overload = overloadOf({ ok: false, addresses: [], pinned: true, timings: { totalMs: 1000 }, failure: timedOut }, 1000, 1000, 700)!;

function result(overrides: Partial<Result>): Result {
  const t = target(rule({ id: 'r', host: 'r.test', ports: [1], check: 'tcp' }));
  return { ruleset: t.ruleset, rule: 'r', documentedHost: t.host, host: t.host, port: t.port, addresses: [], check: 'tcp', status: 'fail', severity: 'critical', origin: 'documented', purpose: '', impact: '', timings: { totalMs: 1000 }, attempts: 1, ...overrides };
}

describe('networkVerdict', () => {
  it("reads the verdict a local_overload says it would have had, when the loop stood still that long", () => {
    expect(networkVerdict(result({ status: 'warn', attempts: 2, error: overload }), { timeoutMs: 1000, stalledMs: 800 })).toEqual({
      code: 'tcp_timeout',
      phase: 'connect',
      message: timedOut.message,
      overloaded: true,
      overloadRetried: true,
    });
  });

  it('fails a local_overload, or a try beyond --retries, that the stalls do not bear out, and a second extra try', () => {
    expect(() => networkVerdict(result({ status: 'warn', error: overload }), { timeoutMs: 1000, stalledMs: 100 })).toThrow();
    expect(() => networkVerdict(result({ attempts: 2, error: timedOut }), { timeoutMs: 1000, stalledMs: 0 })).toThrow();
    expect(() => networkVerdict(result({ attempts: 3, error: timedOut }), { timeoutMs: 1000, stalledMs: 5000 })).toThrow();
    expect(networkVerdict(result({ attempts: 2, error: timedOut }), { timeoutMs: 1000, retries: 1, stalledMs: 0 }).code).toBe('tcp_timeout');
  });

  it('judges a phase after a lookup that answered on the time from that answer too, and reads what it would have had', () => {
    // 1000 ms waited, 400 of them standing still: under half of them, but all but 1 ms of the 401 from the answer of a
    // lookup that answered in 600 ms (a 600 ms answer read 400 ms late, as test/run/dns-bound.test.ts makes).
    const outcome = { ok: false, addresses: [], pinned: false, timings: { dnsMs: 999, connectMs: 1, totalMs: 1000 }, failure: timedOut };
    expect(overloadOf(outcome, 1000, 1000, 400)).toBeUndefined();
    const late = overloadOf(outcome, 1000, 1000, 400, { lookupMs: 600, stalledMs: 400 });
    expect(late?.message).toContain('stood still for 400 of the 400 ms the probe waited past its DNS lookup, which answered in 600 ms (it would');
    expect(networkVerdict(result({ status: 'warn', attempts: 2, error: late }), { timeoutMs: 1000, stalledMs: 400, lookupMs: 600 })).toMatchObject({ code: 'tcp_timeout', overloaded: true });
    // Had the loop run on time from the answer, the connect's timeout would be the network's.
    expect(overloadOf(outcome, 1000, 1000, 0, { lookupMs: 999, stalledMs: 0 })).toBeUndefined();
    // So where the loop stood still early in a slow lookup, which then answered on time at 975 ms: that stall delayed
    // neither the answer nor the connect's 25 ms (a false local_overload on an idle machine once it counted).
    expect(overloadOf(outcome, 1000, 1000, 60, { lookupMs: 975, stalledMs: 0 })).toBeUndefined();
    // Nor where the lookup left less than 100 ms, which pushcheck's own work on the answer fills half of on an idle
    // machine: 30 of the 36 ms from an answer at 964 ms was seen so.
    expect(overloadOf(outcome, 1000, 1000, 30, { lookupMs: 964, stalledMs: 30 })).toBeUndefined();
    expect(overloadOf(outcome, 1000, 1000, 60, { lookupMs: 900, stalledMs: 60 })?.message).toContain('stood still for 60 of the 100 ms');
    // A whole attempt starved is judged so, lookup or not, and says so without the lookup.
    expect(overloadOf(outcome, 1000, 1000, 600, { lookupMs: 975, stalledMs: 0 })?.message).toContain('stood still for 600 of the 1000 ms the probe waited (it would');
  });

  it('keeps the stalls it saw once stopped (stall.ts counts none while no one watches)', async () => {
    const loop = watchLoop();
    busyFor(200);
    loop.stop();
    const seen = loop.stalledMs();
    expect(seen).toBeGreaterThanOrEqual(150);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(loop.stalledMs()).toBe(seen);
  });
});
