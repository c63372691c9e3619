/**
 * The fields of a rule file: plain data (from YAML) → RuleSet, or a FileError naming the field.
 * Knows nothing of YAML; load.ts supplies `lineOf` so every error carries its line.
 */
import { isIP } from 'node:net';
import { FileError, UsageError } from '../errors.js';
import { checkNames } from '../probes/index.js';
import type {
  Fallback,
  HttpExpectation,
  LegacyPorts,
  NumberedHosts,
  Rule,
  RuleOrigin,
  RuleSet,
  RuleVar,
  Severity,
  TlsRequirement,
} from '../types.js';
import { CIPHER_ALGORITHMS, parseCipherRequirement, parseTlsVersion, TLS_VERSIONS } from '../probes/tls-strength.js';
import { cidrWithin, parseCidr } from './cidr.js';
import {
  DEFAULT_NUMBERED,
  MAX_HOST_NUMBER,
  isVarName,
  parseHttpUrl,
  parsePortRange,
  parsePortSpec,
  placeholderNames,
} from './expand.js';

/** Keys and indices from the document root, e.g. ['rules', 2, 'ports', 1]. */
export type FieldPath = ReadonlyArray<string | number>;

export interface Source {
  file: string;
  builtin: boolean;
  /** 1-based line of the value (for a mapping key: of the key) at `path`, or of its nearest existing parent. */
  lineOf(path: FieldPath): number;
}

const RULE_SET_KEYS = ['id', 'title', 'aliases', 'source', 'notes', 'vars', 'rules'] as const;
const RULE_KEYS = [
  'id', 'host', 'probe', 'ports', 'check', 'plainPorts', 'purpose', 'impact', 'severity',
  'origin', 'note', 'cidr', 'narrowCidr', 'vendorIssuers', 'fallback', 'legacy', 'numbered', 'url', 'http', 'tls',
] as const;
const URL_RULE_FORBIDS = ['probe', 'plainPorts', 'numbered'] as const;
const FALLBACK_KEYS = ['rule', 'ports', 'for', 'note'] as const;
const LEGACY_KEYS = ['ports', 'retired', 'note'] as const;
const NUMBERED_KEYS = ['range', 'sample'] as const;
const HTTP_KEYS = ['method', 'path', 'status', 'contentType', 'maxBytes'] as const;
const VAR_KEYS = ['example', 'checks'] as const;
const TLS_KEYS = ['minVersion', 'cipher'] as const;

const SEVERITIES: readonly Severity[] = ['critical', 'warning'];
const ORIGINS: readonly RuleOrigin[] = ['documented', 'current'];
const METHODS: readonly HttpExpectation['method'][] = ['GET', 'HEAD'];
const SET_ID = /^[a-z0-9][a-z0-9._-]*$/;
const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_SAMPLE = 100;

