/**
 * Turns what the probes saw into what the report says: a status for every target (severity, retired ports,
 * fallbacks, CIDR) and the per-rule facts that need all of a rule's targets at once.
 * Pure functions of their inputs, so every verdict rule is testable without a network.
 */
import { release } from 'node:os';
import type { Failure, HoldResult, ProbeOutcome, Report, Result, Rule, RuleSet, RuleSummary, RunOptions, Status, Summary, Target } from '../types.js';
import { interruptedExitCode } from '../signals.js';
import { verdictOf } from '../verdict.js';
import { version } from '../version.js';
import { addressInRanges, familyOf, rangesForFamily } from '../rules/cidr.js';
import { failure } from '../probes/classify.js';

/** A target together with what its probe returned (absent when it was never probed). */
export interface ProbedTarget {
  target: Target;
  outcome?: ProbeOutcome;
  attempts: number;
  /** Why it was not probed (or not to the end): a missing --var, Ctrl-C. */
  skipReason?: string;
  /** `direct`, or the proxy it went through (password masked). */
  via?: string;
  /** Probed through a proxy that was sent the name: the proxy resolved it and chose the family. */
  resolvedByProxy?: boolean;
  /** --hold: what became of the connection after the check passed, and its failure when the path did not hold. */
  hold?: { result: HoldResult; failure?: Failure };
}

/** A failure found while holding a connection after its check passed: no fallback or other family stands in for it. */
function isHoldFailure(result: Result): boolean {
  return result.error?.phase === 'hold';
}

/** Whether `address` lies outside `ranges`, judged against the ranges of its own family only (none: not outside). */
function outsideRanges(address: string, ranges: string[]): boolean {
  const own = rangesForFamily(address, ranges);
  return own.length > 0 && !addressInRanges(address, own);
}

/** DNS-given addresses of an outcome that lie outside the rule's CIDR ranges (pinned ones are not judged). */
function addressesOutsideCidr(target: Target, outcome: ProbeOutcome): string[] {
  if (target.rule.cidr.length === 0 || outcome.pinned) return [];
  return outcome.addresses.filter((address) => outsideRanges(address, target.rule.cidr));
}

const FAMILY_NAMES = { ipv4: 'IPv4', ipv6: 'IPv6' } as const;

/**
 * The result's fields in report order, before its status is judged. A target probed at an address of its family
 * (nearly every result) is made by one object literal, which V8 builds in one step; other shapes are built by
 * assignment rather than by spreading optional parts. Adding the fields one by one cost 3 ms per 1,000 results,
 * spreads more than the rest of the report.
 */
function baseResult(probed: ProbedTarget): Result {
  const { target, outcome } = probed;
  const rule = target.rule;
  let result: Result;
  if (outcome?.address !== undefined && target.family !== undefined && probed.via !== undefined && !probed.resolvedByProxy) {
    result = {
      ruleset: target.ruleset,
      rule: rule.id,
      documentedHost: rule.host,
      host: target.host,
      port: target.port,
      family: target.family,
      via: probed.via,
      address: outcome.address,
      addresses: outcome.addresses,
      check: target.check,
      status: 'skip',
      severity: rule.severity,
      origin: rule.origin,
      purpose: rule.purpose,
      impact: rule.impact,
      timings: outcome.timings,
      attempts: probed.attempts,
    };
  } else {
    result = { ruleset: target.ruleset, rule: rule.id, documentedHost: rule.host, host: target.host, port: target.port } as Result;
    if (target.family !== undefined) result.family = target.family;
    if (probed.via !== undefined && outcome) result.via = probed.via;
    if (probed.resolvedByProxy && outcome) result.resolvedByProxy = true;
    if (outcome?.address !== undefined) result.address = outcome.address;
    result.addresses = outcome?.addresses ?? [];
    result.check = target.check;
    result.status = 'skip';
    result.severity = rule.severity;
    result.origin = rule.origin;
    result.purpose = rule.purpose;
    result.impact = rule.impact;
    result.timings = outcome?.timings ?? { totalMs: 0 };
    result.attempts = probed.attempts;
  }
  if (outcome?.tls) result.tls = outcome.tls;
  if (outcome?.http) result.http = outcome.http;
  if (probed.hold) result.hold = probed.hold.result;
  return result;
}

