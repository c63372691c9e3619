import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { loadBuiltinRuleSets } from '../../src/rules/builtin.js';
import {
  expandTargets,
  parsePortRange,
  parsePortSpec,
  parseVars,
  sampleNumbers,
} from '../../src/rules/expand.js';
import { loadRuleSetFile, parseRuleSet } from '../../src/rules/load.js';
import type { RuleSet, Target } from '../../src/types.js';

const full = (): RuleSet => loadRuleSetFile(fileURLToPath(new URL('../fixtures/rules/valid-full.yaml', import.meta.url)));
const builtin = (id: string): RuleSet => {
  const set = loadBuiltinRuleSets().find((s) => s.id === id);
  if (!set) throw new Error(`no built-in ${id}`);
  return set;
};
const ofRule = (targets: Target[], rule: string): Target[] => targets.filter((t) => t.rule.id === rule);
const brief = (t: Target): string => `${t.host}:${t.port}/${t.check}`;

describe('parsePortSpec', () => {
  it('reads a number, a numeric string and a range', () => {
    expect(parsePortSpec(443)).toEqual([443]);
    expect(parsePortSpec('2197')).toEqual([2197]);
    expect(parsePortSpec('5228-5230')).toEqual([5228, 5229, 5230]);
    expect(parsePortSpec(' 80 - 81 ')).toEqual([80, 81]);
    expect(parsePortSpec('7-7')).toEqual([7]);
  });

  it.each([
    [0, 'port 0 is out of range 1-65535'],
    [65536, 'port 65536 is out of range 1-65535'],
    ['abc', '"abc" is not a port number or a range like "5228-5230"'],
    [44.5, '44.5 is not a port number or a range like "5228-5230"'],
    [-1, '-1 is not a port number or a range like "5228-5230"'],
    ['5230-5228', 'port range "5230-5228" runs backwards; write "5228-5230"'],
    ['0-5', 'port 0 is out of range 1-65535'],
    ['1-65535', 'port range "1-65535" spans 65535 ports; at most 100 are allowed'],
  ])('refuses %j', (spec, message) => {
    expect(() => parsePortSpec(spec)).toThrow(new UsageError(message));
  });

  it('parsePortRange labels its messages for the CLI', () => {
    expect(parsePortRange('0-50', '--courier', 0, 1000)).toEqual([0, 50]);
    expect(parsePortRange('9', '--courier', 0, 1000)).toEqual([9, 9]);
    expect(() => parsePortRange('50-0', '--courier', 0, 1000)).toThrow('--courier range "50-0" runs backwards; write "0-50"');
    expect(() => parsePortRange('a-b', '--courier', 0, 1000)).toThrow('--courier "a-b": expected a number or a range like 0-50');
  });
});

