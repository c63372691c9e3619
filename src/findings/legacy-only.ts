/**
 * legacy_only: targets that fail only because their port is retired (a rule's `legacy` ports, such as APNs'
 * binary provider API on 2195/2196). The vendor no longer uses them: nothing to ask for.
 */
import { listText, portsText, unique, type CauseDetector } from './evidence.js';

export const legacyOnly: CauseDetector = {
  cause: 'legacy_only',
  detect(open, { all }) {
    const retired = open.filter((r) => r.legacy !== undefined);
    if (retired.length === 0) return [];
    const ports = portsText(retired.map((r) => r.port));
    const since = listText(unique(retired.map((r) => r.legacy!.retired)).sort());
    const onlyThese = all.every((r) => r.status === 'pass' || r.status === 'skip' || r.legacy !== undefined);
    return [
      {
        summary: onlyThese
          ? `Only retired ports fail (TCP ${ports}, retired since ${since}): nothing the devices use is blocked.`
          : `Retired ports fail too (TCP ${ports}, retired since ${since}); the vendor no longer uses them.`,
        action: `Nothing to ask for: TCP ${ports} need not be opened (leave them out of the change request).`,
        explains: retired,
        severity: 'info',
      },
    ];
  },
};