/** The outcome as the verdict sees it: a passed check whose held connection was dropped or reset has failed. */
function judgedOutcome(probed: ProbedTarget): ProbeOutcome | undefined {
  const { outcome, hold } = probed;
  if (!outcome) return undefined;
  if (hold?.failure && outcome.ok) return { ...outcome, ok: false, failure: hold.failure };
  if (hold && outcome.ok) return { ...outcome, note: [outcome.note, `--hold: ${hold.result.detail}`].filter(Boolean).join('; ') };
  return outcome;
}

/**
 * First pass: each target on its own. Fallbacks need the other targets' results and are applied afterwards
 * by {@link applyFallbacks}.
 */
export function resultOf(probed: ProbedTarget): Result {
  const result = baseResult(probed);
  const { target } = probed;
  const outcome = judgedOutcome(probed);
  const skipReason = probed.skipReason ?? target.skipReason;
  // The result is this call's own: filled in place, in the order the report shows its fields.
  if (skipReason !== undefined || !outcome) {
    result.note = skipReason ?? 'not probed';
    return result;
  }
  const outside = addressesOutsideCidr(target, outcome);
  if (outcome.ok && outside.length === 0) {
    result.status = 'pass';
    if (outcome.note !== undefined) result.note = outcome.note;
    return result;
  }
  const cidrFailure = failure(
    'dns_outside_cidr',
    'dns',
    `${outside.join(', ')} outside ${unique(outside.flatMap((a) => rangesForFamily(a, target.rule.cidr))).join(', ')}`,
  );
  const error = outcome.ok ? cidrFailure : outcome.failure!;
  const notes: string[] = [];
  if (outcome.ok) notes.push('the connection works, but a firewall rule for the documented range would not cover it');
  else if (outside.length > 0) notes.push(cidrFailure.message);

  // A retired port only ever warns, whatever the rule's severity.
  const legacy = target.rule.legacy?.ports.includes(target.port) ? target.rule.legacy : undefined;
  if (legacy) notes.unshift(`retired port (since ${legacy.retired}): ${legacy.note}`);
  // local_overload is about this machine, not the network: a warning, never a failed check.
  const overloaded = error.code === 'local_overload';
  const status: Status = legacy || overloaded || target.rule.severity === 'warning' || outcome.ok ? 'warn' : 'fail';
  // A copy, not the result completed in place: objects that grew past their literal's shape made the findings and
  // every renderer about 1.5 times slower on 6,000 failing results (bench/scale.bench.js).
  return {
    ...result,
    status,
    error,
    ...(notes.length > 0 && { note: notes.join('; ') }),
    ...(legacy && { legacy: { retired: legacy.retired, note: legacy.note } }),
  };
}

/**
 * An IPv6 result that failed while IPv4 to the same host and port passed becomes a warning: the classic IPv6
 * blackhole. Devices try IPv6 first and fall back to IPv4 after a delay, so pushes still arrive, late.
 * A CIDR finding on a working connection is not a broken path and is left alone.
 */
export function applyFamilyFallbacks(results: Result[]): Result[] {
  // Most runs have no IPv6 problem at all: then there are no twins to index (a key string per result).
  if (!results.some(mayFallBackToIpv4)) return results;
  // The first passing IPv4 twin of each (rule set, rule, host, port), found once rather than searched per result.
  const passedIpv4 = new Map<string, Result>();
  for (const other of results) {
    if (other.family !== 'ipv4' || other.status !== 'pass') continue;
    const key = twinKey(other);
    if (!passedIpv4.has(key)) passedIpv4.set(key, other);
  }
  return results.map((result) => {
    if (!mayFallBackToIpv4(result)) return result;
    const ipv4 = passedIpv4.get(twinKey(result));
    if (!ipv4) return result;
    const note =
      `IPv6 fails while IPv4 works${ipv4.address ? ` (${ipv4.address})` : ''}: devices fall back to IPv4 after a delay ` +
      '(seconds per connection), so pushes arrive late; fix the IPv6 path or stop advertising IPv6 on this network';
    return {
      ...result,
      status: 'warn',
      note: result.note ? `${note}; ${result.note}` : note,
      familyFallback: { family: 'ipv4', ...(ipv4.address !== undefined && { address: ipv4.address }), note },
    };
  });
}

