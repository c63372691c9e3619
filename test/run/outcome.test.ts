import { describe, expect, it } from 'vitest';
import { applyFallbacks, resultOf, summarise, summariseRules } from '../../src/run/outcome.js';
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
