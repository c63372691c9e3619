/**
 * clock_skew: certificates from two or more unrelated issuers all count as expired (or all as not yet valid).
 * One stale certificate is that server's problem; several issuers, all wrong in the same direction, is this
 * machine's clock. Expired from one issuer and not yet valid from another points nowhere: no finding.
 */
import type { FailureCode, Result } from '../types.js';
import { hasCode, listText, plural, unique, type CauseDetector } from './evidence.js';

const DAY_MS = 86_400_000;

const DIRECTION: Partial<Record<FailureCode, string>> = { tls_expired: 'expired', tls_not_yet_valid: 'not yet valid' };
const TIME_CODES: ReadonlySet<FailureCode> = new Set(['tls_expired', 'tls_not_yet_valid']);

/** The day this machine's clock said, from a certificate's end and its days left (both recorded by the probe). */
function clockDay(results: readonly Result[], startedAt: string | undefined): string | undefined {
  if (startedAt && !Number.isNaN(Date.parse(startedAt))) return startedAt.slice(0, 10);
  const tls = results.find((r) => r.tls && !Number.isNaN(Date.parse(r.tls.validTo)))?.tls;
  return tls ? new Date(Date.parse(tls.validTo) - tls.daysLeft * DAY_MS).toISOString().slice(0, 10) : undefined;
}

export const clockSkew: CauseDetector = {
  cause: 'clock_skew',
  detect(open, { all, startedAt }) {
    const timed = all.filter((r) => hasCode(r, TIME_CODES));
    const codes = unique(timed.map((r) => r.error!.code));
    if (codes.length !== 1) return [];
    const issuers = unique(timed.flatMap((r) => (r.tls?.issuer ? [r.tls.issuer] : [])));
    if (issuers.length < 2) return [];
    const direction = DIRECTION[codes[0]!]!;
    const day = clockDay(timed, startedAt);
    const timedSet = new Set(timed);
    const reads = day ? ` (it read ${day} when the run started)` : '';
    return [
      {
        summary:
          `Certificates from ${plural(issuers.length, 'unrelated issuer')} (${listText(issuers.map((i) => `"${i}"`), 4)}) ` +
          `all count as ${direction}: this machine's clock is wrong${reads}, not the servers'.`,
        action:
          "Set this machine's clock right (enable NTP and allow UDP port 123 to a time server), then run pushcheck again: " +
          'until then no certificate check means anything.',
        explains: open.filter((r) => timedSet.has(r)),
      },
    ];
  },
};
