import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { thrownBy } from '../helpers/thrown.js';
import { FileError } from '../../src/errors.js';
import { loadRuleSetFile, parseRuleSet } from '../../src/rules/load.js';
import type { RuleSet } from '../../src/types.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/rules/${name}`, import.meta.url));

/** The error a load throws, checked to be a one-line FileError. */
function loadError(file: string): FileError {
  const err = thrownBy(() => loadRuleSetFile(file), FileError);
  expect(err.message).not.toMatch(/\n/);
  expect(err.message).not.toMatch(/\bat .*:\d+:\d+/); // no stack frame leaked into the text
  expect(err.exitCode).toBe(2);
  return err;
}

const RULE_KEYS = 'id, host, probe, ports, check, plainPorts, purpose, impact, severity, origin, note, cidr, narrowCidr, vendorIssuers, fallback, legacy, numbered, url, hold, http, tls, write';

// Each fixture is the 10-line sample rule file (rule at line 4: host 5, ports 6, check 7, …, severity 10)
// with one thing wrong; the expectation is worked out from the fixture text, line by line.
const cases: Array<[name: string, expected: string]> = [
  ['yaml-syntax', ':5: invalid YAML: Tabs are not allowed as indentation'],
  // yaml notices the open quote only at the end of the file, after the last line.
  ['yaml-unclosed-quote', ':4: invalid YAML: Missing closing "quote'],
  ['duplicate-key', ':11: invalid YAML: Map keys must be unique'],
  ['unknown-key', `:11: rules[0].colour: unknown key "colour"; allowed: ${RULE_KEYS}`],
  ['unknown-key-typo', ':6: rules[0].prots: unknown key "prots"; did you mean "ports"?'],
  ['unknown-top-key', ':3: version: unknown key "version"; allowed: id, title, aliases, source, notes, vars, credentials, rules'],
  ['port-zero', ':6: rules[0].ports[1]: port 0 is out of range 1-65535'],
  ['port-too-big', ':8: rules[0].ports[1]: port 65536 is out of range 1-65535'],
  ['port-not-number', ':6: rules[0].ports[1]: "abc" is not a port number or a range like "5228-5230"'],
  ['port-range-reversed', ':6: rules[0].ports[0]: port range "5230-5228" runs backwards; write "5228-5230"'],
  ['port-repeated', ':6: rules[0].ports[1]: port 443 is listed twice'],
  ['ports-empty', ':6: rules[0].ports: needs at least one port'],
  ['cidr-bad', ':13: rules[0].cidr[1]: "17.0.0.0/33" is not a CIDR range like 17.0.0.0/8 or 2620:149:a44::/48'],
  ['cidr-no-prefix', ':11: rules[0].cidr[0]: "17.0.0.1" is not a CIDR range like 17.0.0.0/8 or 2620:149:a44::/48'],
  // A narrow range must lie inside a broad one of its own family: this rule has no IPv6 range at all.
  ['narrow-outside', ":12: rules[0].narrowCidr[1]: 2620:149:a44::/48 does not lie inside any of the rule's cidr ranges"],
  ['duplicate-id', ':11: rules[1].id: duplicate rule id "web" (first used at line 4)'],
  ['duplicate-numeric-id', ':11: rules[1].id: duplicate rule id "5" (first used at line 4)'],
  [
    'wildcard-without-probe',
    ':5: rules[0].host: "*.example.com" has a wildcard, so the rule needs probe: a list of concrete hosts to test',
  ],
  ['wildcard-in-probe', ':6: rules[0].probe[0]: "*.example.com": a probed host cannot hold a wildcard'],
  ['unknown-check', ':7: rules[0].check: "ping" is not a valid check; expected tcp, tls, http, https, apns, mqtt, write'],
  ['bad-severity', ':10: rules[0].severity: "fatal" is not a valid severity; expected critical, warning'],
  ['bad-origin', ':11: rules[0].origin: "rumour" is not a valid origin; expected documented, current'],
  ['fallback-unknown-rule', ':12: rules[0].fallback.rule: no rule with id "spare" in this file'],
  ['fallback-port-not-listed', ':13: rules[0].fallback.ports[0]: port 80 is not among the ports of rule "web" (443, 5223)'],
  ['legacy-port-not-listed', ":12: rules[0].legacy.ports[1]: port 2196 is not among the rule's ports (443, 2195)"],
  ['legacy-bad-date', ':13: rules[0].legacy.retired: "2021-02-30" is not a date like 2021-03-31'],
  ['alias-bomb', ':4: too many YAML alias expansions (over 100); refusing a "billion laughs" file'],
  ['empty', ': the file is empty; a rule set needs id, title and rules'],
  ['not-mapping', ':1: a rule file must be a mapping with id, title and rules, not a list'],
  ['rules-not-list', ':3: rules: expected a list of rules, got text "web"'],
  ['rules-empty', ':3: rules: needs at least one rule'],
  ['missing-id', ':1: id: required key is missing'],
  ['missing-title', ':1: title: required key is missing'],
  ['missing-rules', ':1: rules: required key is missing'],
  ['empty-title', ':2: title: is empty; a value is required'],
  ['missing-rule-id', ':4: rules[0].id: required key is missing'],
  ['missing-rule-host', ':4: rules[0].host: required key is missing'],
  ['missing-rule-ports', ':4: rules[0].ports: required key is missing'],
  ['missing-rule-check', ':4: rules[0].check: required key is missing'],
  ['missing-rule-purpose', ':4: rules[0].purpose: required key is missing'],
  ['missing-rule-impact', ':4: rules[0].impact: required key is missing'],
  ['missing-rule-severity', ':4: rules[0].severity: required key is missing'],
  ['rule-not-mapping', ':4: rules[0]: expected a mapping, got text "web"'],
  ['host-is-url', ':5: rules[0].host: "https://example.com/" is a URL or path; give a host name (a URL goes under url)'],
  ['url-bad-placeholder', ':5: rules[0].url: "${file url}" is not a valid placeholder; use ${name} with letters, digits, _'],
  ['url-host-mismatch', ':6: rules[0].host: "example.org" is not the url\'s host files.example.com'],
  ['url-with-probe', ':6: rules[0].probe: not allowed with url; the url gives the host to probe'],
  ['url-not-http', ':5: rules[0].url: "ftp://files.example.com/messages.ibi" is not an http:// or https:// URL with a host'],
  ['url-with-ports', ":6: rules[0].ports: the url's port is 443, not 8443"],
  ['http-on-tls', ":11: rules[0].http: only for an http or https check, and this rule's check is tls"],
  ['http-bad-method', ':11: rules[0].http.method: "POST" is not a method pushcheck sends; expected GET or HEAD'],
  ['numbered-without-hash', ':11: rules[0].numbered: no probed host has a # to fill in'],
  ['hold-on-https', ":11: rules[0].hold: only for a tls, apns or mqtt check (a long-lived channel), and this rule's check is https"],
  ['hold-not-boolean', ':11: rules[0].hold: expected true or false, got text "yes"'],
  ['tls-on-tcp', ":11: rules[0].tls: only for a tls, https, apns or mqtt check, and this rule's check is tcp"],
  ['tls-bad-cipher', ':12: rules[0].tls.cipher[1]: "BLOWFISH-128" is not a cipher and key size like AES-256; algorithms: AES, CHACHA20, CAMELLIA, ARIA, 3DES, RC4, DES, SM4'],
  ['tls-bad-version', ':11: rules[0].tls.minVersion: "SSLv3" is not a TLS version; expected TLSv1, TLSv1.1, TLSv1.2, TLSv1.3'],
  ['tls-empty', ':11: rules[0].tls: asks for nothing; give minVersion, cipher or both'],
  ['plain-port-not-listed', ":11: rules[0].plainPorts[0]: port 80 is not among the rule's ports (443)"],
  ['host-too-long', ':5: rules[0].host: "abcdefghi.abcdefghi.abcdefghi.abcdefghi.…" is 304 characters long; a host name has at most 253'],
  ['host-label-too-long', `:5: rules[0].host: "${'a'.repeat(64)}.example.com": the label "${'a'.repeat(20)}…" is 64 characters long; a DNS label has at most 63`],
  ['host-bad-ipv4', ':5: rules[0].host: "999.1.1.1" is not an IPv4 address (four numbers 0-255)'],
];

