/**
 * Each cause from results written as literals (no network): the evidence that makes it, the near misses that must
 * not, and the precedence that lets a result be explained once.
 */
import { describe, expect, it } from 'vitest';
import { findingsOf } from '../../src/findings/index.js';
import { failure } from '../../src/probes/classify.js';
import type { FailureCode, FailurePhase, Finding, FindingCause, HoldResult, Result, TlsInfo } from '../../src/types.js';
import { result } from '../report/fixture.js';

const PHASE: Record<string, FailurePhase> = { dns: 'dns', tcp: 'connect', tls: 'tls', htt: 'http', pro: 'connect', idl: 'hold' };

function pass(host: string, port: number, extra: Partial<Result> = {}): Result {
  return result({ host, documentedHost: host, port, address: '17.57.146.20', addresses: ['17.57.146.20'], ...extra });
}

function fail(host: string, port: number, code: FailureCode, extra: Partial<Result> = {}): Result {
  const dns = code.startsWith('dns_') && code !== 'dns_outside_cidr';
  return result({
    host,
    documentedHost: host,
    port,
    status: 'fail',
    error: failure(code, PHASE[code.slice(0, 3)]!, extra.error?.message),
    ...(dns ? { address: undefined, addresses: [] } : { address: '17.57.146.20', addresses: ['17.57.146.20'] }),
    ...extra,
  });
}

function tls(issuer: string, daysLeft = 100): TlsInfo {
  return {
    protocol: 'TLSv1.3',
    cipher: 'TLS_AES_128_GCM_SHA256',
    subject: 'api.push.apple.com',
    issuer,
    validTo: new Date(Date.parse('2026-11-25T00:00:00Z') + daysLeft * 86_400_000).toISOString(),
    daysLeft,
    altNames: [],
    trusted: false,
  };
}

function causes(findings: Finding[]): FindingCause[] {
  return findings.map((f) => f.cause);
}

function only(findings: Finding[], cause: FindingCause): Finding {
  const found = findings.filter((f) => f.cause === cause);
  expect(found, `findings: ${JSON.stringify(findings, null, 2)}`).toHaveLength(1);
  return found[0]!;
}

describe('findingsOf: a healthy run', () => {
  it('has no findings when nothing failed or warned', () => {
    const results = [pass('api.push.apple.com', 443), pass('1-courier.push.apple.com', 5223), pass('mtalk.google.com', 5228)];
    expect(findingsOf(results)).toEqual([]);
    expect(findingsOf([])).toEqual([]);
  });

  it('has none for skipped targets either', () => {
    expect(findingsOf([result({ status: 'skip', note: 'no --var messageUrl given' })])).toEqual([]);
  });
});

describe('no_dns', () => {
  const names = ['api.push.apple.com', 'mtalk.google.com', 'mokimanage.com'];

  it('is every name of every rule set failing to resolve', () => {
    const results = names.map((host, i) => fail(host, 443, 'dns_timeout', { ruleset: i === 2 ? 'moki-ios' : 'apple-push' }));
    const finding = only(findingsOf(results), 'no_dns');
    expect(finding).toMatchObject({ severity: 'critical', targets: 3, rulesets: ['apple-push', 'moki-ios'] });
    expect(finding.summary).toMatch(/None of the 3 names .* no DNS server answers/);
    expect(finding.action).toMatch(/port 53/);
    expect(findingsOf(results)).toHaveLength(1);
  });

  it('says the resolver cannot reach public DNS when it answers NXDOMAIN for everything', () => {
    const finding = only(findingsOf(names.map((host) => fail(host, 443, 'dns_not_found'))), 'no_dns');
    expect(finding.summary).toMatch(/cannot reach public DNS/);
  });

  it('is not one name alone, nor names failing while another resolves', () => {
    expect(causes(findingsOf([fail('api.push.apple.com', 443, 'dns_timeout'), fail('api.push.apple.com', 2197, 'dns_timeout')]))).not.toContain('no_dns');
    const someResolve = [...names.map((host) => fail(host, 443, 'dns_timeout')), pass('gateway.icloud.com', 443)];
    expect(causes(findingsOf(someResolve))).not.toContain('no_dns');
  });
});