/** `['rules', 2, 'ports', 1]` → `rules[2].ports[1]`. */
export function formatPath(path: FieldPath): string {
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

/** Validates a whole parsed document and fills the defaults. */
export function toRuleSet(data: unknown, src: Source): RuleSet {
  const f: Fields = new Fields(src);
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

function readRule(f: Fields, raw: unknown, path: FieldPath): Rule {
  const isUrlRule = isMapping(raw) && raw.url !== undefined;
  const required = isUrlRule
    ? ['id', 'url', 'purpose', 'impact', 'severity']
    : ['id', 'host', 'ports', 'check', 'purpose', 'impact', 'severity'];
  const r = f.mapping(raw, path, RULE_KEYS, required);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];

  const rule: Rule = {
    id: f.ruleId(r.id, at('id')),
    host: '',
    probe: [],
    ports: [],
    check: 'tcp',
    plainPorts: [],
    purpose: f.string(r.purpose, at('purpose')),
    impact: f.string(r.impact, at('impact')),
    severity: f.oneOf(r.severity, at('severity'), SEVERITIES, 'severity'),
    origin: r.origin === undefined ? 'documented' : f.oneOf(r.origin, at('origin'), ORIGINS, 'origin'),
    cidr: f.list(r.cidr, at('cidr')).map((item, i) => readCidr(f, item, at('cidr', i))),
    narrowCidr: [],
    vendorIssuers: f.list(r.vendorIssuers, at('vendorIssuers')).map((item, i) => f.string(item, at('vendorIssuers', i))),
    line: f.lineOf(path),
  };
  if (r.note !== undefined) rule.note = f.string(r.note, at('note'));
  rule.narrowCidr = f.list(r.narrowCidr, at('narrowCidr')).map((item, i) => {
    const range = readCidr(f, item, at('narrowCidr', i));
    if (!cidrWithin(range, rule.cidr)) f.fail(at('narrowCidr', i), `${range} does not lie inside any of the rule's cidr ranges`);
    return range;
  });

  if (isUrlRule) {
    for (const key of URL_RULE_FORBIDS) {
      if (r[key] !== undefined) f.fail(at(key), 'not allowed with url; the url gives the host to probe');
    }
    readUrl(f, r, path, rule);
  } else {
    rule.host = f.host(r.host, at('host'), { wildcard: true });
    rule.probe = f.list(r.probe, at('probe')).map((host, i) => f.host(host, at('probe', i), { wildcard: false }));
    if (rule.host.includes('*') && rule.probe.length === 0) {
      f.fail(at('host'), `"${rule.host}" has a wildcard, so the rule needs probe: a list of concrete hosts to test`);
    }
    rule.check = f.oneOf(r.check, at('check'), checkNames, 'check');
    rule.ports = f.ports(r.ports, at('ports'));
    rule.plainPorts = f.list(r.plainPorts, at('plainPorts')).flatMap((spec, i) =>
      f.portsAmong(spec, at('plainPorts', i), rule.ports, "the rule's ports"),
    );
    const numberedHost = (rule.probe.length > 0 ? rule.probe : [rule.host]).some((host) => host.includes('#'));
    if (r.numbered !== undefined && !numberedHost) f.fail(at('numbered'), 'no probed host has a # to fill in');
    if (numberedHost) rule.numbered = r.numbered === undefined ? { ...DEFAULT_NUMBERED } : readNumbered(f, r.numbered, at('numbered'));
  }

  if (r.http !== undefined) {
    if (rule.check !== 'http' && rule.check !== 'https') {
      f.fail(at('http'), `only for an http or https check, and this rule's check is ${rule.check}`);
    }
    rule.http = readHttp(f, r.http, at('http'), isUrlRule ? urlPathOf(rule.url) : undefined);
  }
  if (r.tls !== undefined) {
    if (rule.check !== 'tls' && rule.check !== 'https') {
      f.fail(at('tls'), `only for a tls or https check, and this rule's check is ${rule.check}`);
    }
    rule.tls = readTlsRequirement(f, r.tls, at('tls'));
  }
  if (r.legacy !== undefined) rule.legacy = readLegacy(f, r.legacy, at('legacy'), rule.ports);
  return rule;
}

/**
 * host, ports and check of a rule that names a URL (possibly a `${var}` template). host and ports may
 * be written too, as documentation; with a concrete url they must agree with it.
 */
function readUrl(f: Fields, r: Record<string, unknown>, path: FieldPath, rule: Rule): void {
  const at = (key: string): FieldPath => [...path, key];
  const template = f.string(r.url, at('url'));
  const names = f.at(at('url'), () => placeholderNames(template));
  rule.url = template;
  rule.host = r.host === undefined ? template : f.host(r.host, at('host'), { wildcard: false });
  rule.ports = r.ports === undefined ? [] : f.ports(r.ports, at('ports'));
  const given = r.check === undefined ? undefined : f.oneOf(r.check, at('check'), ['http', 'https'] as const, 'check for a url');
  let scheme: 'http' | 'https' | undefined = /^https:\/\//i.test(template) ? 'https' : /^http:\/\//i.test(template) ? 'http' : undefined;
  if (names.length === 0) {
    const parsed = parseHttpUrl(template);
    if (!parsed) f.fail(at('url'), `"${template}" is not an http:// or https:// URL with a host`);
    scheme = parsed.check;
    if (r.host !== undefined && rule.host.toLowerCase() !== parsed.host.toLowerCase()) {
      f.fail(at('host'), `"${rule.host}" is not the url's host ${parsed.host}`);
    }
    if (r.ports !== undefined && rule.ports.join() !== String(parsed.port)) {
      f.fail(at('ports'), `the url's port is ${parsed.port}, not ${rule.ports.join(', ')}`);
    }
    if (r.host === undefined) rule.host = parsed.host;
    rule.ports = [parsed.port];
  }
  if (given && scheme && given !== scheme) {
    f.fail(at('check'), `check ${given} does not match the url's scheme ${scheme}; leave check out or use ${scheme}`);
  }
  rule.check = scheme ?? given ?? 'https';
}

/** `urlPath`: for a url rule, the path its url gives ("/" while the url is still a template). */
function readHttp(f: Fields, raw: unknown, path: FieldPath, urlPath: string | undefined): HttpExpectation {
  const h = f.mapping(raw, path, HTTP_KEYS, []);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];
  const method = h.method === undefined ? 'GET' : f.string(h.method, at('method')).toUpperCase();
  if (!(METHODS as readonly string[]).includes(method)) {
    f.fail(at('method'), `"${String(h.method)}" is not a method pushcheck sends; expected GET or HEAD`);
  }
  if (urlPath !== undefined && h.path !== undefined) f.fail(at('path'), 'not allowed with url; the url gives the path');
  const httpPath = h.path === undefined ? (urlPath ?? '/') : f.string(h.path, at('path'));
  if (!httpPath.startsWith('/')) f.fail(at('path'), `"${httpPath}" must start with /`);
  const http: HttpExpectation = {
    method: method as HttpExpectation['method'],
    path: httpPath,
    status: f.list(h.status, at('status')).map((code, i) => f.integer(code, at('status', i), 100, 599, 'an HTTP status')),
  };
  if (h.contentType !== undefined) {
    const type = f.string(h.contentType, at('contentType')).toLowerCase();
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) {
      f.fail(at('contentType'), `"${type}" is not a media type like text/xml (leave out parameters such as charset)`);
    }
    http.contentType = type;
  }
  if (h.maxBytes !== undefined) http.maxBytes = f.integer(h.maxBytes, at('maxBytes'), 1, Number.MAX_SAFE_INTEGER, 'a byte count');
  return http;
}