/** An IPv6 result whose failure an IPv4 twin that passed would turn into a warning. */
function mayFallBackToIpv4(result: Result): boolean {
  if (result.family !== 'ipv6' || (result.status !== 'fail' && result.status !== 'warn') || result.legacy) return false;
  // A device whose IPv6 connection was forgotten while idle does not fall back: it waits, missing pushes.
  if (isHoldFailure(result)) return false;
  return result.error !== undefined && result.error.code !== 'dns_outside_cidr';
}

function twinKey(result: Result): string {
  return `${result.ruleset}\u0000${result.rule}\u0000${result.host}\u0000${result.port}`;
}

/** The targets of one fallback (a rule's fallback rule and ports) that could carry a failed target, by host. */
interface Carriers {
  /** Per host: how many candidates it has, the first of them that passed, and the first this machine could not judge. */
  byHost: Map<string, { count: number; passed?: Result; unjudged?: Result }>;
  /** The first passing candidate on any host. */
  any?: Result;
  /** The first candidate on any host that read local_overload. */
  anyUnjudged?: Result;
}

/**
 * A failed target whose rule names a fallback becomes a warning when a fallback target on the same host passed
 * (5223 blocked, 443 open: devices on Wi-Fi still get their pushes); with no fallback target on its host, one on
 * another host counts. Where no fallback target passed but one could not be judged (local_overload: this machine
 * was too busy), whether the fallback works is not known: the failed target becomes a warning that says so, as
 * local_overload never fails a run on its own. The carriers of each fallback are gathered once: searching all
 * results for every failed target grew with the square of the targets.
 */
export function applyFallbacks(results: Result[], ruleSets: RuleSet[]): Result[] {
  // Only a failed result falls back: without one, nothing to index.
  if (!results.some((result) => result.status === 'fail')) return results;
  const rulesById = new Map(ruleSets.flatMap((set) => set.rules.map((rule) => [`${set.id}\u0000${rule.id}`, rule])));
  const byRule = new Map<string, Result[]>();
  for (const result of results) {
    const key = `${result.ruleset}\u0000${result.rule}`;
    const list = byRule.get(key);
    if (list) list.push(result);
    else byRule.set(key, [result]);
  }
  const carriersOf = new Map<string, Carriers>();
  const carriers = (ruleset: string, ruleId: string, fallback: NonNullable<Rule['fallback']>): Carriers => {
    const key = `${ruleset}\u0000${ruleId}`;
    let found = carriersOf.get(key);
    if (!found) {
      const made: Carriers = { byHost: new Map() };
      for (const other of byRule.get(`${ruleset}\u0000${fallback.rule}`) ?? []) {
        if (fallback.ports.length > 0 && !fallback.ports.includes(other.port)) continue;
        const passed = other.status === 'pass' ? other : undefined;
        const unjudged = other.error?.code === 'local_overload' ? other : undefined;
        if (passed) made.any ??= passed;
        if (unjudged) made.anyUnjudged ??= unjudged;
        const host = made.byHost.get(other.host);
        if (!host) made.byHost.set(other.host, { count: 1, ...(passed && { passed }), ...(unjudged && { unjudged }) });
        else {
          host.count += 1;
          if (passed) host.passed ??= passed;
          if (unjudged) host.unjudged ??= unjudged;
        }
      }
      carriersOf.set(key, made);
      found = made;
    }
    return found;
  };
  return results.map((result) => {
    // Devices keep to a port that connects: a fallback port does not stand in for one whose idle connections are forgotten.
    if (result.status !== 'fail' || isHoldFailure(result)) return result;
    const fallback = rulesById.get(`${result.ruleset}\u0000${result.rule}`)?.fallback;
    if (!fallback || (fallback.for.length > 0 && !fallback.for.includes(result.port))) return result;
    const { byHost, any, anyUnjudged } = carriers(result.ruleset, result.rule, fallback);
    // Only passing results carry, so a failed one is never its own carrier; it must not count as a candidate of its host.
    const isCandidate = result.rule === fallback.rule && (fallback.ports.length === 0 || fallback.ports.includes(result.port));
    const host = byHost.get(result.host);
    const onHost = host !== undefined && host.count - (isCandidate ? 1 : 0) > 0;
    const carrier = onHost ? host.passed : any;
    if (!carrier) {
      const unjudged = onHost ? host.unjudged : anyUnjudged;
      if (!unjudged) return result;
      return {
        ...result,
        status: 'warn',
        note: `fallback not judged: ${unjudged.host}:${unjudged.port} read local_overload (this machine was too busy to judge it). ${fallback.note}`,
        unjudgedFallback: { rule: unjudged.rule, host: unjudged.host, port: unjudged.port, note: fallback.note },
      };
    }
    return {
      ...result,
      status: 'warn',
      note: `fallback works: ${carrier.host}:${carrier.port} passed. ${fallback.note}`,
      fallback: { rule: carrier.rule, host: carrier.host, port: carrier.port, note: fallback.note },
    };
  });
}

