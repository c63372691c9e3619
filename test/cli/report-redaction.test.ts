/**
 * A credential in a report never leaves in any format. emitReport skips the redacted copy when no string of the
 * report has an @ (and judges JSON by its text), so a secret is put in each place a string sits in a report, alone
 * (nothing else in the report has an @), and every format is rendered from that report as a run writes it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { emitReport } from '../../src/cli/report-files.js';
import { formatNames } from '../../src/report/index.js';
import { formats } from '../helpers/formats.js';
import { redactSecrets } from '../../src/secrets.js';
import type { Report, Result } from '../../src/types.js';
import { runInProcess } from '../helpers/cli.js';
import { richReport } from '../report/fixture.js';

const SECRET = 'hunter2-secret';
const CREDENTIAL = `http://admin:${SECRET}@proxy.corp.test:3128`;
const MASKED = 'http://***@proxy.corp.test:3128';

/** Fields whose values come from a closed set (a status, a failure code): pushcheck writes them, never a user or a server. */
const CLOSED_SETS = new Set(['status', 'severity', 'origin', 'check', 'family', 'verdict', 'cause', 'code', 'phase', 'end']);

/** Every place a free-text string sits in `value`, as a path of keys and indices. */
function stringPaths(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value === 'string') return CLOSED_SETS.has(String(path[path.length - 1])) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPaths(item, [...path, i]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => stringPaths(item, [...path, key]));
  return [];
}

/** A copy of `report` with `text` at `path`: the string there becomes `<what was there> <text>`. */
function withTextAt(report: Report, path: Array<string | number>, text: string): Report {
  const copy = structuredClone(report) as unknown as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  parent[last] = `${parent[last] as string} ${text}`;
  return copy as unknown as Report;
}

/** What emitReport prints on stdout: `format` there, and every other format after it (`--<name> -`). */
async function printed(report: Report, format: string, color = false): Promise<string> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    const outputs = formatNames.filter((name) => name !== 'table' && name !== format).map((name) => ({ format: name, file: '-' }));
    await emitReport(report, { format, outputs, color });
  } finally {
    write.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => vi.restoreAllMocks());

/** The formats' fixture with every optional text a report can hold besides: proxy, DNS server, fallbacks, holds, a credential file. */
function fullReport(): Report {
  const rich = richReport();
  const [first, second, ...rest] = rich.results;
  const credential: Result = {
    ...first!,
    check: 'cert',
    host: '/etc/mdm/push.p12',
    port: 0,
    credential: {
      file: '/etc/mdm/push.p12',
      format: 'pkcs12',
      kind: 'certificate',
      subject: 'UID=com.apple.mgmt.External.1, CN=APSP',
      issuer: 'CN=Apple Application Integration 2 Certification Authority',
      serial: '0A1B',
      validTo: '2027-01-01T00:00:00.000Z',
      topic: 'com.apple.mgmt.External.1',
      extraTopics: ['com.apple.mgmt.External.1.voip'],
      keyId: 'ABCDE12345',
      teamId: 'TEAM123456',
      keyType: 'EC P-256',
      live: { url: 'https://api.sandbox.push.apple.com', topic: 'com.apple.mgmt.External.1', status: 400, reason: 'BadDeviceToken' },
    },
  };
  return {
    ...rich,
    options: { ...rich.options, dnsServer: '10.0.0.53:53', proxy: 'http://proxy.corp.test:3128', proxySource: 'HTTPS_PROXY', noProxy: ['.corp.test'], courier: '0-9', vars: ['messageUrl'] },
    rulesets: rich.rulesets.map((set) => ({ ...set, source: 'https://support.example.test/kb/1', notes: ['a note of the rule set'] })),
    findings: rich.findings.map((finding) => ({ ...finding, subject: 'CN=Corp Inspection CA' })),
    results: [
      { ...first!, via: 'http://proxy.corp.test:3128', fallback: { rule: '6', host: 'courier.push.apple.com', port: 443, note: 'Wi-Fi falls back to 443' } },
      { ...second!, familyFallback: { family: 'ipv4', address: '17.57.146.20', note: 'IPv6 fails while IPv4 works' }, hold: { requestedMs: 90_000, idleMs: 90_000, end: 'answered', proof: 'an MQTT ping', detail: 'answered after 90 s idle' } },
      ...rest,
      credential,
    ],
  };
}