function readTlsRequirement(f: Fields, raw: unknown, path: FieldPath): TlsRequirement {
  const t = f.mapping(raw, path, TLS_KEYS, []);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];
  const requirement: TlsRequirement = {
    ciphers: f.list(t.cipher, at('cipher')).map((item, i) => {
      const text = typeof item === 'string' ? item : describe(item);
      const parsed = typeof item === 'string' ? parseCipherRequirement(item) : undefined;
      if (!parsed) {
        f.fail(at('cipher', i), `"${text}" is not a cipher and key size like AES-256; algorithms: ${CIPHER_ALGORITHMS.join(', ')}`);
      }
      return parsed;
    }),
  };
  if (t.minVersion !== undefined) {
    // YAML reads 1.2 as a number.
    const text = typeof t.minVersion === 'number' ? t.minVersion.toFixed(1) : f.string(t.minVersion, at('minVersion'));
    const version = parseTlsVersion(text);
    if (!version) f.fail(at('minVersion'), `"${text}" is not a TLS version; expected ${TLS_VERSIONS.join(', ')}`);
    requirement.minVersion = version;
  }
  if (requirement.minVersion === undefined && requirement.ciphers.length === 0) {
    f.fail(path, 'asks for nothing; give minVersion, cipher or both');
  }
  return requirement;
}

function urlPathOf(url: string | undefined): string {
  const parsed = url === undefined || placeholderNames(url).length > 0 ? undefined : new URL(url);
  return parsed ? `${parsed.pathname}${parsed.search}` : '/';
}