/**
 * Server certificates that expire within `warnDays`. On the user's own rule files (their MDM server, their
 * message-file server) a passing target becomes a warning: theirs to renew in time. On the built-in vendor rules it
 * stays a pass with a note: the vendor rotates its certificates, and there is nothing for the admin to do.
 */
export function applyCertificateExpiry(results: Result[], ruleSets: RuleSet[], warnDays: number): Result[] {
  // Most runs have no certificate about to expire (a TCP run has none at all): then the results are returned as they are.
  if (!results.some((result) => expiresWithin(result, warnDays))) return results;
  const builtin = new Set(ruleSets.filter((set) => set.builtin).map((set) => set.id));
  return results.map((result) => {
    const tls = result.tls;
    if (!tls || !expiresWithin(result, warnDays)) return result;
    const when = `expires ${tls.validTo.slice(0, 10)}, in ${tls.daysLeft} day${tls.daysLeft === 1 ? '' : 's'}`;
    if (builtin.has(result.ruleset)) {
      const note = `the server certificate ${when}; the vendor rotates it`;
      return { ...result, note: result.note ? `${result.note}; ${note}` : note };
    }
    return { ...result, status: 'warn', error: failure('tls_expiring', 'tls', `${when}; warning at ${warnDays} days (--warn-days)`) };
  });
}

/** A passing result whose server certificate expires within `warnDays` (and has not expired). */
function expiresWithin(result: Result, warnDays: number): boolean {
  const tls = result.tls;
  return result.status === 'pass' && tls !== undefined && tls.daysLeft >= 0 && tls.daysLeft < warnDays;
}

/**
 * Per-rule facts across targets: the distinct addresses found, and the CIDR verdict. `proxied`: the run went
 * through --proxy, which resolved the names, so no address of its own was there to judge.
 */
