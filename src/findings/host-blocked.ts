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

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

export const hostBlocked: CauseDetector = {
  cause: 'host_blocked',
  detect(open, { all }) {
    const openSet = new Set(open);
    // Which hosts connected on each (rule set, port), and which passed on each address: looked up once, not
    // searched for every host (which grew with the square of the targets).
    const connectedHosts = new Map<string, Set<string>>();
    const passedHosts = new Map<string, Set<string>>();
    for (const o of all) {
      if (connected(o)) addTo(connectedHosts, JSON.stringify([o.ruleset, o.port]), hostOf(o));
      if (o.address !== undefined && o.status === 'pass') addTo(passedHosts, o.address, hostOf(o));
    }
    const blocked: Result[][] = [];
    for (const [host, results] of groupBy(all.filter((r) => r.status !== 'skip'), hostOf)) {
      if (!results.every((r) => openSet.has(r) && hasCode(r, BLOCKED))) continue;
      // Another host of the same rule set connected on one of this host's ports.
      const hasPeer = results.some((r) => {
        const peers = connectedHosts.get(JSON.stringify([r.ruleset, r.port]));
        return peers !== undefined && (peers.size > 1 || !peers.has(host));
      });
      if (hasPeer) blocked.push(results);
    }
    if (blocked.length === 0) return [];
    const hosts = blocked.map((results) => hostOf(results[0]!));
    const blockedHosts = new Set(hosts);
    const addresses = unique(blocked.flat().flatMap((r) => (r.address ? [r.address] : [])));
    const sharedAddress = addresses.some((address) => [...(passedHosts.get(address) ?? [])].some((h) => !blockedHosts.has(h)));
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
