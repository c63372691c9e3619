/**
 * The fields of a rule file: plain data (from YAML) → RuleSet, or a FileError naming the field.
 * Knows nothing of YAML; load.ts supplies `lineOf` so every error carries its line.
 */
import { readCredentials } from './credentials.js';
import { article, describe, Fields, isMapping, orList, type FieldPath, type Source } from '../fields.js';
import { ipVersion } from '../ip-version.js';
import { checkNames, checkOf, probeFor, ruleSections } from '../probes/index.js';
import type {
  CheckKind,
  Fallback,
  LegacyPorts,
  NumberedHosts,
  Rule,
  RuleOrigin,
  RuleSet,
  RuleVar,
  Severity,
} from '../types.js';
import { cidrWithin, parseCidr } from './cidr.js';
import {
  DEFAULT_NUMBERED,
  MAX_HOST_NUMBER,
  isVarName,
  parsePortRange,
  parsePortSpec,
  placeholderNames,
} from './expand.js';
import { checkOfScheme, defaultUrlCheck, parseUrl, schemeChecks, schemeOf, URL_FORM } from './urls.js';

const RULE_SET_KEYS = ['id', 'title', 'aliases', 'source', 'notes', 'vars', 'credentials', 'rules'] as const;
/** The keys every rule may have; the probe kinds' own keys (`http`, `tls`) come from the registry, in name order. */
const RULE_KEYS: readonly string[] = [
  'id', 'host', 'probe', 'ports', 'check', 'plainPorts', 'purpose', 'impact', 'severity',
  'origin', 'note', 'cidr', 'narrowCidr', 'vendorIssuers', 'fallback', 'legacy', 'numbered', 'url', 'hold',
  ...ruleSections.map(({ section }) => section.key).sort(),
];
const URL_RULE_FORBIDS = ['probe', 'plainPorts', 'numbered'] as const;
const FALLBACK_KEYS = ['rule', 'ports', 'for', 'note'] as const;
const LEGACY_KEYS = ['ports', 'retired', 'note'] as const;
const NUMBERED_KEYS = ['range', 'sample'] as const;
const VAR_KEYS = ['example', 'checks'] as const;

const SEVERITIES: readonly Severity[] = ['critical', 'warning'];
const ORIGINS: readonly RuleOrigin[] = ['documented', 'current'];
const SET_ID = /^[a-z0-9][a-z0-9._-]*$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_SAMPLE = 100;

/** Validates a whole parsed document and fills the defaults. */
export function toRuleSet(data: unknown, src: Source): RuleSet {
  const f: RuleFields = new RuleFields(src);
  if (!isMapping(data)) {
    f.fail([], `a rule file must be a mapping with id, title and rules, not ${describe(data)}`);
  }
  const top = f.mapping(data, [], RULE_SET_KEYS, ['id', 'title', 'rules']);
  const id = f.setId(top.id, ['id']);
  const ruleSet: RuleSet = {
    id,
    title: f.string(top.title, ['title']),
    aliases: readAliases(f, top.aliases, id),
    notes: f.list(top.notes, ['notes']).map((note, i) => f.string(note, ['notes', i])),
    rules: [],
    vars: readVars(f, top.vars),
    file: src.file,
    builtin: src.builtin,
  };
  if (top.source !== undefined) ruleSet.source = f.string(top.source, ['source']);
  if (top.credentials !== undefined) ruleSet.credentials = readCredentials(f, src.file, top.credentials);

  const rawRules = top.rules;
  if (!Array.isArray(rawRules)) f.fail(['rules'], `expected a list of rules, got ${describe(rawRules)}`);
  if (rawRules.length === 0) f.fail(['rules'], 'needs at least one rule');
  const rules = rawRules.map((raw, i) => readRule(f, raw, ['rules', i]));
  checkRuleIds(f, rules);
  // Fallbacks name other rules, so they are read once every rule is known.
  rawRules.forEach((raw, i) => {
    const fallback = (raw as Record<string, unknown>).fallback;
    const rule = rules[i] as Rule;
    if (fallback !== undefined) rule.fallback = readFallback(f, fallback, ['rules', i, 'fallback'], rule, rules);
  });
  checkVarsUsed(f, ruleSet.vars ?? [], rules);
  ruleSet.rules = rules;
  return ruleSet;
}

