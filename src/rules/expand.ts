/**
 * RuleSet → Target[]: the concrete (host, port, check) triples a run probes.
 * Also the small parsers shared by the rule loader and the CLI (ports, ranges, --var).
 */
import { UsageError } from '../errors.js';
import { checkOf } from '../probes/index.js';
import type { CheckKind, NumberedHosts, Rule, RuleSet, RuleVar, Target } from '../types.js';
import { defaultPortOf, parseUrl, URL_FORM } from './urls.js';

/** Used for a `#` host when neither the rule nor the command line says otherwise (Intune documents 0–50). */
export const DEFAULT_NUMBERED: Readonly<NumberedHosts> = { from: 0, to: 50, sample: 5 };

/** A single range may not expand to more ports than this; it keeps a typo like 1-65535 from exploding a run. */
export const MAX_PORTS_PER_RANGE = 100;

/** Largest number accepted in a rule file's `#` host range. */
export const MAX_HOST_NUMBER = 9999;

/**
 * `443`, `"443"` or `"5228-5230"` → the ports it names, in order.
 * Throws UsageError (one line, no position) on anything else; callers add where it came from.
 */
export function parsePortSpec(spec: unknown): number[] {
  const text = typeof spec === 'number' ? String(spec) : typeof spec === 'string' ? spec.trim() : '';
  if (!/^\d+(\s*-\s*\d+)?$/.test(text)) {
    const shown = typeof spec === 'string' ? `"${spec}"` : String(spec);
    throw new UsageError(`${shown} is not a port number or a range like "5228-5230"`);
  }
  const [from, to] = parsePortRange(text, 'port', 1, 65535);
  if (to - from + 1 > MAX_PORTS_PER_RANGE) {
    throw new UsageError(`port range "${text}" spans ${to - from + 1} ports; at most ${MAX_PORTS_PER_RANGE} are allowed`);
  }
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * `"5228-5230"` or `"7"` → [from, to], each within min..max. `label` starts every message
 * (`port`, `--courier`), so the one-line UsageError says what was wrong where.
 */
export function parsePortRange(text: string, label: string, min = 1, max = 65535): [number, number] {
  const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(text.trim());
  if (!match) throw new UsageError(`${label} "${text}": expected a number or a range like ${min}-${Math.min(max, min + 50)}`);
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  for (const n of [from, to]) {
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${label} ${n} is out of range ${min}-${max}`);
  }
  if (from > to) throw new UsageError(`${label} range "${text.trim()}" runs backwards; write "${to}-${from}"`);
  return [from, to];
}

/**
 * `sample` numbers spread evenly over from..to, both ends included, ascending, no duplicates;
 * every number when the range holds no more than `sample`. Deterministic, so runs compare.
 */
export function sampleNumbers(from: number, to: number, sample: number): number[] {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from > to) {
    throw new RangeError(`bad number range ${from}-${to}`);
  }
  if (!Number.isSafeInteger(sample) || sample < 1) throw new RangeError(`bad sample size ${sample}`);
  const count = to - from + 1;
  if (count <= sample) return Array.from({ length: count }, (_, i) => from + i);
  if (sample === 1) return [from];
  // With count > sample the step is above 1, so rounded points never collide.
  const step = (to - from) / (sample - 1);
  return Array.from({ length: sample }, (_, i) => from + Math.round(i * step));
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether `name` can be a `--var` / `${name}` variable. */
export function isVarName(name: string): boolean {
  return VAR_NAME.test(name);
}

/** `["messageUrl=https://x/m.ibi"]` (from repeated `--var`) → {messageUrl: "https://x/m.ibi"}. */
export function parseVars(list: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !VAR_NAME.test(name)) {
      throw new UsageError(`--var "${item}": expected name=value, e.g. --var messageUrl=https://your-server/path/messages.ibi`);
    }
    const value = item.slice(eq + 1);
    if (value === '') throw new UsageError(`--var ${name}: the value is empty`);
    if (Object.hasOwn(vars, name)) throw new UsageError(`--var ${name} is given twice`);
    vars[name] = value;
  }
  return vars;
}

