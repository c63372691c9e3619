/**
 * Rule files for tests that run pushcheck on a network they built: the fields a test cares about, the texts it
 * does not care about filled in alike. Values are written as JSON strings, which YAML reads as they are (a host
 * such as `*.quiet.test` needs the quotes).
 */
import { writeFileSync } from 'node:fs';

export interface RuleSpec {
  id: string;
  host: string;
  /** Ports or port ranges (`"7100-7109"`). */
  ports: ReadonlyArray<number | string>;
  check: string;
  probe?: readonly string[];
  severity?: 'critical' | 'warning';
  cidr?: string;
  hold?: boolean;
  purpose?: string;
  /** Default: "Devices receive no push notifications (rule <id>)". */
  impact?: string;
  fallback?: { rule: string; ports: number[]; for: number[]; note: string };
}

const text = (value: string): string => JSON.stringify(value);
const list = (values: ReadonlyArray<number | string>): string => `[${values.map((v) => (typeof v === 'number' ? String(v) : text(v))).join(', ')}]`;

/** The YAML of a rule set with these rules. */
export function ruleSetYaml(id: string, title: string, rules: RuleSpec[]): string {
  const lines = [`id: ${text(id)}`, `title: ${text(title)}`, 'rules:'];
  for (const rule of rules) {
    lines.push(`  - id: ${text(rule.id)}`, `    host: ${text(rule.host)}`);
    if (rule.probe) lines.push(`    probe: ${list(rule.probe)}`);
    lines.push(
      `    ports: ${list(rule.ports)}`,
      `    check: ${rule.check}`,
      `    purpose: ${text(rule.purpose ?? 'Devices keep their persistent connection to the push service')}`,
      `    impact: ${text(rule.impact ?? `Devices receive no push notifications (rule ${rule.id})`)}`,
      `    severity: ${rule.severity ?? 'critical'}`,
    );
    if (rule.hold) lines.push('    hold: true');
    if (rule.cidr) lines.push(`    cidr: ${rule.cidr}`);
    if (rule.fallback) {
      const f = rule.fallback;
      lines.push(`    fallback: { rule: ${text(f.rule)}, ports: ${list(f.ports)}, for: ${list(f.for)}, note: ${text(f.note)} }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the rule set to `file` and returns the path. */
export function writeRuleFile(file: string, id: string, title: string, rules: RuleSpec[]): string {
  writeFileSync(file, ruleSetYaml(id, title, rules));
  return file;
}
