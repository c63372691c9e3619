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

/**
 * Which finding explains each result that one explains (the metrics label each target's failure with it). A report's
 * own findings, passed as `findings`, are used as they are when {@link findingsOf} made every one of them of results in
 * this list (a run's report: every /probe scrape of `pushcheck serve` renders the findings and the labels, and the
 * detectors need not run twice), so that the labels and the report's findings agree; otherwise the list is explained
 * anew. Not a cache of a results list: findingsOf itself explains every list it is given, which a library user may have
 * changed in place since.
 */
export function findingOfEachResult(
  results: readonly Result[],
  context: RunContext = {},
  findings: readonly Finding[] = [],
): Map<Result, Finding> {
  const found = explainedAgain(results, findings) ?? explain(results, context);
  return new Map(found.flatMap(({ finding, explained }) => explained.map((r) => [r, finding] as const)));
}

type Explained = Array<{ finding: Finding; explained: readonly Result[] }>;

/** The results each finding that findingsOf made explains. */
const explainedBy = new WeakMap<Finding, readonly Result[]>();

/** `findings` with the results each explains, when findingsOf made every one of them of results in `results`. */
function explainedAgain(results: readonly Result[], findings: readonly Finding[]): Explained | undefined {
  if (findings.length === 0) return undefined;
  const listed = new Set(results);
  const again: Explained = [];
  for (const finding of findings) {
    const explained = explainedBy.get(finding);
    if (!explained || !explained.every((r) => listed.has(r))) return undefined;
    again.push({ finding, explained });
  }
  return again;
}

/** Each finding with the results it explains, most serious first. */
function explain(results: readonly Result[], context: RunContext): Explained {
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
      const finding = findingOf(detector.cause, detection, explained);
      explainedBy.set(finding, explained);
      found.push({ finding, explained });
    }
  }
  return found.sort((a, b) => SEVERITY_ORDER.indexOf(a.finding.severity) - SEVERITY_ORDER.indexOf(b.finding.severity));
}

export type { RunContext } from './evidence.js';