/** Where a rule probes: the host, ports and check that its url, or its host, ports and check fields, give. */
type RuleTarget = Pick<Rule, 'host' | 'probe' | 'ports' | 'check' | 'plainPorts'> & Partial<Pick<Rule, 'url' | 'numbered'>>;

function readRule(f: RuleFields, raw: unknown, path: FieldPath): Rule {
  const isUrlRule = isMapping(raw) && raw.url !== undefined;
  const required = isUrlRule
    ? ['id', 'url', 'purpose', 'impact', 'severity']
    : ['id', 'host', 'ports', 'check', 'purpose', 'impact', 'severity'];
  const r = f.mapping(raw, path, RULE_KEYS, required);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];

  const id = f.ruleId(r.id, at('id'));
  const purpose = f.string(r.purpose, at('purpose'));
  const impact = f.string(r.impact, at('impact'));
  const severity = f.oneOf(r.severity, at('severity'), SEVERITIES, 'severity');
  const origin = r.origin === undefined ? 'documented' : f.oneOf(r.origin, at('origin'), ORIGINS, 'origin');
  const cidr = f.list(r.cidr, at('cidr')).map((item, i) => readCidr(f, item, at('cidr', i)));
  const vendorIssuers = f.list(r.vendorIssuers, at('vendorIssuers')).map((item, i) => f.string(item, at('vendorIssuers', i)));
  const line = f.lineOf(path);
  const note = r.note === undefined ? undefined : f.string(r.note, at('note'));
  const narrowCidr = f.list(r.narrowCidr, at('narrowCidr')).map((item, i) => {
    const range = readCidr(f, item, at('narrowCidr', i));
    if (!cidrWithin(range, cidr)) f.fail(at('narrowCidr', i), `${range} does not lie inside any of the rule's cidr ranges`);
    return range;
  });
  // The check is known only once the url (its scheme) or the check field is read: the rule is built after.
  const { url, numbered, ...where } = isUrlRule ? readUrl(f, r, path) : readHostRule(f, r, path);
  const rule: Rule = { id, ...where, purpose, impact, severity, origin, cidr, narrowCidr, vendorIssuers, line };
  if (note !== undefined) rule.note = note;
  if (url !== undefined) rule.url = url;
  if (numbered !== undefined) rule.numbered = numbered;

  for (const { section, checks } of ruleSections) {
    const raw = r[section.key];
    if (raw === undefined) continue;
    if (!checks.includes(rule.check)) {
      f.fail(at(section.key), `only for ${article(checks[0] ?? '')} ${orList(checks)} check, and this rule's check is ${rule.check}`);
    }
    const context = { check: rule.check, ...(isUrlRule && { urlPath: urlPathOf(rule.url) }) };
    Object.assign(rule, { [section.key]: section.read(f, raw, at(section.key), context) });
  }
  if (r.legacy !== undefined) rule.legacy = readLegacy(f, r.legacy, at('legacy'), rule.ports);
  if (r.hold !== undefined && f.boolean(r.hold, at('hold'))) {
    // Only a kind with a hold step can keep its connection and prove it after the idle time.
    const holding = checkNames.filter((name) => probeFor(name).hold !== undefined);
    if (!holding.includes(rule.check)) {
      f.fail(at('hold'), `only for ${article(holding[0] ?? '')} ${orList(holding)} check (a long-lived channel), and this rule's check is ${rule.check}`);
    }
    rule.hold = true;
  }
  return rule;
}

