/** How a target is named and keyed across formats, so JUnit, Markdown, Prometheus and diff agree. */
import { hostPort } from '../host-port.js';
import type { AddressFamily, Result } from '../types.js';

const FAMILY_LABELS: Record<AddressFamily, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };

/** `IPv4` / `IPv6`, or '' for a result without a family (through a proxy, a DNS failure). */
export function familyLabel(family: AddressFamily | undefined): string {
  return family ? FAMILY_LABELS[family] : '';
}

export { hostPort };

/** A name a person can read in a CI tool: `rule 5 · 1-courier.push.apple.com:5223` (` · IPv6` when split by family). */
export function targetName(result: Pick<Result, 'rule' | 'host' | 'port' | 'family'>): string {
  const family = familyLabel(result.family);
  return `rule ${result.rule} · ${hostPort(result.host, result.port)}${family ? ` · ${family}` : ''}`;
}

/** What identifies a target from one run to the next: rule set, rule, host, port (and family, when there is one). */
export function targetKey(result: Pick<Result, 'ruleset' | 'rule' | 'host' | 'port' | 'family'>): string {
  const key: unknown[] = [result.ruleset, result.rule, result.host.toLowerCase(), result.port];
  if (result.family) key.push(result.family);
  return JSON.stringify(key);
}

/** A duration as a person reads it: `850 ms`, `1.2 s` ('' for none). */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/** Milliseconds as `1.234` seconds. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The rule set ids of a report in order: those listed in `rulesets`, then any only results name. */
export function rulesetIds(report: { rulesets: Array<{ id: string }>; results: Array<{ ruleset: string }> }): string[] {
  return [...new Set([...report.rulesets.map((set) => set.id), ...report.results.map((r) => r.ruleset)])];
}
