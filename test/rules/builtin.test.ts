import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FileError, UsageError } from '../../src/errors.js';
import { builtinNames, builtinRulesDir, loadBuiltinRuleSets, resolveRuleSets } from '../../src/rules/builtin.js';
import type { Rule, RuleSet } from '../../src/types.js';

const seedsDir = fileURLToPath(new URL('../../../shared/seeds/', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/rules/${name}`, import.meta.url));

/** The vendor page a built-in set was taken from, whitespace runs made single spaces. */
function seed(prefix: string): string {
  const name = readdirSync(seedsDir).find((file) => file.startsWith(`${prefix}_`));
  if (!name) throw new Error(`no seed ${prefix}`);
  return readFileSync(join(seedsDir, name), 'utf8').replace(/\s+/g, ' ');
}

const byId = (id: string): RuleSet => {
  const set = loadBuiltinRuleSets().find((s) => s.id === id);
  if (!set) throw new Error(`no built-in ${id}`);
  return set;
};
const documented = (set: RuleSet): Rule[] => set.rules.filter((rule) => rule.origin === 'documented');
const oneLine = (text: string): string => text.replace(/\s+/g, ' ');

const ALL_IDS = ['airwatch-apns', 'apple-push', 'google-fcm', 'ibi-aws', 'moki-android', 'moki-ios', 'opmanager'];
const MOKI_IMPACT = 'Indicator of poor network health but doesn’t mean Moki can’t run';

// What each vendor page lists, read off the seed by hand: [rule id, documented host, ports].
const tables: Record<string, { seed: string; rules: Array<[string, string, number[]]>; hostsInSeed: boolean }> = {
  'moki-ios': {
    seed: '000',
    hostsInSeed: true,
    rules: [
      ['1', 'MokiManage.com', [443]],
      ['2', 'MokiManage.appspot.com', [80, 443]],
      ['3', 'Networkcheck.MokiMobility.com', [80, 443]],
      ['4', 'Commondatastorage.googleapis.com', [80, 443]],
      ['5', 'Push.apple.com', [443, 2195, 2196, 5223]],
    ],
  },
  'moki-android': {
    seed: '001',
    hostsInSeed: true,
    rules: [
      ['1', 'app.moki.com', [443]],
      ['2', '*moki-marbles.appspot.com', [443]],
      ['3', 'mokirouter.appspot.com', [443]],
      ['4', 'commondatastorage.googleapis.com', [443]],
      ['5', 'storage.googleapis.com', [443]],
      ['6', 'gcm.googleapis.com', [5228, 5229, 5230]],
      ['7', '*.pushy.me', [443]],
      ['8', '*.pushy.io', [443]],
    ],
  },
  'airwatch-apns': {
    seed: '002',
    hostsInSeed: true,
    rules: [
      ['courier', '#-courier.push.apple.com', [5223]],
      ['courier-443', '#-courier.push.apple.com', [443]],
      ['gateway', 'gateway.push.apple.com', [2195]],
      ['feedback', 'feedback.push.apple.com', [2196]],
    ],
  },
  // The OpManager page names ports only ("2195 & 2196"); the hosts are Apple's for those ports.
  opmanager: {
    seed: '003',
    hostsInSeed: false,
    rules: [
      ['gateway', 'gateway.push.apple.com', [2195]],
      ['feedback', 'feedback.push.apple.com', [2196]],
    ],
  },
  'ibi-aws': {
    seed: '004',
    hostsInSeed: false,
    rules: [
      ['webservice', 'mobileservice.ibi-aws.net', [443]],
      ['webservice-encryption', 'mobileservice.ibi-aws.net', [443]],
      ['message-get', '${messageUrl}', []],
      ['message-head', '${messageUrl}', []],
      ['message-write', '${messageWriteUrl}', []],
    ],
  },
};

describe('built-in rule sets', () => {
  it('all seven load from the package rules/ folder, sorted by id', () => {
    expect(builtinRulesDir()).toMatch(/[/\\]rules[/\\]$/);
    const sets = loadBuiltinRuleSets();
    expect(sets.map((s) => s.id)).toEqual(ALL_IDS);
    for (const set of sets) {
      expect(set.builtin).toBe(true);
      expect(existsSync(set.file)).toBe(true);
      expect(set.source, set.id).toBeTruthy();
    }
  });

  it('are loaded once', () => {
    const [first] = loadBuiltinRuleSets();
    expect(loadBuiltinRuleSets()[0]).toBe(first);
  });

  describe.each(Object.entries(tables))('%s matches its vendor page', (id, table) => {
    const set = byId(id);
    const text = seed(table.seed);

    it('has the page’s rows: ids, hosts and ports', () => {
      expect(documented(set).map((rule) => [rule.id, rule.host, rule.ports])).toEqual(table.rules);
    });

    it('uses the page’s words for every purpose', () => {
      expect(documented(set).length).toBeGreaterThan(0);
      for (const rule of documented(set)) expect(text, `${id}/${rule.id}`).toContain(oneLine(rule.purpose));
    });

    it('uses the page’s words for every impact, or says the wording is pushcheck’s', () => {
      for (const rule of documented(set)) {
        if (!text.includes(oneLine(rule.impact))) expect(rule.note, `${id}/${rule.id}`).toMatch(/pushcheck's wording/);
      }
    });

    if (table.hostsInSeed) {
      it('names each host as the page spells it', () => {
        expect(documented(set).length).toBeGreaterThan(0);
        for (const rule of documented(set)) expect(text).toContain(rule.host);
      });
    }
  });

  it('Moki iOS keeps the page’s curly apostrophes and its rule 5 details', () => {
    const set = byId('moki-ios');
    expect(set.rules.slice(0, 4).map((r) => [r.impact, r.severity, r.check])).toEqual(
      Array(4).fill([MOKI_IMPACT, 'warning', 'tls']),
    );
    expect(set.rules.slice(1, 4).every((r) => r.plainPorts.join() === '80')).toBe(true);
    const five = set.rules[4] as Rule;
    expect(five).toMatchObject({
      probe: ['courier.sandbox.push.apple.com'],
      purpose: 'Push Notifications, updates to the app',
      impact: 'Can’t send device information to MokiManage or receive updates or actions',
      severity: 'critical',
      cidr: APPLE_BROAD,
      legacy: { ports: [2195, 2196], retired: '2021-03-31' },
      fallback: { rule: '5', ports: [443], for: [5223] },
    });
    expect(five.note).toContain('An alternative to Rule #5 would be to open the entire gateway.push.apple.com 17.0.0.0/8 block.');
    expect(seed('000')).toContain('An alternative to Rule #5 would be to open the entire gateway.push.apple.com 17.0.0.0/8 block.');
  });

  it('Moki Android probes concrete hosts for its wildcards and says Pushy only matters to some agents', () => {
    const set = byId('moki-android');
    expect(set.rules.filter((r) => r.host.includes('*')).map((r) => [r.id, r.probe])).toEqual([
      ['2', ['moki-marbles.appspot.com']],
      ['7', ['api.pushy.me']],
      ['8', ['mqtt.pushy.io']],
    ]);
    for (const id of ['7', '8']) {
      const rule = set.rules.find((r) => r.id === id) as Rule;
      expect(rule.severity).toBe('warning');
      expect(rule.note).toContain('Necessary for Agent versions using Pushy communication');
    }
    expect(set.rules.find((r) => r.id === '6')?.note).toMatch(/FCM.*2019-05-29.*google-fcm/);
  });

  it('AirWatch: courier falls back to courier-443 with the page’s note; 2195/2196 are legacy; provider is current', () => {
    const set = byId('airwatch-apns');
    const courier = set.rules.find((r) => r.id === 'courier') as Rule;
    expect(courier.numbered).toEqual({ from: 0, to: 50, sample: 5 });
    expect(courier.fallback).toEqual({
      rule: 'courier-443',
      ports: [443],
      for: [5223],
      note: 'Note: TCP Port 443 is used as a fallback on WiFi, when devices are unable to communicate to APNs on TCP Port 5223.',
    });
    expect(seed('002')).toContain(courier.fallback?.note);
    expect(set.rules.filter((r) => r.legacy).map((r) => [r.id, r.legacy?.ports, r.legacy?.retired])).toEqual([
      ['gateway', [2195], '2021-03-31'],
      ['feedback', [2196], '2021-03-31'],
    ]);
    expect(set.rules.filter((r) => r.origin === 'current').map((r) => [r.host, r.ports])).toEqual([
      ['api.push.apple.com', [443, 2197]],
    ]);
  });

  it('OpManager quotes the page’s consequence and adds the current provider API', () => {
    const set = byId('opmanager');
    const impact = 'This will result in OpManager application being unable to receive notifications from the OpManager server.';
    expect(set.rules.map((r) => r.impact)).toEqual([impact, impact, impact]);
    expect(seed('003')).toContain('2195 & 2196');
    expect(set.rules.map((r) => [r.id, r.origin, r.legacy?.retired])).toEqual([
      ['gateway', 'documented', '2021-03-31'],
      ['feedback', 'documented', '2021-03-31'],
      ['provider', 'current', undefined],
    ]);
  });

  it('IBI-aws checks the message file with GET and HEAD, text/xml, under 100KB', () => {
    const set = byId('ibi-aws');
    expect(set.rules.map((r) => [r.id, r.url, r.check, r.http?.method, r.http?.contentType, r.http?.maxBytes])).toEqual([
      ['webservice', 'https://mobileservice.ibi-aws.net', 'https', 'GET', undefined, undefined],
      ['webservice-encryption', 'https://mobileservice.ibi-aws.net', 'https', undefined, undefined, undefined],
      ['message-get', '${messageUrl}', 'https', 'GET', 'text/xml', 102400],
      ['message-head', '${messageUrl}', 'https', 'HEAD', 'text/xml', 102400],
      ['message-write', '${messageWriteUrl}', 'write', undefined, undefined, undefined],
    ]);
    expect(set.rules[0]?.http?.status).toEqual([]);
    // "Encryption: TLS, AES-256", a warning of its own so that a weak session does not hide reachability.
    expect(set.rules[1]).toMatchObject({ purpose: 'Encryption: TLS, AES-256', severity: 'warning' });
    expect(set.rules[1]?.tls).toEqual({ minVersion: 'TLSv1.2', ciphers: [{ algorithm: 'AES', bits: 256 }] });
  });

  it('Apple and FCM sets carry current facts only, with a fallback to a 443 warning rule', () => {
    for (const [id, rule, fallback] of [
      ['apple-push', 'courier', 'courier-443'],
      ['google-fcm', 'mtalk', 'mtalk-443'],
    ] as const) {
      const set = byId(id);
      expect(set.rules.every((r) => r.origin === 'current'), id).toBe(true);
      const main = set.rules.find((r) => r.id === rule) as Rule;
      const spare = set.rules.find((r) => r.id === fallback) as Rule;
      expect([main.severity, spare.severity, spare.ports, main.fallback?.rule]).toEqual(['critical', 'warning', [443], fallback]);
      expect(spare.host).toBe(main.host);
    }
    const apple = byId('apple-push');
    expect(apple.rules.map((r) => [r.host, r.ports, r.severity])).toEqual([
      ['api.push.apple.com', [443, 2197], 'critical'],
      ['api.sandbox.push.apple.com', [443, 2197], 'warning'],
      ['#-courier.push.apple.com', [5223], 'critical'],
      ['#-courier.push.apple.com', [443], 'warning'],
      ['init-p01st.push.apple.com', [443, 80], 'warning'],
    ]);
    // Served from a CDN: no range, so the 17/8 check never flags it.
    expect(apple.rules.find((r) => r.id === 'push-init')?.cidr).toEqual([]);
    const fcm = byId('google-fcm');
    expect(fcm.rules.map((r) => [r.host, r.ports, r.check])).toEqual([
      ['fcm.googleapis.com', [443], 'tls'],
      ['mtalk.google.com', [5228, 5229, 5230], 'tls'],
      ['mtalk.google.com', [443], 'tls'],
    ]);
  });
});

/** HT203609 (checked 2026-11): 17.0.0.0/8 and the narrow lists; IPv6 broad ranges are Apple's registered allocations. */
const APPLE_BROAD = ['17.0.0.0/8', '2620:149::/32', '2403:300::/32', '2a01:b740::/32'];
const APPLE_NARROW = [
  '17.249.0.0/16', '17.252.0.0/16', '17.57.144.0/22', '17.188.128.0/18', '17.188.20.0/23',
  '2620:149:a44::/48', '2403:300:a42::/48', '2403:300:a51::/48', '2a01:b740:a42::/48',
];

describe('Apple ranges', () => {
  it('every built-in rule that checks 17.0.0.0/8 also has the IPv6 ranges and the narrow lists of both families', () => {
    const appleRules = loadBuiltinRuleSets().flatMap((set) => set.rules.filter((r) => r.cidr.includes('17.0.0.0/8')));
    expect(appleRules.length).toBeGreaterThanOrEqual(12);
    for (const rule of appleRules) {
      expect(rule.cidr, rule.id).toEqual(APPLE_BROAD);
      expect(rule.narrowCidr, rule.id).toEqual(APPLE_NARROW);
    }
  });
});

describe('resolveRuleSets', () => {
  const ids = (names: string[]): string[] => resolveRuleSets(names).map((s) => s.id);

  it('takes ids and aliases, in any case, in the order given, each once', () => {
    expect(ids(['ios'])).toEqual(['moki-ios']);
    expect(ids(['android', 'APNS', 'airwatch', 'apple', 'fcm', 'ibi', 'opmanager'])).toEqual([
      'moki-android',
      'airwatch-apns',
      'apple-push',
      'google-fcm',
      'ibi-aws',
      'opmanager',
    ]);
    expect(ids(['moki-ios', 'ios', 'iOS'])).toEqual(['moki-ios']);
  });

  it('all gives every built-in set once', () => {
    expect(ids(['all'])).toEqual(ALL_IDS);
    expect(ids(['ios', 'all', 'fcm'])).toEqual(['moki-ios', ...ALL_IDS.filter((id) => id !== 'moki-ios')]);
  });

  it('loads a path as a user rule file', () => {
    const file = fixture('valid-full.yaml');
    const [set, ...rest] = resolveRuleSets([file, file]);
    expect(rest).toEqual([]);
    expect(set).toMatchObject({ id: 'full', builtin: false, file });
    expect(() => resolveRuleSets(['missing/rules.yaml'])).toThrow(
      new FileError('missing/rules.yaml', 0, '', 'cannot read the file: no such file'),
    );
    expect(() => resolveRuleSets(['nothing-here.yml'])).toThrow('nothing-here.yml: cannot read the file: no such file');
  });

  it('an unknown name is a one-line usage error listing the valid names', () => {
    const message =
      'unknown rule set "iso"; did you mean "ios"? valid names: airwatch-apns (apns, airwatch), apple-push (apple), google-fcm (fcm), ' +
      'ibi-aws (ibi), moki-android (android), moki-ios (ios), opmanager, all, or the path of a rule file';
    expect(() => resolveRuleSets(['iso'])).toThrow(new UsageError(message));
  });

  it('suggests the nearest name or alias for a misspelling, and nothing for a name far from all', () => {
    expect(() => resolveRuleSets(['andriod'])).toThrow(/^unknown rule set "andriod"; did you mean "android"\? valid names: /);
    expect(() => resolveRuleSets(['opmanger'])).toThrow(/did you mean "opmanager"\?/);
    expect(() => resolveRuleSets(['zzzzzz'])).toThrow(/^unknown rule set "zzzzzz"; valid names: /);
  });

  it('no names, no sets', () => {
    expect(resolveRuleSets([])).toEqual([]);
  });
});

describe('built-in names index', () => {
  it('reads the same id and aliases from each file header as parsing the file does', () => {
    const parsed = loadBuiltinRuleSets().map((set) => ({ id: set.id, aliases: set.aliases, file: set.file }));
    expect(builtinNames()).toEqual(parsed);
    expect(parsed.length).toBeGreaterThan(5);
  });
});
