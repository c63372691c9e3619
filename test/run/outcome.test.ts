import { describe, expect, it } from 'vitest';
import { applyFallbacks, applyFamilyFallbacks, isoString, resultOf, summarise, summariseRules } from '../../src/run/outcome.js';
import { overloadOf } from '../../src/run/run.js';
import { verdictOf } from '../../src/verdict.js';
import { failed, passed, rule, ruleSet, target } from '../helpers/literals.js';

describe('resultOf', () => {
  it('passes a target whose probe passed', () => {
    const r = rule();
    expect(resultOf({ target: target(r), outcome: passed(), attempts: 1 }).status).toBe('pass');
  });

  it('fails a critical target and warns a warning one', () => {
    expect(resultOf({ target: target(rule()), outcome: failed(), attempts: 1 }).status).toBe('fail');
    const warning = rule({ severity: 'warning' });
    const result = resultOf({ target: target(warning), outcome: failed(), attempts: 1 });
    expect(result.status).toBe('warn');
    expect(result.error?.code).toBe('tcp_timeout');
  });

  it('turns a failure on a retired port into a legacy warning naming the date, keeping the rest critical', () => {
    const r = rule({ ports: [443, 2195], legacy: { ports: [2195], retired: '2021-03-31', note: 'binary API retired' } });
    const legacy = resultOf({ target: target(r, { port: 2195 }), outcome: failed('tcp_refused'), attempts: 1 });
    expect(legacy.status).toBe('warn');
    expect(legacy.legacy?.retired).toBe('2021-03-31');
    expect(legacy.note).toContain('2021-03-31');
    expect(legacy.error?.code).toBe('tcp_refused');
    const current = resultOf({ target: target(r, { port: 443 }), outcome: failed(), attempts: 1 });
    expect(current.status).toBe('fail');
  });

  it('skips targets with a skip reason, saying why', () => {
    const r = rule({ url: '${messageUrl}' });
    const result = resultOf({ target: target(r, { skipReason: 'set --var messageUrl=…' }), attempts: 0 });
    expect(result.status).toBe('skip');
    expect(result.note).toBe('set --var messageUrl=…');
  });

  it('flags DNS answers outside the rule CIDR, but not pinned addresses', () => {
    const r = rule({ cidr: ['17.0.0.0/8'] });
    const outside = resultOf({ target: target(r), outcome: passed(['192.0.2.7']), attempts: 1 });
    expect(outside.status).toBe('warn');
    expect(outside.error?.code).toBe('dns_outside_cidr');
    expect(outside.error?.message).toContain('192.0.2.7');
    const pinned = resultOf({ target: target(r), outcome: passed(['127.0.0.1'], true), attempts: 1 });
    expect(pinned.status).toBe('pass');
  });
});