export function summariseRules(ruleSets: RuleSet[], probed: ProbedTarget[], options: { proxied?: boolean } = {}): RuleSummary[] {
  const seen = seenByRule(probed);
  return ruleSets.flatMap((set) =>
    set.rules.map((rule): RuleSummary => {
      const mine = seen.get(set.id)?.get(rule.id);
      const summary: RuleSummary = {
        ruleset: set.id,
        rule: rule.id,
        documentedHost: rule.host,
        hosts: mine ? [...mine.hosts] : [],
        addresses: mine ? [...mine.addresses] : [],
      };
      if (rule.cidr.length === 0) return summary;
      const pinned = mine ? [...mine.pinned] : [];
      const fromDns = mine ? [...mine.fromDns] : [];
      // Only addresses of a family the rule has ranges for are judged: IPv4 ranges say nothing about IPv6.
      const judged = fromDns.filter((address) => rangesForFamily(address, rule.cidr).length > 0);
      const judgedSet = new Set(judged);
      const unjudged = fromDns.filter((address) => !judgedSet.has(address));
      const outside = judged.filter((address) => outsideRanges(address, rule.cidr));
      const ranges = rule.cidr.join(', ');
      const unjudgedText =
        unjudged.length > 0
          ? `; ${unique(unjudged.map((a) => FAMILY_NAMES[familyOf(a) ?? 'ipv6'])).join(' and ')} address${unjudged.length === 1 ? '' : 'es'} not judged (the rule lists no range of ${unjudged.length === 1 ? 'its' : 'their'} family): ${unjudged.join(', ')}`
          : '';
      let verdict: 'inside' | 'outside' | 'unknown';
      let message: string;
      let narrow: NonNullable<RuleSummary['cidr']>['narrow'];
      if (outside.length > 0) {
        verdict = 'outside';
        const theirs = unique(outside.flatMap((a) => rangesForFamily(a, rule.cidr))).join(', ');
        message = `${outside.join(', ')} ${outside.length === 1 ? 'lies' : 'lie'} outside ${theirs}: a DNS filter, sinkhole or split-horizon resolver is answering for these names, and allowing ${ranges} would not cover them${unjudgedText}`;
      } else if (judged.length > 0) {
        verdict = 'inside';
        message = `all ${judged.length} address${judged.length === 1 ? '' : 'es'} found lie in ${ranges}: allowing ${ranges} covers this rule`;
        if (rule.narrowCidr.length > 0) {
          const narrowOutside = judged.filter((address) => outsideRanges(address, rule.narrowCidr) || rangesForFamily(address, rule.narrowCidr).length === 0);
          narrow = { ranges: rule.narrowCidr, outside: narrowOutside, verdict: narrowOutside.length > 0 ? 'outside' : 'inside' };
          message +=
            narrowOutside.length === 0
              ? `; they also lie inside the narrow ranges (${rule.narrowCidr.join(', ')}), so a network that cannot open the whole block may allow those instead`
              : `; ${narrowOutside.join(', ')} ${narrowOutside.length === 1 ? 'lies' : 'lie'} outside the narrow ranges (${rule.narrowCidr.join(', ')}), so allowing only those would not cover this rule`;
        }
        message += unjudgedText;
      } else if (unjudged.length > 0) {
        verdict = 'unknown';
        message = `no address of a family that ${ranges} covers was found${unjudgedText}`;
      } else {
        verdict = 'unknown';
        message =
          pinned.length > 0
            ? `addresses pinned with --resolve are not judged against ${ranges}`
            : options.proxied
              ? `the proxy (--proxy) resolved the names, so ${ranges} could not be checked`
              : `no address resolved, so ${ranges} could not be checked`;
      }
      return { ...summary, cidr: { ranges: rule.cidr, outside, pinned, verdict, message, ...(narrow && { narrow }) } };
    }),
  );
}

/** What the targets of one rule saw, each list in the order first seen. */
interface SeenByRule {
  hosts: Set<string>;
  addresses: Set<string>;
  /** Addresses pinned with --resolve, and those DNS gave. */
  pinned: Set<string>;
  fromDns: Set<string>;
}