describe('no_route', () => {
  it('is names resolving and no connection to any host succeeding', () => {
    const results = [
      fail('api.push.apple.com', 443, 'tcp_timeout'),
      fail('api.push.apple.com', 2197, 'tcp_timeout'),
      fail('mtalk.google.com', 5228, 'tcp_timeout'),
    ];
    const finding = only(findingsOf(results), 'no_route');
    expect(finding.targets).toBe(3);
    expect(finding.summary).toMatch(/Names resolve, but no TCP connection to any of the 2 hosts succeeds/);
    expect(finding.action).toMatch(/TCP 443, 2197 and 5228/);
  });

  it('is not when one connection succeeds', () => {
    const results = [fail('api.push.apple.com', 2197, 'tcp_timeout'), fail('mtalk.google.com', 5228, 'tcp_timeout'), pass('api.push.apple.com', 443)];
    expect(causes(findingsOf(results))).not.toContain('no_route');
  });

  it('counts a TLS failure as a connection made', () => {
    const results = [fail('api.push.apple.com', 2197, 'tcp_timeout'), fail('mtalk.google.com', 5228, 'tcp_timeout'), fail('a.example', 443, 'tls_handshake_failed')];
    expect(causes(findingsOf(results))).not.toContain('no_route');
  });
});

describe('clock_skew', () => {
  it('is certificates of several unrelated issuers all expired, with the clock it read', () => {
    const results = [
      fail('api.push.apple.com', 443, 'tls_expired', { tls: tls('Apple Public Server RSA CA 12 - G1', -400) }),
      fail('mtalk.google.com', 5228, 'tls_expired', { tls: tls('WR2', -300) }),
      fail('mokimanage.com', 443, 'tls_expired', { tls: tls('Sectigo RSA Domain Validation', -200), severity: 'warning', status: 'warn' }),
    ];
    const finding = only(findingsOf(results, { startedAt: '2029-06-01T10:00:00.000Z' }), 'clock_skew');
    expect(finding).toMatchObject({ severity: 'critical', targets: 3 });
    expect(finding.summary).toMatch(/3 unrelated issuers .* all count as expired: this machine's clock is wrong \(it read 2029-06-01/);
    expect(finding.action).toMatch(/NTP/);
  });

  it('works out the day from the certificates when the run has no start time', () => {
    const results = [
      fail('a.example', 443, 'tls_not_yet_valid', { tls: tls('CA one', 500) }),
      fail('b.example', 443, 'tls_not_yet_valid', { tls: tls('CA two', 400) }),
    ];
    expect(only(findingsOf(results), 'clock_skew').summary).toMatch(/not yet valid: .*it read 2026-11-25/);
  });

  it('is not one stale certificate, nor expired and not-yet-valid at once', () => {
    const stale = [fail('fcm.googleapis.com', 443, 'tls_expired', { tls: tls('Demo CA', -30) }), fail('fcm.googleapis.com', 5228, 'tls_expired', { tls: tls('Demo CA', -30) })];
    expect(causes(findingsOf([...stale, pass('mtalk.google.com', 443)]))).toEqual([]);
    const mixed = [fail('a.example', 443, 'tls_expired', { tls: tls('CA one', -5) }), fail('b.example', 443, 'tls_not_yet_valid', { tls: tls('CA two', 400) })];
    expect(causes(findingsOf(mixed))).not.toContain('clock_skew');
  });
});

describe('legacy_only', () => {
  const legacy = { status: 'warn' as const, legacy: { retired: '2021-03-31', note: 'binary provider API' } };

  it('is an info finding when only retired ports fail', () => {
    const results = [pass('gateway.push.apple.com', 443), fail('gateway.push.apple.com', 2195, 'tcp_refused', legacy), fail('gateway.push.apple.com', 2196, 'tcp_refused', legacy)];
    const findings = findingsOf(results);
    const finding = only(findings, 'legacy_only');
    expect(findings).toHaveLength(1);
    expect(finding).toMatchObject({ severity: 'info', targets: 2 });
    expect(finding.summary).toMatch(/^Only retired ports fail \(TCP 2195 and 2196, retired since 2021-03-31\)/);
    expect(finding.action).toMatch(/^Nothing to ask for/);
  });

  it('keeps retired ports out of the ports to open when other ports fail too', () => {
    const results = [
      pass('api.push.apple.com', 443),
      fail('api.push.apple.com', 2197, 'tcp_refused'),
      fail('gateway.push.apple.com', 2195, 'tcp_refused', legacy),
    ];
    const findings = findingsOf(results);
    expect(causes(findings)).toEqual(['ports_blocked', 'legacy_only']);
    expect(only(findings, 'ports_blocked').action).not.toMatch(/2195/);
    expect(only(findings, 'legacy_only').summary).toMatch(/^Retired ports fail too/);
  });
});

describe('proxy_refuses_ports', () => {
  const proxy = 'http://user:***@proxy.corp:3128';

  it('is CONNECT refused for other ports while 443 goes through the same proxy', () => {
    const results = [
      pass('1-courier.push.apple.com', 443, { via: proxy }),
      fail('1-courier.push.apple.com', 5223, 'proxy_refused', { via: proxy, status: 'warn' }),
      fail('mtalk.google.com', 5228, 'proxy_refused', { via: proxy }),
    ];
    const finding = only(findingsOf(results), 'proxy_refuses_ports');
    expect(finding.summary).toContain(`The proxy (${proxy}) refuses CONNECT to TCP 5223 and 5228 but lets TCP 443 through`);
    expect(finding.action).toMatch(/directly through the firewall .* 1-courier\.push\.apple\.com and mtalk\.google\.com/);
    expect(finding.targets).toBe(2);
  });

  it('reads reports that do not record the proxy per result', () => {
    const results = [pass('a.example', 443), fail('a.example', 5223, 'proxy_refused')];
    expect(only(findingsOf(results), 'proxy_refuses_ports').summary).toMatch(/^The proxy refuses CONNECT to TCP 5223/);
  });

  it('is not a proxy that refuses everything', () => {
    const results = [fail('a.example', 443, 'proxy_refused'), fail('a.example', 5223, 'proxy_refused')];
    expect(causes(findingsOf(results))).not.toContain('proxy_refuses_ports');
  });
});

describe('ipv6_broken', () => {
  it('is IPv6 failing where IPv4 to the same host and port passes', () => {
    const results = [
      pass('api.push.apple.com', 443, { family: 'ipv4' }),
      fail('api.push.apple.com', 443, 'tcp_timeout', { family: 'ipv6', address: '2620:149:a44::1', status: 'warn' }),
      pass('mtalk.google.com', 5228, { family: 'ipv4' }),
      fail('mtalk.google.com', 5228, 'tcp_unreachable', { family: 'ipv6', address: '2607:f8b0::1', status: 'warn' }),
    ];
    const finding = only(findingsOf(results), 'ipv6_broken');
    expect(finding).toMatchObject({ severity: 'warning', targets: 2 });
    expect(finding.summary).toMatch(/IPv6 connections to 2 hosts fail \(tcp_timeout, tcp_unreachable\) where IPv4 .* works/);
  });

  it('is not an IPv6 failure whose IPv4 twin fails too', () => {
    const results = [
      fail('api.push.apple.com', 443, 'tcp_timeout', { family: 'ipv4' }),
      fail('api.push.apple.com', 443, 'tcp_timeout', { family: 'ipv6' }),
    ];
    expect(causes(findingsOf(results))).not.toContain('ipv6_broken');
  });
});

describe('idle_timeout', () => {
  const held = (end: HoldResult['end'], idleMs = 1_800_000): { hold: HoldResult } => ({
    hold: { requestedMs: 1_800_000, idleMs, end, proof: 'a TLS close_notify', detail: '…' },
  });

  it('is connections forgotten while --hold kept them idle, with the ports and names to give a longer idle timeout', () => {
    const results = [
      fail('1-courier.push.apple.com', 5223, 'idle_dropped', held('dropped')),
      fail('20-courier.push.apple.com', 5223, 'idle_reset', held('reset', 1_799_000)),
      fail('mtalk.google.com', 5228, 'idle_dropped', held('dropped')),
      pass('api.push.apple.com', 443, held('answered')),
    ];
    const finding = only(findingsOf(results), 'idle_timeout');
    expect(finding).toMatchObject({ severity: 'critical', targets: 3 });
    expect(finding.summary).toBe(
      'Connections to 3 hosts worked, then were forgotten within 29 min 59 s of idle time (idle_dropped, idle_reset): a firewall or ' +
        'NAT in the path drops idle connections sooner than push devices next talk, and devices miss pushes until they reconnect.',
    );
    expect(finding.action).toBe(
      'A TCP idle timeout of 30 minutes or more for outbound TCP 5223 and 5228 to *.push.apple.com and mtalk.google.com, ' +
        'on every firewall and NAT gateway in the path; then run --hold 30m again.',
    );
    expect(causes(findingsOf(results))).toEqual(['idle_timeout']);
  });

  it('is not a connect failure, nor a hold the server itself ended', () => {
    const results = [fail('mtalk.google.com', 5228, 'tcp_timeout'), pass('mtalk.google.com', 443, held('closed', 12_000))];
    expect(causes(findingsOf(results))).not.toContain('idle_timeout');
  });
});

describe('tls_interception', () => {
  it('is vendor hosts answering with certificates of an untrusted issuer: one finding per issuer, names to exempt', () => {
    const corp = { tls: tls('Corporate TLS Inspection CA') };
    const results = [
      fail('api.push.apple.com', 443, 'tls_untrusted', corp),
      fail('1-courier.push.apple.com', 443, 'tls_untrusted', { ...corp, documentedHost: '#-courier.push.apple.com' }),
      fail('mtalk.google.com', 443, 'tls_untrusted', { tls: tls('FortiGate CA') }),
      pass('gateway.icloud.com', 443),
    ];
    const findings = findingsOf(results);
    expect(causes(findings)).toEqual(['tls_interception', 'tls_interception']);
    const corporate = findings.find((f) => f.subject === 'Corporate TLS Inspection CA')!;
    expect(corporate.summary).toMatch(/intercepts connections to 2 vendor hosts .* issued by "Corporate TLS Inspection CA"/);
    expect(corporate.action).toBe('Exempt from TLS inspection: *.push.apple.com.');
    expect(findings.find((f) => f.subject === 'FortiGate CA')!.action).toBe('Exempt from TLS inspection: mtalk.google.com.');
  });

  it('is not an untrusted certificate whose issuer was not recorded', () => {
    expect(causes(findingsOf([fail('a.example', 443, 'tls_untrusted')]))).toEqual([]);
  });
});

describe('dns_filtered', () => {
  it('is some names not resolving or resolving outside the ranges while others resolve', () => {
    const results = [
      pass('api.push.apple.com', 443),
      fail('networkcheck.mokimobility.com', 443, 'dns_not_found', { status: 'warn', severity: 'warning' }),
      result({
        host: 'api.sandbox.push.apple.com',
        status: 'warn',
        address: '10.0.0.9',
        addresses: ['10.0.0.9'],
        error: failure('dns_outside_cidr', 'dns', '10.0.0.9 outside 17.0.0.0/8'),
      }),
    ];
    const finding = only(findingsOf(results), 'dns_filtered');
    expect(finding).toMatchObject({ severity: 'warning', targets: 2 });
    expect(finding.summary).toContain('networkcheck.mokimobility.com does not exist here (NXDOMAIN)');
    expect(finding.summary).toContain('api.sandbox.push.apple.com resolves to 10.0.0.9 outside 17.0.0.0/8');
    expect(finding.action).toMatch(/^Exempt from DNS filtering: networkcheck\.mokimobility\.com and api\.sandbox\.push\.apple\.com/);
  });

  it('is not a lone name that does not resolve with nothing else resolving', () => {
    expect(causes(findingsOf([fail('networkcheck.mokimobility.com', 443, 'dns_not_found')]))).toEqual([]);
  });
});

describe('host_blocked', () => {
  it('is one host failing on every port while others of the same rule set pass on those ports', () => {
    const results = [
      pass('mokimanage.com', 443, { address: '203.0.113.5' }),
      pass('mokimanage.com', 5223, { address: '203.0.113.5' }),
      fail('mokirouter.appspot.com', 443, 'tls_handshake_failed', { address: '198.51.100.7' }),
      fail('mokirouter.appspot.com', 5223, 'tcp_refused', { address: '198.51.100.7' }),
    ];
    const finding = only(findingsOf(results), 'host_blocked');
    expect(finding).toMatchObject({ severity: 'critical', targets: 2 });
    expect(finding.summary).toMatch(/^1 host fails on every port .*: mokirouter\.appspot\.com is blocked by name or by address/);
    expect(finding.action).toMatch(/mokirouter\.appspot\.com \(198\.51\.100\.7\) on TCP 443 and 5223/);
  });

  it('says "by name" when another host on the same address passes', () => {
    const results = [pass('a.example.com', 443, { address: '203.0.113.5' }), fail('b.example.com', 443, 'tcp_reset', { address: '203.0.113.5' })];
    expect(only(findingsOf(results), 'host_blocked').summary).toMatch(/blocked by name \(/);
  });

  it('is not a host whose ports no other host passes on (that is the ports)', () => {
    const results = [pass('a.example.com', 443), fail('b.example.com', 5223, 'tcp_refused')];
    expect(causes(findingsOf(results))).toEqual(['ports_blocked']);
  });
});

describe('ports_blocked', () => {
  const fallback = { rule: '5', host: '1-courier.push.apple.com', port: 443, note: 'Apple devices fall back to TCP 443 on Wi-Fi.' };

  it('lists the ports, the names to open them to, and which devices fall back', () => {
    const courier = (n: number) => `${n}-courier.push.apple.com`;
    const results = [
      ...[1, 25].flatMap((n) => [
        pass(courier(n), 443, { documentedHost: '#-courier.push.apple.com' }),
        fail(courier(n), 5223, 'tcp_timeout', { documentedHost: '#-courier.push.apple.com', status: 'warn', fallback: { ...fallback, host: courier(n) } }),
      ]),
      pass('api.push.apple.com', 443, { rule: 'provider' }),
      fail('api.push.apple.com', 2197, 'tcp_timeout', { rule: 'provider' }),
      pass('mtalk.google.com', 443, { ruleset: 'google-fcm', rule: 'mtalk' }),
      ...[5228, 5229, 5230].map((port) => fail('mtalk.google.com', port, 'tcp_refused', { ruleset: 'google-fcm', rule: 'mtalk', status: 'warn', fallback: { ...fallback, host: 'mtalk.google.com', note: 'Android falls back to 443.' } })),
    ];
    const findings = findingsOf(results);
    const finding = only(findings, 'ports_blocked');
    expect(findings).toHaveLength(1);
    expect(finding).toMatchObject({ severity: 'critical', targets: 6, rulesets: ['moki-ios', 'google-fcm'] });
    expect(finding.summary).toBe(
      "The firewall lets TCP 443 through but blocks TCP 2197, 5223 and 5228–5230 to the same vendors' hosts: it allows only web ports.",
    );
    expect(finding.action).toBe(
      'Allow outbound TCP 5223 to *.push.apple.com; TCP 2197 to api.push.apple.com; TCP 5228–5230 to mtalk.google.com.',
    );
    expect(finding.detail).toBe(
      'Devices fall back to TCP 443 for 5223 (Apple devices fall back to TCP 443 on Wi-Fi); devices fall back to TCP 443 ' +
        'for 5228–5230 (Android falls back to 443); nothing falls back for api.push.apple.com on TCP 2197 (moki-ios/provider).',
    );
    expect(finding.examples).toHaveLength(5);
    expect(finding.examples[0]).toBe('moki-ios/5 1-courier.push.apple.com:5223');
  });

  it('says which fallback this machine was too busy to judge, apart from one that carried and from none', () => {
    const courier = (n: number) => `${n}-courier.push.apple.com`;
    // 1-courier's 443 passed (carried); 2-courier's 443 read local_overload (not judged); api's 2197 has no fallback.
    const results = [
      pass(courier(1), 443),
      fail(courier(1), 5223, 'tcp_refused', { status: 'warn', fallback: { ...fallback, host: courier(1) } }),
      fail(courier(2), 443, 'local_overload', { status: 'warn', error: failure('local_overload', 'tls', 'too busy') }),
      fail(courier(2), 5223, 'tcp_refused', { status: 'warn', note: 'fallback not judged: …', unjudgedFallback: { ...fallback, host: courier(2) } }),
      pass('api.push.apple.com', 443, { rule: 'provider' }),
      fail('api.push.apple.com', 2197, 'tcp_refused', { rule: 'provider' }),
    ];
    const detail = (rs: Result[]) => only(findingsOf(rs), 'ports_blocked').detail;
    expect(detail(results)).toBe(
      'Devices fall back to TCP 443 for 5223 (Apple devices fall back to TCP 443 on Wi-Fi); devices would fall back to ' +
        'TCP 443 for 5223 (Apple devices fall back to TCP 443 on Wi-Fi), but this machine was too busy to judge ' +
        '2-courier.push.apple.com:443 (moki-ios/5); ' +
        'nothing falls back for api.push.apple.com on TCP 2197 (moki-ios/provider).',
    );
    // Alone, the unjudged one is never "nothing falls back", which it said before the result carried unjudgedFallback.
    const unjudgedOnly = results.filter((r) => r.host !== courier(1) && r.rule !== 'provider').concat(pass('api.push.apple.com', 443, { rule: 'provider' }));
    expect(detail(unjudgedOnly)).toBe(
      'Devices would fall back to TCP 443 for 5223 (Apple devices fall back to TCP 443 on Wi-Fi), but this machine was too busy to judge ' +
        '2-courier.push.apple.com:443 (moki-ios/5).',
    );
    // Without the field (a failure no fallback could carry), the words are as before.
    const { unjudgedFallback: _dropped, ...uncarried } = unjudgedOnly[1]!;
    expect(detail([unjudgedOnly[0]!, { ...uncarried, status: 'fail' }, unjudgedOnly[2]!])).toBe(
      'Nothing falls back for 2-courier.push.apple.com on TCP 5223 (moki-ios/5).',
    );
  });

  it('is not a port that passes for another host', () => {
    const results = [pass('a.example.com', 443), pass('a.example.com', 5223), pass('b.example.com', 443), fail('b.example.com', 5223, 'tcp_refused')];
    expect(causes(findingsOf(results))).not.toContain('ports_blocked');
  });
});

describe('precedence', () => {
  it('explains each result once, by the first cause that claims it', () => {
    const legacy = { status: 'warn' as const, legacy: { retired: '2021-03-31', note: 'binary provider API' } };
    const results: Result[] = [
      pass('api.push.apple.com', 443),
      fail('gateway.push.apple.com', 2195, 'tcp_refused', legacy),
      fail('1-courier.push.apple.com', 5223, 'tcp_refused'),
      fail('1-courier.push.apple.com', 443, 'tls_untrusted', { tls: tls('Corporate CA') }),
    ];
    const findings = findingsOf(results);
    expect(causes(findings).sort()).toEqual(['legacy_only', 'ports_blocked', 'tls_interception']);
    expect(findings.reduce((sum, f) => sum + f.targets, 0)).toBe(3);
    // Most serious first.
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'critical', 'info']);
  });

  it('leaves results no cause explains as they are', () => {
    const results = [pass('mtalk.google.com', 443), fail('fcm.googleapis.com', 443, 'tls_expired', { tls: tls('Demo CA', -30) })];
    expect(findingsOf(results)).toEqual([]);
  });
});