describe('applyFallbacks', () => {
  const main = rule({ id: 'courier', host: '#-courier.push.apple.com', ports: [5223], fallback: { rule: 'courier-443', ports: [], for: [5223], note: 'Wi-Fi falls back to 443' } });
  const fallbackRule = rule({ id: 'courier-443', host: '#-courier.push.apple.com', ports: [443], severity: 'warning' });
  const set = ruleSet([main, fallbackRule]);

  it('turns a failed main port into a warning when the fallback passes on the same host', () => {
    const results = applyFallbacks(
      [
        resultOf({ target: target(main, { host: '1-courier.push.apple.com', port: 5223 }), outcome: failed(), attempts: 1 }),
        resultOf({ target: target(fallbackRule, { host: '1-courier.push.apple.com', port: 443 }), outcome: passed(), attempts: 1 }),
      ],
      [set],
    );
    expect(results[0]!.status).toBe('warn');
    expect(results[0]!.fallback).toMatchObject({ rule: 'courier-443', port: 443 });
    expect(results[0]!.note).toContain('Wi-Fi falls back to 443');
  });

  it('keeps the failure when the fallback fails too', () => {
    const results = applyFallbacks(
      [
        resultOf({ target: target(main, { port: 5223 }), outcome: failed(), attempts: 1 }),
        resultOf({ target: target(fallbackRule, { port: 443 }), outcome: failed(), attempts: 1 }),
      ],
      [set],
    );
    expect(results.map((r) => r.status)).toEqual(['fail', 'warn']);
  });

  it('makes a warning, not a failure, of a failed main port whose only fallback this machine was too busy to judge (local_overload)', () => {
    const starved = failed();
    starved.failure = overloadOf(starved, 5000, 5000, 4800)!;
    const overloaded = resultOf({ target: target(fallbackRule, { port: 443 }), outcome: starved, attempts: 2 });
    expect(overloaded).toMatchObject({ status: 'warn', error: { code: 'local_overload' } });
    const blocked = resultOf({ target: target(main, { port: 5223 }), outcome: failed('tcp_refused'), attempts: 1 });
    expect(blocked.status).toBe('fail');
    const results = applyFallbacks([blocked, overloaded], [set]);
    expect(results[0]).toMatchObject({ status: 'warn', error: { code: 'tcp_refused' } });
    expect(results[0]!.fallback).toBeUndefined();
    expect(results[0]!.note).toBe(`fallback not judged: ${overloaded.host}:443 read local_overload (this machine was too busy to judge it). Wi-Fi falls back to 443`);
    // As data, for the findings (ports_blocked) to word it: the target that could not be judged, and the rule's note.
    expect(results[0]!.unjudgedFallback).toEqual({ rule: 'courier-443', host: overloaded.host, port: 443, note: 'Wi-Fi falls back to 443' });
    // One that passed still carries it, and then nothing is unjudged.
    const carried = applyFallbacks([blocked, overloaded, resultOf({ target: target(fallbackRule, { port: 443 }), outcome: passed(), attempts: 1 })], [set]);
    expect(carried[0]).toMatchObject({ status: 'warn', fallback: { rule: 'courier-443', port: 443 } });
    expect(Object.keys(carried[0]!)).not.toContain('unjudgedFallback');
    // A fallback that failed outright carries nothing and is judged: the failure stays as it was, without the field.
    const judged = applyFallbacks([blocked, resultOf({ target: target(fallbackRule, { port: 443 }), outcome: failed(), attempts: 1 })], [set]);
    expect(judged[0]).toBe(blocked);
  });
});

describe('summaries and verdict', () => {
  it('counts statuses and fails only on critical failures unless strict', () => {
    const r = rule();
    const w = rule({ id: '2', severity: 'warning' });
    const results = [
      resultOf({ target: target(r), outcome: passed(), attempts: 1 }),
      resultOf({ target: target(w), outcome: failed(), attempts: 1 }),
    ];
    expect(summarise(results)).toEqual({ total: 2, passed: 1, failed: 0, warned: 1, skipped: 0 });
    expect(verdictOf(results, false)).toBe('pass');
    expect(verdictOf(results, true)).toBe('fail');
  });

  it('never fails a run for a retired port, even with --strict', () => {
    const r = rule({ ports: [2195], legacy: { ports: [2195], retired: '2021-03-31', note: 'retired' } });
    const results = [resultOf({ target: target(r, { port: 2195 }), outcome: failed(), attempts: 1 })];
    expect(verdictOf(results, true)).toBe('pass');
  });

  it('gives the CIDR verdict per rule from the DNS answers', () => {
    const r = rule({ cidr: ['17.0.0.0/8'] });
    const set = ruleSet([r]);
    const inside = summariseRules([set], [{ target: target(r), outcome: passed(['17.1.1.1', '17.2.2.2']), attempts: 1 }]);
    expect(inside[0]!.cidr).toMatchObject({ verdict: 'inside', outside: [] });
    const outside = summariseRules([set], [{ target: target(r), outcome: passed(['17.1.1.1', '10.9.9.9']), attempts: 1 }]);
    expect(outside[0]!.cidr).toMatchObject({ verdict: 'outside', outside: ['10.9.9.9'] });
    expect(outside[0]!.cidr!.message).toContain('DNS filter');
    const pinned = summariseRules([set], [{ target: target(r), outcome: passed(['127.0.0.1'], true), attempts: 1 }]);
    expect(pinned[0]!.cidr).toMatchObject({ verdict: 'unknown', pinned: ['127.0.0.1'] });
    const proxied = summariseRules([set], [{ target: target(r), outcome: passed([]), attempts: 1 }], { proxied: true });
    expect(proxied[0]!.cidr).toMatchObject({ verdict: 'unknown', outside: [], pinned: [] });
    expect(proxied[0]!.cidr!.message).toBe('the proxy (--proxy) resolved the names, so 17.0.0.0/8 could not be checked');
  });
});

