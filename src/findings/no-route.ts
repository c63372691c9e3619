/**
 * no_route: names resolve, but not one TCP connection to any host succeeds. With two or more hosts failing the
 * same way and nothing connecting, the path out of this machine is the problem, not any one port or host.
 */
import { connected, FIREWALL_CODES, hasCode, plural, portsText, resolved, unique, type CauseDetector } from './evidence.js';

export const noRoute: CauseDetector = {
  cause: 'no_route',
  detect(open, { all }) {
    if (all.some(connected)) return [];
    const cut = all.filter((r) => resolved(r) && hasCode(r, FIREWALL_CODES));
    const hosts = unique(cut.map((r) => r.host.toLowerCase()));
    if (hosts.length < 2) return [];
    const codes = new Set(cut.map((r) => r.error!.code));
    const cutSet = new Set(cut);
    const how = codes.size === 1 && codes.has('tcp_refused')
      ? 'a firewall rejects every outbound connection'
      : codes.size === 1 && codes.has('tcp_unreachable')
        ? 'there is no route out of this network'
        : 'there is no path to the Internet from here (no default route, or a firewall that blocks all outbound traffic)';
    return [
      {
        summary: `Names resolve, but no TCP connection to any of the ${plural(hosts.length, 'host')} succeeds: ${how}.`,
        action:
          `Check this machine's default route and the outbound firewall policy: allow outbound TCP ${portsText(cut.map((r) => r.port))} ` +
          "to the vendors' hosts (or run pushcheck from a machine on the network the devices use).",
        explains: open.filter((r) => cutSet.has(r)),
      },
    ];
  },
};