/** host, probe, ports, check, plainPorts and numbered of a rule that names its host. */
function readHostRule(f: RuleFields, r: Record<string, unknown>, path: FieldPath): RuleTarget {
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];
  const host = f.host(r.host, at('host'), { wildcard: true });
  const probe = f.list(r.probe, at('probe')).map((name, i) => f.host(name, at('probe', i), { wildcard: false }));
  if (host.includes('*') && probe.length === 0) {
    f.fail(at('host'), `"${host}" has a wildcard, so the rule needs probe: a list of concrete hosts to test`);
  }
  const check = f.oneOf(r.check, at('check'), checkNames, 'check');
  const ports = f.ports(r.ports, at('ports'));
  const plainPorts = f.list(r.plainPorts, at('plainPorts')).flatMap((spec, i) => f.portsAmong(spec, at('plainPorts', i), ports, "the rule's ports"));
  const numberedHost = (probe.length > 0 ? probe : [host]).some((name) => name.includes('#'));
  if (r.numbered !== undefined && !numberedHost) f.fail(at('numbered'), 'no probed host has a # to fill in');
  const target: RuleTarget = { host, probe, ports, check, plainPorts };
  if (numberedHost) target.numbered = r.numbered === undefined ? { ...DEFAULT_NUMBERED } : readNumbered(f, r.numbered, at('numbered'));
  return target;
}

/**
 * host, ports and check of a rule that names a URL (possibly a `${var}` template). host and ports may
 * be written too, as documentation; with a concrete url they must agree with it.
 */
function readUrl(f: RuleFields, r: Record<string, unknown>, path: FieldPath): RuleTarget {
  const at = (key: string): FieldPath => [...path, key];
  for (const key of URL_RULE_FORBIDS) {
    if (r[key] !== undefined) f.fail(at(key), 'not allowed with url; the url gives the host to probe');
  }
  const url = f.string(r.url, at('url'));
  const names = f.at(at('url'), () => placeholderNames(url));
  let host = r.host === undefined ? url : f.host(r.host, at('host'), { wildcard: false });
  let ports = r.ports === undefined ? [] : f.ports(r.ports, at('ports'));
  const target = (check: CheckKind): RuleTarget => ({ host, probe: [], ports, check, plainPorts: [], url });
  const urlChecks = checkNames.filter((name) => checkOf(name).urlTarget !== undefined);
  const given = r.check === undefined ? undefined : f.oneOf(r.check, at('check'), [...schemeChecks, ...urlChecks], 'check for a url');
  const own = given === undefined ? undefined : checkOf(given);
  if (own?.urlTarget) {
    // A url of a kind of its own (write): that kind says what it names.
    if (names.length === 0) {
      const named = own.urlTarget(url);
      if (!named) f.fail(at('url'), `"${url}" is not ${own.urlForm ?? `a url for check ${own.name}`}`);
      if (r.host === undefined) host = named.host;
      ports = [named.port];
    }
    return target(own.name);
  }
  const scheme = schemeOf(url);
  let fromScheme = checkOfScheme(scheme);
  if (names.length === 0) {
    const parsed = parseUrl(url);
    if (!parsed) f.fail(at('url'), `"${url}" is not ${URL_FORM} with a host`);
    fromScheme = parsed.check;
    if (r.host !== undefined && host.toLowerCase() !== parsed.host.toLowerCase()) {
      f.fail(at('host'), `"${host}" is not the url's host ${parsed.host}`);
    }
    if (r.ports !== undefined && ports.join() !== String(parsed.port)) {
      f.fail(at('ports'), `the url's port is ${parsed.port}, not ${ports.join(', ')}`);
    }
    if (r.host === undefined) host = parsed.host;
    ports = [parsed.port];
  }
  if (given && fromScheme && given !== fromScheme) {
    f.fail(at('check'), `check ${given} does not match the url's scheme ${scheme}; leave check out or use ${fromScheme}`);
  }
  return target(fromScheme ?? given ?? defaultUrlCheck());
}

function urlPathOf(url: string | undefined): string {
  const parsed = url === undefined || placeholderNames(url).length > 0 ? undefined : new URL(url);
  return parsed ? `${parsed.pathname}${parsed.search}` : '/';
}