describe('rule files that must be refused', () => {
  it.each(cases)('invalid-%s.yaml', (name, expected) => {
    const file = fixture(`invalid-${name}.yaml`);
    expect(loadError(file).message).toBe(`${file}${expected}`);
  });

  it('an unreadable path is a FileError at line 0', () => {
    const missing = fixture('no-such-file.yaml');
    expect(loadError(missing).message).toBe(`${missing}: cannot read the file: no such file`);
    const dir = mkdtempSync(join(tmpdir(), 'pushcheck-rules-'));
    try {
      const err = loadError(dir);
      expect(err.line).toBe(0);
      expect(err.message).toBe(`${dir}: cannot read the file: it is a directory`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('every bad-input fixture is covered by a case', async () => {
    const { readdirSync } = await import('node:fs');
    const names = readdirSync(fixture('')).filter((n) => n.startsWith('invalid-')).map((n) => n.slice(8, -5));
    expect(names.sort()).toEqual(cases.map(([name]) => name).sort());
  });
});

describe('a valid file', () => {
  it('loads every field, with defaults filled and numbers turned into ids', () => {
    const file = fixture('valid-full.yaml');
    const expected: RuleSet = {
      id: 'full',
      title: 'Every field',
      aliases: ['every', 'all-fields'],
      source: "Written for pushcheck's tests",
      notes: ['First note.', 'Second note.'],
      vars: [{ name: 'fileUrl', example: 'https://your-server/file.xml', checks: 'the file' }],
      file,
      builtin: false,
      rules: [
        {
          id: '7',
          host: '#-courier.Example.com',
          probe: [],
          ports: [443, 5228, 5229, 5230, 2195],
          check: 'tls',
          plainPorts: [2195],
          purpose: 'Device connection',
          impact: 'No pushes',
          severity: 'critical',
          origin: 'documented',
          note: 'A note.',
          cidr: ['17.0.0.0/8'],
          narrowCidr: [],
          vendorIssuers: ['Example Inc.'],
          numbered: { from: 3, to: 9, sample: 3 },
          legacy: { ports: [2195], retired: '2021-03-31', note: 'Retired.' },
          fallback: { rule: '7', ports: [443], for: [5228, 5229, 5230], note: 'Falls back to 443.' },
          line: 14,
        },
        {
          id: 'api',
          host: '*.example.org',
          probe: ['api.example.org', 'push.example.org'],
          ports: [8443, 80],
          check: 'https',
          plainPorts: [80],
          purpose: 'API',
          impact: 'No API',
          severity: 'warning',
          origin: 'current',
          cidr: ['10.0.0.0/8', '2001:db8::/32'],
          narrowCidr: [],
          vendorIssuers: [],
          http: { method: 'HEAD', path: '/health', status: [200, 204], contentType: 'application/json', maxBytes: 2048 },
          fallback: { rule: '7', ports: [443, 5228, 5229, 5230, 2195], for: [8443, 80], note: 'Any port of rule 7.' },
          line: 30,
        },
        {
          id: 'file',
          host: '${fileUrl}',
          probe: [],
          ports: [],
          check: 'https',
          plainPorts: [],
          purpose: 'Read the file',
          impact: 'No file',
          severity: 'critical',
          origin: 'documented',
          cidr: [],
          narrowCidr: [],
          vendorIssuers: [],
          url: '${fileUrl}',
          http: { method: 'GET', path: '/', status: [], contentType: 'text/xml' },
          line: 45,
        },
        {
          id: 'site',
          host: 'www.example.net',
          probe: [],
          ports: [8080],
          check: 'http',
          plainPorts: [],
          purpose: 'Site',
          impact: 'No site',
          severity: 'warning',
          origin: 'documented',
          cidr: [],
          narrowCidr: [],
          vendorIssuers: [],
          url: 'http://www.example.net:8080/status?full=1',
          line: 52,
        },
      ],
    };
    const loaded = loadRuleSetFile(file);
    expect(loaded).toStrictEqual(expected);
  });

  it('is plain data: survives a JSON round trip unchanged', () => {
    const loaded = loadRuleSetFile(fixture('valid-full.yaml'));
    expect(JSON.parse(JSON.stringify(loaded))).toStrictEqual(loaded);
  });

  it('parseRuleSet marks built-in sets and takes the file name for messages only', () => {
    const text = 'id: tiny\ntitle: Tiny\nrules:\n  - {id: a, host: example.com, ports: 443, check: tcp, purpose: P, impact: I, severity: warning}\n';
    const set = parseRuleSet(text, 'virtual.yaml', true);
    expect(set.builtin).toBe(true);
    expect(set.file).toBe('virtual.yaml');
    expect(set.rules[0]?.ports).toEqual([443]);
    expect(() => parseRuleSet(text.replace('443', '0'), 'virtual.yaml')).toThrow(
      'virtual.yaml:4: rules[0].ports[0]: port 0 is out of range 1-65535',
    );
  });

  it('a url rule takes the path of its url for http', () => {
    const text = [
      'id: u',
      'title: U',
      'rules:',
      '  - id: a',
      '    url: https://example.com/status?x=1',
      '    http: {method: HEAD}',
      '    purpose: P',
      '    impact: I',
      '    severity: warning',
    ].join('\n');
    expect(parseRuleSet(text, 'u.yaml').rules[0]?.http?.path).toBe('/status?x=1');
  });
});
