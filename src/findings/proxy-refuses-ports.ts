/**
 * proxy_refuses_ports: through a proxy, CONNECT is refused for some ports while 443 goes through. Most proxies
 * allow CONNECT to 443 only, and devices do not send their push channels (5223, 5228–5230) through an HTTP proxy
 * anyway: they need a direct path for those ports.
 */
import type { Result } from '../types.js';
import { connected, listText, policyNames, portsText, unique, type CauseDetector } from './evidence.js';

/** The proxy a result went through (`via`, password masked); undefined when direct or not recorded. */
function proxyOf(result: Result): string | undefined {
  return result.via !== undefined && result.via !== 'direct' ? result.via : undefined;
}

export const proxyRefusesPorts: CauseDetector = {
  cause: 'proxy_refuses_ports',
  detect(open, { all }) {
    const refused = open.filter((r) => r.error?.code === 'proxy_refused');
    // The proxy lets some port through: the refusals are about ports, not about the proxy being unusable.
    const through = all.filter(connected);
    const openPorts = unique(through.map((r) => r.port));
    const passedPorts = new Set(openPorts);
    const portRefused = refused.filter((r) => !passedPorts.has(r.port));
    if (portRefused.length === 0 || openPorts.length === 0) return [];
    const proxies = unique([...portRefused, ...through].flatMap((r) => proxyOf(r) ?? []));
    const proxy = proxies.length > 0 ? `The proxy (${listText(proxies)})` : 'The proxy';
    const ports = portsText(portRefused.map((r) => r.port));
    return [
      {
        summary: `${proxy} refuses CONNECT to TCP ${ports} but lets TCP ${portsText(openPorts)} through: devices do not use an HTTP proxy for these ports and need a direct path.`,
        action:
          `Allow devices outbound TCP ${ports} directly through the firewall (not through the proxy) to ` +
          `${listText(policyNames(portRefused))}; to check those ports from here through the proxy, also allow CONNECT to them.`,
        explains: portRefused,
      },
    ];
  },
};