function readNumbered(f: RuleFields, raw: unknown, path: FieldPath): NumberedHosts {
  const n = f.mapping(raw, path, NUMBERED_KEYS, []);
  const rangePath = [...path, 'range'];
  const [from, to] =
    n.range === undefined
      ? [DEFAULT_NUMBERED.from, DEFAULT_NUMBERED.to]
      : f.at(rangePath, () =>
          parsePortRange(typeof n.range === 'number' ? String(n.range) : f.string(n.range, rangePath), 'number', 0, MAX_HOST_NUMBER),
        );
  const sample = n.sample === undefined ? DEFAULT_NUMBERED.sample : f.integer(n.sample, [...path, 'sample'], 1, MAX_SAMPLE, 'a sample size');
  return { from, to, sample };
}

function readLegacy(f: RuleFields, raw: unknown, path: FieldPath, rulePorts: number[]): LegacyPorts {
  const l = f.mapping(raw, path, LEGACY_KEYS, LEGACY_KEYS);
  const ports = f.list(l.ports, [...path, 'ports']).flatMap((spec, i) =>
    f.portsAmong(spec, [...path, 'ports', i], rulePorts, "the rule's ports"),
  );
  if (ports.length === 0) f.fail([...path, 'ports'], 'needs at least one port');
  return { ports, retired: f.date(l.retired, [...path, 'retired']), note: f.string(l.note, [...path, 'note']) };
}

function readFallback(f: RuleFields, raw: unknown, path: FieldPath, rule: Rule, rules: Rule[]): Fallback {
  const fb = f.mapping(raw, path, FALLBACK_KEYS, ['rule', 'note']);
  const ruleId = f.ruleId(fb.rule, [...path, 'rule']);
  const target = rules.find((other) => other.id === ruleId);
  if (!target) f.fail([...path, 'rule'], `no rule with id "${ruleId}" in this file`);
  const ports =
    fb.ports === undefined
      ? [...target.ports]
      : f.list(fb.ports, [...path, 'ports']).flatMap((spec, i) =>
          f.portsAmong(spec, [...path, 'ports', i], target.ports, `the ports of rule "${target.id}"`),
        );
  const covered =
    fb.for === undefined
      ? [...rule.ports]
      : f.list(fb.for, [...path, 'for']).flatMap((spec, i) => f.portsAmong(spec, [...path, 'for', i], rule.ports, "the rule's ports"));
  if (target === rule) {
    const loop = covered.find((port) => ports.includes(port));
    if (loop !== undefined) f.fail([...path, 'for'], `port ${loop} cannot be its own fallback`);
  }
  return { rule: ruleId, ports, for: covered, note: f.string(fb.note, [...path, 'note']) };
}

function readCidr(f: RuleFields, raw: unknown, path: FieldPath): string {
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  if (text === undefined || !parseCidr(text)) {
    f.fail(path, `${typeof raw === 'string' ? `"${raw}"` : describe(raw)} is not a CIDR range like 17.0.0.0/8 or 2620:149:a44::/48`);
  }
  return text;
}

function readVars(f: RuleFields, raw: unknown): RuleVar[] {
  if (raw === undefined || raw === null) return [];
  if (!isMapping(raw)) f.fail(['vars'], `expected a mapping of variable names, got ${describe(raw)}`);
  return Object.entries(raw).map(([name, value]) => {
    if (!isVarName(name)) f.fail(['vars', name], `"${name}" is not a variable name; use letters, digits and _`);
    const v = f.mapping(value, ['vars', name], VAR_KEYS, VAR_KEYS);
    return { name, example: f.string(v.example, ['vars', name, 'example']), checks: f.string(v.checks, ['vars', name, 'checks']) };
  });
}

function checkVarsUsed(f: RuleFields, vars: RuleVar[], rules: Rule[]): void {
  for (const v of vars) {
    if (!rules.some((rule) => rule.url?.includes(`\${${v.name}}`))) f.fail(['vars', v.name], 'not used by any rule url');
  }
}

