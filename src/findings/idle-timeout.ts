/**
 * idle_timeout: connections that passed their check were forgotten while --hold kept them idle (idle_dropped,
 * idle_reset): a firewall or NAT in the path drops idle connections sooner than push devices next talk.
 * Needs a run with --hold (the only source of those codes).
 */
import { formatDuration } from '../duration.js';
import { hasCode, listText, plural, policyNames, portsText, unique, type CauseDetector } from './evidence.js';

const IDLE_CODES = new Set(['idle_dropped', 'idle_reset'] as const);

export const idleTimeout: CauseDetector = {
  cause: 'idle_timeout',
  detect(open) {
    const forgotten = open.filter((r) => hasCode(r, IDLE_CODES));
    if (forgotten.length === 0) return [];
    const hosts = unique(forgotten.map((r) => r.host.toLowerCase()));
    const idleMs = Math.min(...forgotten.map((r) => r.hold?.idleMs ?? Number.POSITIVE_INFINITY));
    const idle = Number.isFinite(idleMs) ? ` within ${formatDuration(idleMs)} of idle time` : ' while idle';
    return [
      {
        summary:
          `Connections to ${plural(hosts.length, 'host')} worked, then were forgotten${idle} ` +
          `(${unique(forgotten.map((r) => r.error!.code)).join(', ')}): a firewall or NAT in the path drops idle ` +
          'connections sooner than push devices next talk, and devices miss pushes until they reconnect.',
        action:
          `A TCP idle timeout of 30 minutes or more for outbound TCP ${portsText(forgotten.map((r) => r.port))} to ` +
          `${listText(policyNames(forgotten))}, on every firewall and NAT gateway in the path; then run --hold 30m again.`,
        explains: forgotten,
      },
    ];
  },
};