/** The `${name}` placeholders of a url template, in order of first use. Throws UsageError on a malformed one. */
export function placeholderNames(template: string): string[] {
  const names: string[] = [];
  for (const match of template.matchAll(/\$\{([^}]*)(\}?)/g)) {
    const name = match[1] as string;
    if (match[2] !== '}') throw new UsageError(`"\${" without a closing "}" in ${JSON.stringify(template)}`);
    if (!VAR_NAME.test(name)) throw new UsageError(`"\${${name}}" is not a valid placeholder; use \${name} with letters, digits, _`);
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

export interface ExpandOptions {
  /** From `--var name=value`, see parseVars. */
  vars: Record<string, string>;
  /** From `--courier a-b` / `--courier-sample n`; overrides each rule's `numbered`. */
  numbered?: Partial<NumberedHosts>;
}

/** Every target of a rule set, rule by rule in file order. Throws UsageError for a --var that makes no URL. */
export function expandTargets(ruleSet: RuleSet, options: ExpandOptions): Target[] {
  return ruleSet.rules.flatMap((rule) =>
    rule.url === undefined ? hostTargets(ruleSet, rule, options) : [urlTarget(ruleSet, rule, rule.url, options.vars)],
  );
}

/**
 * How many targets {@link expandTargets} makes, without making them: a rule file of 200 numbered hosts × 100 ports
 * asks for millions, and the count must come before the memory does.
 */
export function countTargets(ruleSet: RuleSet, options: Pick<ExpandOptions, 'numbered'>): number {
  let count = 0;
  for (const rule of ruleSet.rules) {
    if (rule.url !== undefined) {
      count += 1;
      continue;
    }
    const documented = rule.probe.length > 0 ? rule.probe : [rule.host];
    for (const host of documented) count += numberedCount(host, rule, options.numbered) * rule.ports.length;
  }
  return count;
}

function numberedCount(host: string, rule: Rule, override: Partial<NumberedHosts> | undefined): number {
  if (!host.includes('#')) return 1;
  const numbered = { ...DEFAULT_NUMBERED, ...rule.numbered, ...definedOnly(override) };
  return Math.max(0, Math.min(numbered.to - numbered.from + 1, numbered.sample));
}

function hostTargets(ruleSet: RuleSet, rule: Rule, options: ExpandOptions): Target[] {
  const documented = rule.probe.length > 0 ? rule.probe : [rule.host];
  const hosts = documented.flatMap((host) => numberHost(host, rule, options.numbered));
  // Each port's check and its facts once per rule, not once per host: 10 hosts × 100 ports looked them up 2,000 times.
  const checks = rule.ports.map((port) => (rule.plainPorts.includes(port) ? checkOf(rule.check).plain : rule.check));
  const facts = checks.map((check) => checkOf(check));
  const targets: Target[] = [];
  for (const host of hosts) {
    for (let i = 0; i < rule.ports.length; i += 1) {
      const port = rule.ports[i] as number;
      const target: Target = { ruleset: ruleSet.id, rule, host, port, check: checks[i] as CheckKind };
      const url = facts[i]?.url?.(host, port, rule);
      if (url !== undefined) target.url = url;
      targets.push(target);
    }
  }
  return targets;
}

function numberHost(host: string, rule: Rule, override: Partial<NumberedHosts> | undefined): string[] {
  // DNS names are case-insensitive; lower case keeps SNI and report rows uniform.
  const lower = host.toLowerCase();
  if (!lower.includes('#')) return [lower];
  const numbered = { ...DEFAULT_NUMBERED, ...rule.numbered, ...definedOnly(override) };
  if (numbered.from > numbered.to) throw new UsageError(`--courier ${numbered.from}-${numbered.to} runs backwards`);
  if (!Number.isSafeInteger(numbered.sample) || numbered.sample < 1) {
    throw new UsageError(`--courier-sample must be a whole number of at least 1, not ${numbered.sample}`);
  }
  return sampleNumbers(numbered.from, numbered.to, numbered.sample).map((n) => lower.replaceAll('#', String(n)));
}

function definedOnly<T extends object>(value: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function urlTarget(ruleSet: RuleSet, rule: Rule, template: string, vars: Record<string, string>): Target {
  const names = placeholderNames(template);
  const missing = names.filter((name) => vars[name] === undefined);
  const own = checkOf(rule.check);
  if (missing.length > 0 && own.urlTarget) {
    const skipReason = missing.map((name) => missingVarHint(name, rule, ruleSet.vars ?? [])).join('; ');
    return { ruleset: ruleSet.id, rule, host: rule.host, port: rule.ports[0] ?? 0, check: rule.check, skipReason };
  }
  if (own.urlTarget) {
    const text = template.replace(/\$\{([^}]+)\}/g, (_, name: string) => vars[name] as string);
    const named = own.urlTarget(text);
    if (!named) {
      // The value may hold a password: never shown.
      throw new UsageError(`${names.map((name) => `--var ${name}`).join(' ')}: rule ${ruleSet.id}/${rule.id} needs ${own.urlForm ?? 'another url'}`);
    }
    return { ruleset: ruleSet.id, rule, host: named.host.toLowerCase(), port: named.port, check: rule.check, url: text };
  }
  if (missing.length > 0) {
    return {
      ruleset: ruleSet.id,
      rule,
      host: rule.host,
      port: rule.ports[0] ?? defaultPortOf(rule.check),
      check: rule.check,
      skipReason: missing.map((name) => missingVarHint(name, rule, ruleSet.vars ?? [])).join('; '),
    };
  }
  const text = template.replace(/\$\{([^}]+)\}/g, (_, name: string) => vars[name] as string);
  const parsed = parseUrl(text);
  if (!parsed) {
    const given = names.map((name) => `--var ${name}=${vars[name]}`).join(' ');
    throw new UsageError(`${given}: rule ${ruleSet.id}/${rule.id} needs ${URL_FORM}, got "${text}"`);
  }
  return { ruleset: ruleSet.id, rule, host: parsed.host.toLowerCase(), port: parsed.port, check: parsed.check, url: parsed.url };
}

/** The set's `vars` entry makes the hint concrete; an undeclared variable gets a generic one. */
function missingVarHint(name: string, rule: Rule, declared: RuleVar[]): string {
  const info = declared.find((v) => v.name === name);
  return info
    ? `set --var ${name}=${info.example} to check ${info.checks}`
    : `set --var ${name}=<value> to check rule ${rule.id}`;
}