function readAliases(f: RuleFields, raw: unknown, id: string): string[] {
  const aliases: string[] = [];
  f.list(raw, ['aliases']).forEach((item, i) => {
    const alias = f.setId(item, ['aliases', i]);
    if (alias === 'all' || alias === id || aliases.includes(alias)) {
      f.fail(['aliases', i], alias === 'all' ? '"all" is reserved for every built-in rule set' : `"${alias}" is already a name of this rule set`);
    }
    aliases.push(alias);
  });
  return aliases;
}

/** One pass with a map: a findIndex per rule made 430,000 rules a quadratic wait. */
function checkRuleIds(f: RuleFields, rules: Rule[]): void {
  const firstById = new Map<string, Rule>();
  rules.forEach((rule, i) => {
    const first = firstById.get(rule.id);
    if (first) f.fail(['rules', i, 'id'], `duplicate rule id "${rule.id}" (first used at line ${first.line})`);
    firstById.set(rule.id, rule);
  });
}

/** The rule file's own readers on top of the general ones. */
class RuleFields extends Fields {
  setId(value: unknown, path: FieldPath): string {
    const text = this.string(value, path);
    if (!SET_ID.test(text)) this.fail(path, `"${text}" is not a valid name; use lower-case letters, digits, ".", "_" or "-"`);
    return text;
  }

  /** Rule ids are strings; numbers (the vendors number their rows) are taken as their text. */
  ruleId(value: unknown, path: FieldPath): string {
    const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : this.string(value, path);
    if (!RULE_ID.test(text)) this.fail(path, `"${text}" is not a valid rule id; use letters, digits, ".", "_" or "-"`);
    return text;
  }

  host(value: unknown, path: FieldPath, options: { wildcard: boolean }): string {
    const host = this.string(value, path);
    if (host.includes('/')) this.fail(path, `"${host}" is a URL or path; give a host name (a URL goes under url)`);
    if (ipVersion(host) !== 0) return host;
    // Numbers and dots only is an IPv4 address or nothing: 999.1.1.1 would go to DNS as a name and fail there.
    if (/^[\d.]+$/.test(host)) this.fail(path, `"${host}" is not an IPv4 address (four numbers 0-255)`);
    if (!/^[A-Za-z0-9_#*]([A-Za-z0-9_#*.-]*[A-Za-z0-9_#*])?$/.test(host) || host.includes('..')) {
      this.fail(path, `"${host}" is not a host name`);
    }
    // DNS limits (RFC 1035): 253 characters in all, 63 per label.
    if (host.length > 253) this.fail(path, `"${host.slice(0, 40)}…" is ${host.length} characters long; a host name has at most 253`);
    const long = host.split('.').find((label) => label.length > 63);
    if (long !== undefined) {
      this.fail(path, `"${host}": the label "${long.slice(0, 20)}…" is ${long.length} characters long; a DNS label has at most 63`);
    }
    if (!options.wildcard && host.includes('*')) this.fail(path, `"${host}": a probed host cannot hold a wildcard`);
    return host;
  }

  /** A non-empty list of port specs, without repeats. */
  ports(value: unknown, path: FieldPath): number[] {
    const ports: number[] = [];
    this.list(value, path).forEach((spec, i) => {
      for (const port of this.portSpec(spec, [...path, i])) {
        if (ports.includes(port)) this.fail([...path, i], `port ${port} is listed twice`);
        ports.push(port);
      }
    });
    if (ports.length === 0) this.fail(path, 'needs at least one port');
    return ports;
  }

  portsAmong(spec: unknown, path: FieldPath, allowed: number[], what: string): number[] {
    const ports = this.portSpec(spec, path);
    const stray = ports.find((port) => !allowed.includes(port));
    if (stray !== undefined) this.fail(path, `port ${stray} is not among ${what} (${allowed.join(', ') || 'none'})`);
    return ports;
  }

  private portSpec(spec: unknown, path: FieldPath): number[] {
    if (typeof spec !== 'number' && typeof spec !== 'string') {
      this.fail(path, `expected a port number or a range like "5228-5230", got ${describe(spec)}`);
    }
    return this.at(path, () => parsePortSpec(spec));
  }
}