function readNumbered(f: Fields, raw: unknown, path: FieldPath): NumberedHosts {
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

function readLegacy(f: Fields, raw: unknown, path: FieldPath, rulePorts: number[]): LegacyPorts {
  const l = f.mapping(raw, path, LEGACY_KEYS, LEGACY_KEYS);
  const ports = f.list(l.ports, [...path, 'ports']).flatMap((spec, i) =>
    f.portsAmong(spec, [...path, 'ports', i], rulePorts, "the rule's ports"),
  );
  if (ports.length === 0) f.fail([...path, 'ports'], 'needs at least one port');
  return { ports, retired: f.date(l.retired, [...path, 'retired']), note: f.string(l.note, [...path, 'note']) };
}

function readFallback(f: Fields, raw: unknown, path: FieldPath, rule: Rule, rules: Rule[]): Fallback {
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

function readCidr(f: Fields, raw: unknown, path: FieldPath): string {
  const text = typeof raw === 'string' ? raw.trim() : undefined;
  if (text === undefined || !parseCidr(text)) {
    f.fail(path, `${typeof raw === 'string' ? `"${raw}"` : describe(raw)} is not a CIDR range like 17.0.0.0/8 or 2620:149:a44::/48`);
  }
  return text;
}

function readVars(f: Fields, raw: unknown): RuleVar[] {
  if (raw === undefined || raw === null) return [];
  if (!isMapping(raw)) f.fail(['vars'], `expected a mapping of variable names, got ${describe(raw)}`);
  return Object.entries(raw).map(([name, value]) => {
    if (!isVarName(name)) f.fail(['vars', name], `"${name}" is not a variable name; use letters, digits and _`);
    const v = f.mapping(value, ['vars', name], VAR_KEYS, VAR_KEYS);
    return { name, example: f.string(v.example, ['vars', name, 'example']), checks: f.string(v.checks, ['vars', name, 'checks']) };
  });
}

function checkVarsUsed(f: Fields, vars: RuleVar[], rules: Rule[]): void {
  for (const v of vars) {
    if (!rules.some((rule) => rule.url?.includes(`\${${v.name}}`))) f.fail(['vars', v.name], 'not used by any rule url');
  }
}

function readAliases(f: Fields, raw: unknown, id: string): string[] {
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

function checkRuleIds(f: Fields, rules: Rule[]): void {
  rules.forEach((rule, i) => {
    const first = rules.findIndex((other) => other.id === rule.id);
    if (first !== i) f.fail(['rules', i, 'id'], `duplicate rule id "${rule.id}" (first used at line ${rules[first]?.line})`);
  });
}

/** Typed readers that fail with the field's path and line. */
class Fields {
  constructor(private readonly src: Source) {}

  lineOf(path: FieldPath): number {
    return this.src.lineOf(path);
  }

  fail(path: FieldPath, detail: string): never {
    throw new FileError(this.src.file, this.src.lineOf(path), formatPath(path), detail);
  }

  /** Runs a shared parser (which throws UsageError) and re-raises its complaint at `path`. */
  at<T>(path: FieldPath, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof UsageError && !(err instanceof FileError)) this.fail(path, err.message);
      throw err;
    }
  }

  mapping(value: unknown, path: FieldPath, keys: readonly string[], required: readonly string[]): Record<string, unknown> {
    if (!isMapping(value)) this.fail(path, `expected a mapping, got ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail([...path, key], unknownKey(key, keys));
    }
    for (const key of required) {
      if (value[key] === undefined) this.fail([...path, key], 'required key is missing');
      if (value[key] === null) this.fail([...path, key], 'is empty; a value is required');
    }
    return value;
  }

  /** A list; a single scalar stands for a one-item list, and an absent or empty value for []. */
  list(value: unknown, path: FieldPath): unknown[] {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    if (isMapping(value)) this.fail(path, 'expected a list, got a mapping');
    return [value];
  }

  string(value: unknown, path: FieldPath): string {
    if (typeof value !== 'string') this.fail(path, `expected text, got ${describe(value)}`);
    const text = value.trim();
    if (text === '') this.fail(path, 'is empty');
    return text;
  }

  oneOf<T extends string>(value: unknown, path: FieldPath, allowed: readonly T[], what: string): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      const shown = typeof value === 'string' ? `"${value}"` : describe(value);
      this.fail(path, `${shown} is not a valid ${what}; expected ${allowed.join(', ')}`);
    }
    return value as T;
  }

  integer(value: unknown, path: FieldPath, min: number, max: number, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(path, `${typeof value === 'number' ? value : describe(value)} is not ${what} (a whole number ${min}-${max})`);
    }
    return value;
  }

  date(value: unknown, path: FieldPath): string {
    const text = typeof value === 'string' ? value.trim() : '';
    const parsed = new Date(`${text}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text) {
      this.fail(path, `${typeof value === 'string' ? `"${value}"` : describe(value)} is not a date like 2021-03-31`);
    }
    return text;
  }

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
    if (isIP(host) !== 0) return host;
    if (!/^[A-Za-z0-9_#*]([A-Za-z0-9_#*.-]*[A-Za-z0-9_#*])?$/.test(host) || host.includes('..')) {
      this.fail(path, `"${host}" is not a host name`);
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

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `text "${value}"`;
  if (typeof value === 'boolean') return `${value}`;
  return `the number ${String(value)}`;
}

function unknownKey(key: string, allowed: readonly string[]): string {
  let near: string | undefined;
  let best = 3; // suggest only close misspellings
  for (const candidate of allowed) {
    const distance = editDistance(candidate.toLowerCase(), key.toLowerCase());
    if (distance < best) [near, best] = [candidate, distance];
  }
  return near ? `unknown key "${key}"; did you mean "${near}"?` : `unknown key "${key}"; allowed: ${allowed.join(', ')}`;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b; a swap counts once, as typos go. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}