describe('a credential in a report, wherever it is', () => {
  const report = fullReport();
  const paths = stringPaths(report);

  it('starts from a report with free text in every part and no @ in any, so that each case below has exactly one', () => {
    expect(JSON.stringify(report)).not.toContain('@');
    const places = new Set(paths.map((path) => path.filter((key) => typeof key === 'string').join('.')));
    for (const place of ['options.proxy', 'options.dnsServer', 'options.noProxy', 'rulesets.source', 'rulesets.notes', 'findings.summary', 'findings.subject', 'results.host', 'results.via', 'results.error.message', 'results.note', 'results.tls.issuer', 'results.fallback.note', 'results.familyFallback.note', 'results.hold.detail', 'results.credential.file', 'results.credential.live.url', 'rules.cidr.message']) {
      expect(places, place).toContain(place);
    }
    // The formats render it as it is.
    for (const format of formatNames) expect(formats.get(format)!.render(report, { color: false })).not.toBe('');
  });

  // CPU alone, 290 renders of every format (2.9 s on a quiet machine): more than vitest's 30 s at load 14.
  it('is masked in every format, JSON first and table first, whichever single string holds it', async () => {
    for (const path of paths) {
      const leaky = withTextAt(report, path, CREDENTIAL);
      const json = await printed(leaky, 'json');
      expect(json, path.join('.')).not.toContain(SECRET);
      // JSON shows every string whole: the credential is there, masked.
      expect(json, path.join('.')).toContain(MASKED);
      const table = await printed(leaky, 'table', true);
      expect(table, path.join('.')).not.toContain(SECRET);
    }
  }, 120_000);

  it('is masked in a proxy password recorded in the options, and in a key passphrase that ended up in a message', async () => {
    const proxied = { ...report, options: { ...report.options, proxy: `http://alice:${SECRET}@proxy.test:3128`, proxySource: 'HTTPS_PROXY' } };
    const withMessage = withTextAt(proxied, ['results', 1, 'error', 'message'], `pkcs12://push:${SECRET}@cert.p12`);
    for (const format of formatNames) expect(await printed(withMessage, format), format).not.toContain(SECRET);
  });

  it('changes nothing when there is none: every format prints what the redacted copy would', async () => {
    const copy = JSON.parse(JSON.stringify(report)) as Report;
    for (const format of formatNames) {
      const expected = formatNames
        .filter((name) => name === format || (name !== 'table' && name !== format))
        .sort((a, b) => (a === format ? -1 : b === format ? 1 : 0))
        .map((name) => formats.get(name)!.render(copy, { color: false }))
        .join('');
      expect(await printed(report, format), format).toBe(expected);
    }
  });
});

/** `value` with every object and array in it frozen: a renderer that changes what it renders throws. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

describe('a report without a credential, handed to the renderers as it is', () => {
  it('is rendered in every format without being changed: the caller’s report is no copy any more', async () => {
    const expected = new Map(formatNames.map((format) => [format, formats.get(format)!.render(fullReport(), { color: false })]));
    const frozen = deepFreeze(fullReport());
    expect(redactSecrets(frozen)).toBe(frozen);
    for (const format of formatNames) {
      const others = formatNames.filter((name) => name !== 'table' && name !== format);
      expect(await printed(frozen, format), format).toBe([format, ...others].map((name) => expected.get(name)).join(''));
    }
  });
});

describe('a saved report that holds a credential, read again', () => {
  it('is masked by pushcheck report in every format and by pushcheck diff in both of its formats', async () => {
    // A report saved by hand, by another tool or before a mask existed: nothing but reading it stands in between.
    const earlier = { ...richReport(), findings: [] };
    const failed = earlier.results.findIndex((r) => r.status === 'fail' && r.error);
    const later = withTextAt(withTextAt(richReport(), ['results', failed, 'error', 'message'], CREDENTIAL), ['findings', 0, 'summary'], CREDENTIAL);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-redaction-'));
    try {
      const [before, after] = [path.join(dir, 'before.json'), path.join(dir, 'after.json')];
      writeFileSync(before, JSON.stringify(earlier));
      writeFileSync(after, JSON.stringify(later));
      const runs = [
        ...formatNames.map((format) => ['report', after, '--format', format]),
        ['diff', before, after],
        ['diff', before, after, '--format', 'json'],
      ];
      for (const args of runs) {
        const run = await runInProcess(args);
        expect(run.stderr, args.join(' ')).toBe('');
        expect(run.stdout, args.join(' ')).not.toContain(SECRET);
        // A diff's table shows the finding's summary, its JSON every message as well: the credential is there, masked.
        if (args[0] === 'diff') expect(run.stdout, args.join(' ')).toContain(MASKED);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('redactSecrets', () => {
  it('hands back the value itself when a JSON copy would be the same, and a redacted copy otherwise', () => {
    const clean = { a: 'x', b: [1, 2.5, true, null, { c: 'y' }], d: { e: -1 } };
    expect(redactSecrets(clean)).toBe(clean);
    const deep = { a: [{ b: { c: ['ok', 'see http://u:p@h.test'] } }] };
    const safe = redactSecrets(deep);
    expect(safe).not.toBe(deep);
    expect(safe).toEqual({ a: [{ b: { c: ['ok', 'see http://***@h.test'] } }] });
    expect(deep.a[0]!.b.c[1]).toBe('see http://u:p@h.test');
  });

  it('copies whatever JSON would change, as the copy always did: undefined, NaN, -0, a Date, a class, a toJSON', () => {
    class Point {
      x = 1;
    }
    const cases: unknown[] = [
      { a: undefined },
      { a: Number.NaN },
      { a: Number.POSITIVE_INFINITY },
      { a: -0 },
      { a: new Date(0) },
      { a: new Point() },
      { a: { toJSON: () => 'x' } },
      [1, , 3],
      { a: [undefined] },
    ];
    for (const value of cases) {
      const copy = redactSecrets(value);
      expect(copy).not.toBe(value);
      expect(copy).toEqual(JSON.parse(JSON.stringify(value)));
    }
    // An array's toJSON, which JSON calls too: what it gives is redacted, not handed back as it is.
    const array = { a: Object.assign(['ok'], { toJSON: () => 'see http://u:p@h.test' }) };
    expect(JSON.stringify(redactSecrets(array))).toBe('{"a":"see http://***@h.test"}');
  });
});
