/**
 * ipv6_broken: the IPv6 result of a (rule, host, port) fails where its IPv4 twin passes: the classic IPv6
 * blackhole, which makes devices wait before they fall back to IPv4 (the run has made such a result a warning,
 * with `familyFallback`). Needs the per-family results of dual-stack runs (`family` on each result).
 */
import type { Result } from '../types.js';
import { listText, plural, policyNames, portsText, unique, type CauseDetector } from './evidence.js';

function twinKey(result: Result): string {
  return JSON.stringify([result.ruleset, result.rule, result.host.toLowerCase(), result.port]);
}

export const ipv6Broken: CauseDetector = {
  cause: 'ipv6_broken',
  detect(open, { all }) {
    const ipv4Passed = new Set(all.filter((r) => r.family === 'ipv4' && r.status === 'pass').map(twinKey));
    // A working connection to an address outside the ranges is a DNS matter, not a broken path.
    const broken = open.filter(
      (r) => r.family === 'ipv6' && r.error?.code !== 'dns_outside_cidr' && ipv4Passed.has(twinKey(r)),
    );
    if (broken.length === 0) return [];
    const hosts = unique(broken.map((r) => r.host.toLowerCase()));
    const codes = unique(broken.map((r) => r.error!.code));
    return [
      {
        summary:
          `IPv6 connections to ${plural(hosts.length, 'host')} fail (${codes.join(', ')}) where IPv4 to the same hosts ` +
          'works: IPv6 is broken on this network, and devices wait seconds before they fall back to IPv4.',
        action:
          `Fix outbound IPv6 (routing and firewall) for TCP ${portsText(broken.map((r) => r.port))} to ` +
          `${listText(policyNames(broken))}, or stop offering IPv6 on this network until it works.`,
        explains: broken,
      },
    ];
  },
};
