/** How a target is named and keyed across formats, so JUnit, Markdown, Prometheus and diff agree. */
import type { Result } from '../types.js';

/** `host:port`, with an IPv6 literal in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A name a person can read in a CI tool: `rule 5 · 1-courier.push.apple.com:5223`. */
export function targetName(result: Pick<Result, 'rule' | 'host' | 'port'>): string {
  return `rule ${result.rule} · ${hostPort(result.host, result.port)}`;
}

/** What identifies a target from one run to the next: rule set, rule, host and port. */
export function targetKey(result: Pick<Result, 'ruleset' | 'rule' | 'host' | 'port'>): string {
  return JSON.stringify([result.ruleset, result.rule, result.host.toLowerCase(), result.port]);
}

/** Milliseconds as `1.234` seconds. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The rule set ids of a report in order: those listed in `rulesets`, then any only results name. */
export function rulesetIds(report: { rulesets: Array<{ id: string }>; results: Array<{ ruleset: string }> }): string[] {
  return [...new Set([...report.rulesets.map((set) => set.id), ...report.results.map((r) => r.ruleset)])];
}
