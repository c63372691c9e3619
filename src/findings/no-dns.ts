/**
 * no_dns: every name of every rule set fails to resolve. One name that does not resolve is that name's problem;
 * two or more names, and not one that resolves, is the resolver's.
 */
import type { FailureCode } from '../types.js';
import { hasCode, listText, plural, unique, type CauseDetector } from './evidence.js';

/** A lookup that failed (dns_outside_cidr resolved: not one of these). */
const LOOKUP_FAILED: ReadonlySet<FailureCode> = new Set(['dns_not_found', 'dns_no_address', 'dns_timeout', 'dns_error']);

export const noDns: CauseDetector = {
  cause: 'no_dns',
  detect(open, { all }) {
    const probed = all.filter((r) => r.status !== 'skip');
    const failed = probed.filter((r) => hasCode(r, LOOKUP_FAILED));
    const names = unique(failed.map((r) => r.host.toLowerCase()));
    if (failed.length === 0 || failed.length !== probed.length || names.length < 2) return [];
    const codes = new Set(failed.map((r) => r.error!.code));
    const failedSet = new Set(failed);
    const how =
      codes.size === 1 && codes.has('dns_timeout')
        ? 'no DNS server answers from here'
        : codes.size === 1 && codes.has('dns_not_found')
          ? 'the resolver says that not one of them exists, so it cannot reach public DNS'
          : 'the resolver is missing, unreachable or cut off from public DNS';
    return [
      {
        summary: `None of the ${plural(names.length, 'name')} checked resolves from this machine (${listText(names, 3)}): ${how}.`,
        action:
          'Give this machine a resolver that answers public names: allow UDP and TCP port 53 to the configured DNS server ' +
          '(or the one given with --dns-server) and let that server reach public DNS; then run pushcheck again, since ' +
          'every other check needs names.',
        explains: open.filter((r) => failedSet.has(r)),
      },
    ];
  },
};