describe('results and summaries built in one pass', () => {
  /** The order of a result's fields in a report (schemas/report.schema.json); a result has some of them. */
  const FIELD_ORDER = [
    'ruleset', 'rule', 'documentedHost', 'host', 'port', 'family', 'via', 'resolvedByProxy', 'address', 'addresses', 'check',
    'status', 'severity', 'origin', 'purpose', 'impact', 'timings', 'attempts', 'tls', 'http', 'hold', 'error', 'note', 'legacy',
  ];

  it('lists a result’s fields in report order whatever its shape (the common shape is one literal, the others are assigned)', () => {
    const r = rule({ ports: [443, 2195], legacy: { ports: [2195], retired: '2021-03-31', note: 'binary API retired' } });
    const tls = { protocol: 'TLSv1.3', cipher: 'X', subject: 'CN=a', issuer: 'CN=b', validTo: '2030-01-01T00:00:00.000Z', daysLeft: 900, altNames: [], trusted: true };
    const hold = { result: { requestedMs: 1, idleMs: 1, end: 'answered' as const, proof: 'ping', detail: 'answered' } };
    const shapes: Array<{ name: string; keys: string[] }> = [];
    for (const family of [undefined, 'ipv4', 'ipv6'] as const) {
      for (const via of [undefined, 'direct', 'http://proxy.test:3128']) {
        for (const resolvedByProxy of [false, true]) {
          for (const address of [undefined, '17.1.2.3']) {
            for (const ok of [true, false]) {
              for (const port of [443, 2195]) {
                const outcome = { ...(ok ? passed() : failed()), ...(port === 443 && { tls, http: { status: 200 } }) };
                if (address === undefined) delete outcome.address;
                const result = resultOf({
                  target: target(r, { port, ...(family && { family }) }),
                  outcome,
                  attempts: 1,
                  ...(via !== undefined && { via }),
                  ...(resolvedByProxy && { resolvedByProxy }),
                  ...(ok && port === 443 && { hold }),
                });
                shapes.push({ name: `${family} ${via} ${resolvedByProxy} ${address} ${ok} ${port}`, keys: Object.keys(result) });
              }
            }
          }
        }
      }
    }
    const notProbed = resultOf({ target: target(r, { family: 'ipv4' }), attempts: 0, via: 'direct' });
    shapes.push({ name: 'not probed', keys: Object.keys(notProbed) });
    for (const { name, keys } of shapes) expect(keys, name).toEqual(FIELD_ORDER.filter((key) => keys.includes(key)));
    // The common shape (a target probed directly at an address of its family) has every field it should.
    const common = resultOf({ target: target(rule(), { family: 'ipv4' }), outcome: passed(), attempts: 2, via: 'direct' });
    expect(common).toEqual({
      ruleset: 'set', rule: '1', documentedHost: 'example.test', host: 'example.test', port: 443, family: 'ipv4', via: 'direct',
      address: '17.1.2.3', addresses: ['17.1.2.3'], check: 'tls', status: 'pass', severity: 'critical', origin: 'documented',
      purpose: 'HTTPS', impact: 'Things break', timings: { totalMs: 12 }, attempts: 2,
    });
    // Through a proxy that resolved the name, no family, no address: the assigned shape, and no via without an outcome.
    expect(Object.keys(resultOf({ target: target(rule()), outcome: passed([]), attempts: 1, via: 'http://p.test:1', resolvedByProxy: true }))).toContain('resolvedByProxy');
    expect(Object.keys(notProbed)).not.toContain('via');
  });

  it('summarises rules whose targets come interleaved, hosts and addresses in the order first seen', () => {
    const a = rule({ id: 'a', cidr: ['17.0.0.0/8'] });
    const b = rule({ id: 'b' });
    const other = { ...ruleSet([rule({ id: 'a' })]), id: 'other' };
    const set = ruleSet([a, b]);
    const probed = [
      { target: target(a, { host: 'a1.test' }), outcome: passed(['17.1.1.1', '10.0.0.1']), attempts: 1 },
      { target: target(b, { host: 'b1.test' }), outcome: passed(['17.5.5.5']), attempts: 1 },
      { target: target(a, { host: 'a2.test' }), outcome: passed(['127.0.0.1'], true), attempts: 1 },
      { target: target(a, { host: 'a1.test' }), outcome: passed(['17.2.2.2', '17.1.1.1']), attempts: 1 },
      { target: target(a, { host: 'a3.test', skipReason: 'interrupted' }), attempts: 0 },
      { target: { ...target(rule({ id: 'a' }), { host: 'o.test' }), ruleset: 'other' }, outcome: passed(['17.9.9.9']), attempts: 1 },
    ];
    const [ruleA, ruleB, otherA] = summariseRules([set, other], probed);
    expect(ruleA).toMatchObject({ ruleset: 'set', rule: 'a', hosts: ['a1.test', 'a2.test', 'a3.test'], addresses: ['17.1.1.1', '10.0.0.1', '127.0.0.1', '17.2.2.2'] });
    expect(ruleA!.cidr).toMatchObject({ verdict: 'outside', outside: ['10.0.0.1'], pinned: ['127.0.0.1'] });
    expect(ruleB).toMatchObject({ rule: 'b', hosts: ['b1.test'], addresses: ['17.5.5.5'] });
    expect(ruleB!.cidr).toBeUndefined();
    expect(otherA).toMatchObject({ ruleset: 'other', rule: 'a', hosts: ['o.test'], addresses: ['17.9.9.9'] });
    // A rule none of whose targets was probed still has its summary.
    expect(summariseRules([set], [])).toEqual([
      expect.objectContaining({ rule: 'a', hosts: [], addresses: [] }),
      expect.objectContaining({ rule: 'b', hosts: [], addresses: [] }),
    ]);
  });

  it('leaves a run without failures as it is, and still carries a failure when one is there', () => {
    const main = rule({ id: 'main', ports: [5223], fallback: { rule: 'web', ports: [], for: [], note: 'Wi-Fi uses 443' } });
    const web = rule({ id: 'web', ports: [443] });
    const set = ruleSet([main, web]);
    const healthy = [resultOf({ target: target(main, { family: 'ipv6' }), outcome: passed(), attempts: 1 }), resultOf({ target: target(web), outcome: passed(), attempts: 1 })];
    expect(applyFallbacks(healthy, [set])).toBe(healthy);
    expect(applyFamilyFallbacks(healthy)).toBe(healthy);
    const v6 = resultOf({ target: target(web, { family: 'ipv6' }), outcome: failed(), attempts: 1 });
    const v4 = resultOf({ target: target(web, { family: 'ipv4' }), outcome: passed(), attempts: 1 });
    const families = applyFamilyFallbacks([v6, v4]);
    expect(families[0]).toMatchObject({ status: 'warn', familyFallback: { family: 'ipv4' } });
    expect(v6.status).toBe('fail');
    const blocked = resultOf({ target: target(main), outcome: failed(), attempts: 1 });
    const carried = applyFallbacks([blocked, resultOf({ target: target(web), outcome: passed(), attempts: 1 })], [set]);
    expect(carried[0]).toMatchObject({ status: 'warn', fallback: { rule: 'web', port: 443 } });
  });
});

describe('isoString', () => {
  it('writes what toISOString writes, at the edges of every field and outside the years it writes itself', () => {
    const times = [
      0, 1, 9, 10, 99, 100, 999, Date.UTC(2026, 10, 26, 20, 55, 7, 42), Date.UTC(2026, 0, 1), Date.UTC(1999, 11, 31, 23, 59, 59, 999),
      Date.UTC(0, 0, 1) - 1, Date.UTC(0, 0, 1), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), -8.64e15, 8.64e15,
    ];
    // Date.UTC reads 0-99 as 1900-1999: years 0-99 set by setUTCFullYear.
    for (const year of [0, 5, 99, 999, 1000]) times.push(new Date(0).setUTCFullYear(year, 1, 29));
    for (let i = 0; i < 2000; i += 1) times.push(Math.floor((Math.random() - 0.5) * 2 * 4e14));
    for (const time of times) expect(isoString(new Date(time))).toBe(new Date(time).toISOString());
  });

  it('throws for an invalid date as toISOString does', () => {
    expect(() => isoString(new Date(NaN))).toThrow(RangeError);
  });
});
