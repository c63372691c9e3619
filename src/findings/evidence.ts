/**
 * What the cause detectors share: the shape of a detector, the questions they ask of a result (did it resolve, did
 * it connect), and the words they build their sentences from (port lists, host lists, firewall names).
 */
import { hostPort } from '../host-port.js';
import type { FailureCode, Finding, FindingCause, FindingSeverity, Result } from '../types.js';

/** What the run knew beyond its results. */
export interface RunContext {
  /** When the run started, by this machine's clock (ISO 8601). */
  startedAt?: string;
}

export interface Evidence extends RunContext {
  /** Every result of the run, passing ones included: the evidence a cause is weighed against. */
  all: readonly Result[];
}

/** What a detector found: the words, and the results it explains. */
export interface Detection {
  summary: string;
  action: string;
  detail?: string;
  subject?: string;
  /** The results this cause explains; only those no earlier cause explained are counted. */
  explains: readonly Result[];
  /** Default: `critical` when it explains a failed result, else `warning`. */
  severity?: FindingSeverity;
}

/** One cause: a small pure function from the results not yet explained to what it finds among them. */
export interface CauseDetector {
  cause: FindingCause;
  detect(open: readonly Result[], evidence: Evidence): Detection[];
}

/**
 * A result that did not pass and says why: what findings explain. local_overload is not one: it says this machine
 * was too busy to judge the target, nothing about the network (a retired port starved on a busy machine made
 * legacy_only claim that "only retired ports fail" on a healthy network).
 */
export function isProblem(result: Result): boolean {
  return (result.status === 'fail' || result.status === 'warn') && result.error !== undefined && result.error.code !== 'local_overload';
}

export function hasCode(result: Result, codes: ReadonlySet<FailureCode>): boolean {
  return result.error !== undefined && codes.has(result.error.code);
}

/** The name led to an address (from DNS or a pin). */
export function resolved(result: Result): boolean {
  return result.address !== undefined || result.addresses.length > 0;
}

/** A TCP connection was made: it passed, or it failed after the connect phase (TLS, HTTP). */
export function connected(result: Result): boolean {
  if (result.status === 'skip') return false;
  if (!result.error) return true;
  return result.error.phase === 'tls' || result.error.phase === 'http';
}

/** Connect-phase codes that a firewall gives: a drop, a reject, an ICMP unreachable, a reset. */
export const FIREWALL_CODES: ReadonlySet<FailureCode> = new Set(['tcp_refused', 'tcp_timeout', 'tcp_unreachable', 'tcp_reset']);

export function unique<T>(items: Iterable<T>): T[] {
  return [...new Set(items)];
}

export function example(result: Result): string {
  return `${result.ruleset}/${result.rule} ${hostPort(result.host, result.port)}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** `a`, `a and b`, `a, b and c`; past `max` items: `a, b, c and 4 more`. */
export function listText(items: readonly string[], max = 8): string {
  const shown = items.length > max ? [...items.slice(0, max), `${items.length - max} more`] : [...items];
  if (shown.length <= 1) return shown[0] ?? '';
  return `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}`;
}

/** `5223, 5228–5230 and 2197`: sorted, runs of three or more as ranges. */
export function portsText(ports: Iterable<number>): string {
  const sorted = unique(ports).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j += 1;
    if (j - i >= 2) parts.push(`${sorted[i]}–${sorted[j]}`);
    else for (let k = i; k <= j; k += 1) parts.push(String(sorted[k]));
    i = j + 1;
  }
  return listText(parts, 20);
}

/** The parent domain of a host name (`api.push.apple.com` → `push.apple.com`); undefined for an address. */
function parentOf(host: string): string | undefined {
  if (host.includes(':') || /^[\d.]+$/.test(host)) return undefined;
  const labels = host.toLowerCase().replace(/\.$/, '').split('.');
  return labels.length >= 3 ? labels.slice(1).join('.') : undefined;
}

/**
 * The names a firewall or inspection policy is written with: `*.push.apple.com` for numbered and wildcard hosts
 * (`#-courier.push.apple.com`) and for two or more hosts under one parent below the registered domain, the host
 * itself otherwise.
 */
export function policyNames(results: readonly Result[]): string[] {
  const hosts = unique(results.map((r) => r.host.toLowerCase()));
  const byParent = groupBy(
    hosts.filter((host) => parentOf(host) !== undefined),
    (host) => parentOf(host)!,
  );
  const wildcard = new Set(
    results.filter((r) => /[#*]/.test(r.documentedHost)).flatMap((r) => parentOf(r.host) ?? []),
  );
  for (const [parent, members] of byParent) if (members.length >= 2 && parent.split('.').length >= 3) wildcard.add(parent);
  // `*.push.apple.com` covers courier.sandbox.push.apple.com too: firewalls match the suffix. Of several parents
  // that cover a host, the first found wins; each of the host's own suffixes is looked up rather than every parent tried.
  const order = new Map([...wildcard].map((parent, i) => [parent, i]));
  const names = hosts.map((host) => {
    let cover: string | undefined;
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
      const suffix = host.slice(dot + 1);
      const rank = order.get(suffix);
      if (rank !== undefined && (cover === undefined || rank < order.get(cover)!)) cover = suffix;
    }
    return cover ? `*.${cover}` : host;
  });
  return unique(names);
}

/** Groups items by a key, keeping first-seen order. */
export function groupBy<T>(items: Iterable<T>, key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    // Pushed, not copied: a copy per item made a group of n items cost n².
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** The finding a detection becomes, over the results it explains (never empty). */
export function findingOf(cause: FindingCause, detection: Detection, explained: readonly Result[]): Finding {
  return {
    cause,
    severity: detection.severity ?? (explained.some((r) => r.status === 'fail') ? 'critical' : 'warning'),
    summary: detection.summary,
    action: detection.action,
    ...(detection.detail !== undefined && { detail: detection.detail }),
    ...(detection.subject !== undefined && { subject: detection.subject }),
    targets: explained.length,
    examples: explained.slice(0, 5).map(example),
    rulesets: unique(explained.map((r) => r.ruleset)),
  };
}