describe('sampleNumbers', () => {
  it('spreads 5 over 0-50 evenly, both ends included', () => {
    // step 12.5: 0, 12.5→13, 25, 37.5→38, 50
    expect(sampleNumbers(0, 50, 5)).toEqual([0, 13, 25, 38, 50]);
  });

  it('gives every number when the range is no larger than the sample', () => {
    expect(sampleNumbers(3, 5, 5)).toEqual([3, 4, 5]);
    expect(sampleNumbers(7, 7, 3)).toEqual([7]);
  });

  it('holds its properties across many ranges', () => {
    for (let from = 0; from <= 4; from++) {
      for (let to = from; to <= from + 60; to += 3) {
        for (let sample = 1; sample <= 12; sample++) {
          const got = sampleNumbers(from, to, sample);
          const count = to - from + 1;
          expect(got).toHaveLength(Math.min(sample, count));
          expect(new Set(got).size).toBe(got.length);
          expect(got.every((n, i) => i === 0 || n > (got[i - 1] as number))).toBe(true);
          expect(got.every((n) => Number.isInteger(n) && n >= from && n <= to)).toBe(true);
          expect(got[0]).toBe(from);
          if (sample >= 2) expect(got.at(-1)).toBe(to);
          expect(sampleNumbers(from, to, sample)).toEqual(got);
          // evenly spread: neighbouring gaps differ by at most one
          const gaps = got.slice(1).map((n, i) => n - (got[i] as number));
          if (gaps.length > 0) expect(Math.max(...gaps) - Math.min(...gaps)).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('refuses a sample below 1 or a reversed range', () => {
    expect(() => sampleNumbers(0, 50, 0)).toThrow(RangeError);
    expect(() => sampleNumbers(9, 1, 2)).toThrow(RangeError);
  });
});

describe('parseVars', () => {
  it('splits at the first =', () => {
    expect(parseVars(['messageUrl=https://x.example/m.ibi?a=b', 'n=1'])).toEqual({
      messageUrl: 'https://x.example/m.ibi?a=b',
      n: '1',
    });
    expect(parseVars([])).toEqual({});
  });

  it.each([
    [['messageUrl'], '--var "messageUrl": expected name=value, e.g. --var messageUrl=https://your-server/path/messages.ibi'],
    [['=x'], '--var "=x": expected name=value, e.g. --var messageUrl=https://your-server/path/messages.ibi'],
    [['1st=x'], '--var "1st=x": expected name=value, e.g. --var messageUrl=https://your-server/path/messages.ibi'],
    [['a='], '--var a: the value is empty'],
    [['a=1', 'a=2'], '--var a is given twice'],
  ])('refuses %j', (list, message) => {
    expect(() => parseVars(list)).toThrow(new UsageError(message));
  });
});

describe('expandTargets', () => {
  it('makes one target per host and port, # filled from the rule, plain ports without TLS', () => {
    const targets = expandTargets(full(), { vars: {} });
    // rule 7: numbered 3-9 sample 3 → 3, 6, 9; five ports each; 2195 is a plain port of a tls rule → tcp
    expect(ofRule(targets, '7').map(brief)).toEqual(
      [3, 6, 9].flatMap((n) =>
        [443, 5228, 5229, 5230, 2195].map((p) => `${n}-courier.example.com:${p}/${p === 2195 ? 'tcp' : 'tls'}`),
      ),
    );
    // rule api: the wildcard host is replaced by its probe hosts; 80 is plain on an https rule → http
    expect(ofRule(targets, 'api').map((t) => `${brief(t)} ${t.url}`)).toEqual([
      'api.example.org:8443/https https://api.example.org:8443/health',
      'api.example.org:80/http http://api.example.org/health',
      'push.example.org:8443/https https://push.example.org:8443/health',
      'push.example.org:80/http http://push.example.org/health',
    ]);
    expect(targets.every((t) => t.ruleset === 'full')).toBe(true);
    expect(targets).toHaveLength(15 + 4 + 1 + 1);
  });

  it('lets --courier and --courier-sample override a rule\'s numbering', () => {
    const hosts = (numbered: object): string[] => [
      ...new Set(ofRule(expandTargets(full(), { vars: {}, numbered }), '7').map((t) => t.host)),
    ];
    expect(hosts({ sample: 2 })).toEqual(['3-courier.example.com', '9-courier.example.com']);
    expect(hosts({ from: 0, to: 1 })).toEqual(['0-courier.example.com', '1-courier.example.com']);
    expect(hosts({ from: 10, to: 20, sample: 3, extra: undefined })).toEqual([
      '10-courier.example.com',
      '15-courier.example.com',
      '20-courier.example.com',
    ]);
    expect(() => expandTargets(full(), { vars: {}, numbered: { sample: 0 } })).toThrow(UsageError);
  });

  it('a url rule without its --var is one skipped target saying how to supply it', () => {
    const [target, ...rest] = ofRule(expandTargets(full(), { vars: {} }), 'file');
    expect(rest).toEqual([]);
    expect(target).toMatchObject({
      host: '${fileUrl}',
      port: 443,
      check: 'https',
      skipReason: 'set --var fileUrl=https://your-server/file.xml to check the file',
    });
    expect(target?.url).toBeUndefined();
  });

  it('a url rule with its --var takes host, port, scheme and url from the value', () => {
    const targets = expandTargets(full(), { vars: { fileUrl: 'http://Files.Example.com:8081/a/m.ibi?v=2' } });
    const [target] = ofRule(targets, 'file');
    expect(target).toMatchObject({
      host: 'files.example.com',
      port: 8081,
      check: 'http',
      url: 'http://files.example.com:8081/a/m.ibi?v=2',
    });
    expect(target?.skipReason).toBeUndefined();
    expect(ofRule(targets, 'site').map((t) => `${brief(t)} ${t.url}`)).toEqual([
      'www.example.net:8080/http http://www.example.net:8080/status?full=1',
    ]);
  });

  it('an undeclared variable still gets a hint, naming the rule', () => {
    const text = [
      'id: local',
      'title: Local',
      'rules:',
      '  - id: message-get',
      '    host: messages',
      '    url: "${messageUrl}"',
      '    ports: [8443]',
      '    check: https',
      '    purpose: P',
      '    impact: I',
      '    severity: critical',
    ].join('\n');
    expect(expandTargets(parseRuleSet(text, 'local.yaml'), { vars: {} })).toMatchObject([
      { host: 'messages', port: 8443, check: 'https', skipReason: 'set --var messageUrl=<value> to check rule message-get' },
    ]);
  });

  it('a --var value that is no http(s) URL is a usage error', () => {
    expect(() => expandTargets(full(), { vars: { fileUrl: 'ftp://x/y' } })).toThrow(
      new UsageError('--var fileUrl=ftp://x/y: rule full/file needs an http:// or https:// URL, got "ftp://x/y"'),
    );
  });
});

describe('expanding the built-in rule sets', () => {
  it('gcm.googleapis.com 5228-5230 gives three targets', () => {
    expect(ofRule(expandTargets(builtin('moki-android'), { vars: {} }), '6').map(brief)).toEqual([
      'gcm.googleapis.com:5228/tcp',
      'gcm.googleapis.com:5229/tcp',
      'gcm.googleapis.com:5230/tcp',
    ]);
  });

  it('Moki iOS rule 2 probes 80 as plain TCP and 443 with TLS; rule 5 uses the test host Moki names', () => {
    const targets = expandTargets(builtin('moki-ios'), { vars: {} });
    expect(ofRule(targets, '2').map(brief)).toEqual(['mokimanage.appspot.com:80/tcp', 'mokimanage.appspot.com:443/tls']);
    expect(ofRule(targets, '5').map(brief)).toEqual(
      [443, 2195, 2196, 5223].map((p) => `courier.sandbox.push.apple.com:${p}/tls`),
    );
  });

  it('the AirWatch courier rule samples five numbered hosts, and its fallback the same five', () => {
    const targets = expandTargets(builtin('airwatch-apns'), { vars: {} });
    const courier = ofRule(targets, 'courier').map((t) => t.host);
    expect(courier).toEqual([0, 13, 25, 38, 50].map((n) => `${n}-courier.push.apple.com`));
    expect(ofRule(targets, 'courier-443').map((t) => t.host)).toEqual(courier);
  });

  it('IBI message rules are skipped without --var messageUrl and probed with it', () => {
    const skipped = expandTargets(builtin('ibi-aws'), { vars: {} }).filter((t) => t.skipReason);
    expect(skipped.map((t) => [t.rule.id, t.skipReason])).toEqual([
      ['message-get', 'set --var messageUrl=https://your-server/path/messages.ibi to check the message file'],
      ['message-head', 'set --var messageUrl=https://your-server/path/messages.ibi to check the message file'],
      ['message-write', 'set --var messageWriteUrl=webdavs://your-server/path/messages.ibi to check that the IBI-aws Admin can write the message file (also ftp://, ftps:// or a file path)'],
    ]);
    const given = expandTargets(builtin('ibi-aws'), { vars: { messageUrl: 'https://intranet.example/msg/m.ibi' } });
    expect(given.map((t) => `${t.rule.id} ${t.check} ${t.url} ${t.rule.http?.method}`)).toEqual([
      'webservice https https://mobileservice.ibi-aws.net/ GET',
      'webservice-encryption https https://mobileservice.ibi-aws.net/ undefined',
      'message-get https https://intranet.example/msg/m.ibi GET',
      'message-head https https://intranet.example/msg/m.ibi HEAD',
      'message-write write undefined undefined',
    ]);
  });

  // At most the default concurrency, so that `pushcheck all` takes about as long as its slowest probe.
  it('all built-in sets together stay within 64 probed targets', () => {
    const targets = loadBuiltinRuleSets().flatMap((set) => expandTargets(set, { vars: {} }));
    expect(targets.filter((t) => !t.skipReason).length).toBeLessThanOrEqual(64);
  });
});
