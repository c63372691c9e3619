/**
 * host_blocked: one host fails on every port it was checked on, while other hosts of the same rule set pass on
 * those ports. The ports are open, the host is not: it is blocked by name (DNS, SNI or URL filter) or by address.
 * When another host on the same address passes, it can only be the name.
 */
import type { FailureCode, Result } from '../types.js';
import {
  connected,
  FIREWALL_CODES,
  groupBy,
  hasCode,
  listText,
  plural,
  portsText,
  unique,
  type CauseDetector,
} from './evidence.js';

/** How a block shows: the firewall's codes, a handshake cut short, a proxy that refuses the host. */
const BLOCKED: ReadonlySet<FailureCode> = new Set([...FIREWALL_CODES, 'tls_handshake_failed', 'proxy_refused']);

function hostOf(result: Result): string {
  return result.host.toLowerCase();
}

export const hostBlocked: CauseDetector = {
  cause: 'host_blocked',
  detect(open, { all }) {
    const openSet = new Set(open);
    const blocked: Result[][] = [];
    for (const [host, results] of groupBy(all.filter((r) => r.status !== 'skip'), hostOf)) {
      if (!results.every((r) => openSet.has(r) && hasCode(r, BLOCKED))) continue;
      // Another host of the same rule set connected on one of this host's ports.
      const peers = all.filter(
        (o) => hostOf(o) !== host && connected(o) && results.some((r) => r.ruleset === o.ruleset && r.port === o.port),
      );
      if (peers.length > 0) blocked.push(results);
    }
    if (blocked.length === 0) return [];
    const hosts = blocked.map((results) => hostOf(results[0]!));
    const addresses = unique(blocked.flat().flatMap((r) => (r.address ? [r.address] : [])));
    const sharedAddress = addresses.some((address) =>
      all.some((o) => o.address === address && o.status === 'pass' && !hosts.includes(hostOf(o))),
    );
    const how = sharedAddress ? 'by name (a DNS, SNI or URL filter: another host on the same address passes)' : 'by name or by address';
    const explains = blocked.flat();
    const where = blocked.map((results) => {
      const host = hostOf(results[0]!);
      const address = unique(results.flatMap((r) => (r.address ? [r.address] : [])));
      return `${host}${address.length > 0 ? ` (${address.join(', ')})` : ''} on TCP ${portsText(results.map((r) => r.port))}`;
    });
    return [
      {
        summary:
          `${plural(hosts.length, 'host')} ${hosts.length === 1 ? 'fails' : 'fail'} on every port while other hosts of ` +
          `the same vendor pass on those ports: ${listText(hosts, 4)} ${hosts.length === 1 ? 'is' : 'are'} blocked ${how}.`,
        action: `Allow outbound traffic to ${listText(where)}, and take ${hosts.length === 1 ? 'it' : 'them'} off URL, SNI and address blocklists.`,
        explains,
      },
    ];
  },
};