/** One pass over the probed targets: rule set id → rule id → what its targets saw. */
function seenByRule(probed: ProbedTarget[]): Map<string, Map<string, SeenByRule>> {
  const bySet = new Map<string, Map<string, SeenByRule>>();
  let seen: SeenByRule | undefined;
  let seenFor: Target | undefined;
  // What the last target of the same rule added: the next one mostly has the same host, and the same addresses (one
  // lookup's list, shared), which the sets already hold.
  let lastHost: string | undefined;
  let lastAddresses: string[] | undefined;
  let lastPinned = false;
  // Indexed loops: this runs once a run, over every target, in V8's interpreter, where a for-of loop's iterator cost
  // more than the work inside it.
  for (let i = 0; i < probed.length; i += 1) {
    const { target, outcome } = probed[i]!;
    // A rule's targets mostly come one after another: the lookup is skipped for the next of the same rule.
    if (!seen || seenFor!.ruleset !== target.ruleset || seenFor!.rule.id !== target.rule.id) {
      let byRule = bySet.get(target.ruleset);
      if (!byRule) bySet.set(target.ruleset, (byRule = new Map()));
      seen = byRule.get(target.rule.id);
      if (!seen) byRule.set(target.rule.id, (seen = { hosts: new Set(), addresses: new Set(), pinned: new Set(), fromDns: new Set() }));
      lastHost = undefined;
      lastAddresses = undefined;
    }
    seenFor = target;
    if (target.host !== lastHost) seen.hosts.add((lastHost = target.host));
    if (!outcome) continue;
    const { addresses, pinned } = outcome;
    if (addresses === lastAddresses && pinned === lastPinned) continue;
    lastAddresses = addresses;
    lastPinned = pinned;
    const source = pinned ? seen.pinned : seen.fromDns;
    for (let a = 0; a < addresses.length; a += 1) {
      seen.addresses.add(addresses[a]!);
      source.add(addresses[a]!);
    }
  }
  return bySet;
}

export function summarise(results: Result[]): Summary {
  const counts: Record<Status, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const result of results) counts[result.status] += 1;
  return { total: results.length, passed: counts.pass, failed: counts.fail, warned: counts.warn, skipped: counts.skip };
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** What a run (a check, a burst) knows at its end; {@link reportOf} makes the report of it. */
export interface RunEnd {
  ruleSets: RuleSet[];
  results: Result[];
  rules: RuleSummary[];
  /** The causes behind the failures (none for a burst). */
  findings: Report['findings'];
  recorded: RunOptions;
  /** Warnings fail the run too. */
  strict: boolean;
  startedAt: Date;
  durationMs: number;
  interrupted: boolean;
  /** Why the run was aborted (the signal that stopped it), for the exit code. */
  interruptReason?: unknown;
}

/** Where a report was made: the machine and Node running pushcheck. */
export function reportEnvironment(): Report['environment'] {
  return { node: process.version, platform: process.platform, release: release(), arch: process.arch };
}

/**
 * `date.toISOString()`, the same text, made without it: V8 11 (Node 20) looks up the local time zone's name for every
 * Date it formats, and the first lookup loads ICU's time-zone data, 0.2–0.5 ms at the end of a TCP run, which formats no
 * other date. The UTC fields need no time zone. A year outside 0–9999 (written with a sign) and an invalid date (a
 * RangeError) are left to toISOString.
 */
export function isoString(date: Date): string {
  const year = date.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) return date.toISOString();
  const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
  const ms = date.getUTCMilliseconds();
  return (
    `${String(year).padStart(4, '0')}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
  );
}

/** The report of a finished run: verdict and exit code from its results, the environment of this machine. */
export function reportOf(end: RunEnd): Report {
  const verdict = verdictOf(end.results, end.strict);
  return {
    schemaVersion: 1,
    tool: { name: 'pushcheck', version },
    environment: reportEnvironment(),
    startedAt: isoString(end.startedAt),
    durationMs: Math.round(end.durationMs * 10) / 10,
    options: end.recorded,
    rulesets: end.ruleSets.map((set) => ({
      id: set.id,
      title: set.title,
      ...(set.source !== undefined && { source: set.source }),
      notes: set.notes,
      file: set.builtin ? `builtin:${set.id}` : set.file,
    })),
    summary: summarise(end.results),
    verdict,
    exitCode: end.interrupted ? interruptedExitCode(end.interruptReason) : verdict === 'fail' ? 1 : 0,
    interrupted: end.interrupted,
    findings: end.findings,
    results: end.results,
    rules: end.rules,
  };
}
