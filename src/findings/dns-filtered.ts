/**
 * dns_filtered: some names do not resolve, or resolve outside the vendor's published ranges, while other names
 * resolve normally. The resolver works; something answers for these names in particular: a DNS filter or sinkhole.
 */
import { detailOf } from '../probes/classify.js';
import type { FailureCode } from '../types.js';
import { connected, hasCode, listText, plural, resolved, unique, type CauseDetector } from './evidence.js';

const FILTERED: ReadonlySet<FailureCode> = new Set(['dns_not_found', 'dns_no_address', 'dns_outside_cidr']);

const HOW: Partial<Record<FailureCode, string>> = {
  dns_not_found: 'does not exist here (NXDOMAIN)',
  dns_no_address: 'has no address here',
};

export const dnsFiltered: CauseDetector = {
  cause: 'dns_filtered',
  detect(open, { all }) {
    const filtered = open.filter((r) => hasCode(r, FILTERED));
    // The first filtered result of each name, in order.
    const firstByName = new Map<string, (typeof filtered)[number]>();
    for (const r of filtered) if (!firstByName.has(r.host.toLowerCase())) firstByName.set(r.host.toLowerCase(), r);
    const names = [...firstByName.keys()];
    const normal = all.filter((r) => !hasCode(r, FILTERED) && resolved(r) && connected(r));
    if (filtered.length === 0 || !normal.some((r) => !firstByName.has(r.host.toLowerCase()))) return [];
    const what = names.map((name) => {
      const error = firstByName.get(name)!.error!;
      return `${name} ${HOW[error.code] ?? `resolves to ${detailOf(error)}`}`;
    });
    return [
      {
        summary:
          `A DNS filter or sinkhole answers for ${plural(names.length, 'vendor name')} while other names resolve ` +
          `normally: ${listText(what, 4)}.`,
        action:
          `Exempt from DNS filtering: ${listText(names)}; compare the answers with a public resolver ` +
          '(pushcheck --dns-server 1.1.1.1).',
        explains: filtered,
      },
    ];
  },
};
