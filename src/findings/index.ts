/**
 * Findings: from many results to the few causes an admin must fix, in the words of a change request. A cause is
 * one file with one small pure function (see evidence.ts) plus one line below. The order is the order of
 * precedence: a result is explained by the first cause that claims it, so run-wide causes (no DNS, no route, a
 * wrong clock) come first and the narrower ones after. docs/findings.md lists the causes and their evidence.
 */
import type { Finding, FindingSeverity, Result } from '../types.js';
import { clockSkew } from './clock-skew.js';
import { dnsFiltered } from './dns-filtered.js';
import { findingOf, isProblem, type CauseDetector, type RunContext } from './evidence.js';
import { hostBlocked } from './host-blocked.js';
import { idleTimeout } from './idle-timeout.js';
import { ipv6Broken } from './ipv6-broken.js';
import { legacyOnly } from './legacy-only.js';
import { noDns } from './no-dns.js';
import { noRoute } from './no-route.js';
import { portsBlocked } from './ports-blocked.js';
import { proxyRefusesPorts } from './proxy-refuses-ports.js';
import { tlsInterception } from './tls-interception.js';

export const CAUSES: readonly CauseDetector[] = [
  noDns,
  noRoute,
  clockSkew,
  legacyOnly,
  proxyRefusesPorts,
  ipv6Broken,
  idleTimeout,
  tlsInterception,
  dnsFiltered,
  hostBlocked,
  portsBlocked,
];

const SEVERITY_ORDER: readonly FindingSeverity[] = ['critical', 'warning', 'info'];

/**
 * The findings of a run's results, most serious first. Pure: the same results give the same findings. Results
 * that no cause explains stay as they are; with no failure or warning there are no findings. Results of credential
 * files (`check: cert`) are not network evidence and are left out.
 */
export function findingsOf(results: readonly Result[], context: RunContext = {}): Finding[] {
  return explain(results, context).map(({ finding }) => finding);
}

/** Which finding explains each result that one explains (the metrics label each target's failure with it). */
export function findingOfEachResult(results: readonly Result[], context: RunContext = {}): Map<Result, Finding> {
  return new Map(explain(results, context).flatMap(({ finding, explained }) => explained.map((r) => [r, finding] as const)));
}

type Explained = Array<{ finding: Finding; explained: readonly Result[] }>;

/** What an explanation was made of: each result, and its status and error as they were then. */
interface Explanation {
  made: Result[];
  verdicts: Array<[Result['status'], Result['error']]>;
  startedAt: string | undefined;
  found: Explained;
}

/**
 * The last explanation made of each results list: a run derives its findings for the report and the Prometheus
 * format derives them again to label each failure (every /probe scrape of `pushcheck serve` did both). Used again
 * only for the same list holding the same result objects with the same statuses and errors, and the same context:
 * a library user who replaces a result, or changes one's verdict in place, gets a new explanation.
 */
const explainedBefore = new WeakMap<readonly Result[], Explanation>();

/** Each finding with the results it explains, most serious first. */
function explain(results: readonly Result[], context: RunContext): Explained {
  const before = explainedBefore.get(results);
  if (before && before.startedAt === context.startedAt && unchanged(before, results)) return before.found;
  const found = explainAnew(results, context);
  explainedBefore.set(results, { made: [...results], verdicts: results.map((r) => [r.status, r.error]), startedAt: context.startedAt, found });
  return found;
}

function unchanged(before: Explanation, now: readonly Result[]): boolean {
  if (before.made.length !== now.length) return false;
  for (let i = 0; i < now.length; i += 1) {
    const result = now[i]!;
    const [status, error] = before.verdicts[i]!;
    if (before.made[i] !== result || result.status !== status || result.error !== error) return false;
  }
  return true;
}

function explainAnew(results: readonly Result[], context: RunContext): Explained {
  // Credential files (pushcheck cert) say nothing about the network.
  const open = new Set(results.filter((r) => r.check !== 'cert' && isProblem(r)));
  // Nothing to explain (a healthy run): no detector runs, and the evidence need not be gathered.
  if (open.size === 0) return [];
  const all = results.filter((r) => r.check !== 'cert');
  const found: Explained = [];
  for (const detector of CAUSES) {
    if (open.size === 0) break;
    for (const detection of detector.detect([...open], { ...context, all })) {
      const explained = detection.explains.filter((r) => open.has(r));
      if (explained.length === 0) continue;
      for (const r of explained) open.delete(r);
      found.push({ finding: findingOf(detector.cause, detection, explained), explained });
    }
  }
  return found.sort((a, b) => SEVERITY_ORDER.indexOf(a.finding.severity) - SEVERITY_ORDER.indexOf(b.finding.severity));
}

export type { RunContext } from './evidence.js';
