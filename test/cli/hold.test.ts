/**
 * --hold at the command line: what durations it takes, what it refuses (one line, exit 2), which built-in rules are
 * long-lived channels, and that a held run off a terminal prints no spinner. The holds themselves are tested in
 * test/run/hold.test.ts (loopback) and test/faults/hold.test.ts (nftables).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAndPrint } from '../../src/cli/check.js';
import { holdDuration } from '../../src/cli/options.js';
import { UsageError } from '../../src/errors.js';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { loadBuiltinRuleSets, resolveRuleSets } from '../../src/rules/builtin.js';
import { runCli } from '../helpers/cli.js';
import { startTlsServer, type TestServer } from '../helpers/servers.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-hold-cli-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('--hold DURATION', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['2500ms', 2500],
  ])('takes %s as %i ms', (text, ms) => {
    expect(holdDuration(text)).toBe(ms);
  });

  it.each(['5', 'abc', '5 minutes', '-5m', '0s', '500ms', '13h', ''])('refuses %j with one line naming a duration it would take', (text) => {
    expect(() => holdDuration(text)).toThrow(InvalidArgumentError);
    expect(() => holdDuration(text)).toThrow(/^expected a duration (such as 90s, 5m, 30m or 1h|from 1s to 12h), got "[^\n]*"$/);
  });

  it('exits 2 with that line on stderr, nothing on stdout and no stack', async () => {
    const run = await runCli(['ios', '--hold', '5x']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^pushcheck: option '--hold <duration>' argument '5x' is invalid\. expected a duration such as 90s, 5m, 30m or 1h, got "5x"\n$/);
  });

  it('refuses rule sets with no long-lived channel before probing anything (in process)', async () => {
    const flags = { format: 'json', timeout: 1000, concurrency: 4, retries: 0, resolve: [], ca: [], var: [], strict: false, insecure: false, hold: 60_000 };
    const error = await runAndPrint(resolveRuleSets(['opmanager']), flags).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toBe(
      '--hold: no rule of opmanager is a long-lived channel (hold: true); the built-in ones are in apple-push, airwatch-apns, moki-ios, google-fcm and moki-android',
    );
  });
});

describe('the built-in long-lived channels', () => {
  it('are the courier rules (5223 and 443), FCM mtalk (5228-5230 and 443) and the MQTT host, and nothing else', () => {
    const held = loadBuiltinRuleSets().flatMap((set) =>
      set.rules.filter((rule) => rule.hold).map((rule) => `${set.id}/${rule.id} ${rule.check} ${rule.ports.join(',')}`),
    );
    expect(held.sort()).toEqual(
      [
        'airwatch-apns/courier tls 5223',
        'airwatch-apns/courier-443 tls 443',
        'apple-push/courier tls 5223',
        'apple-push/courier-443 tls 443',
        'google-fcm/mtalk tls 5228,5229,5230',
        'google-fcm/mtalk-443 tls 443',
        'moki-android/8 mqtt 443',
        'moki-ios/5 tls 443,2195,2196,5223',
      ].sort(),
    );
  });
});

describe('a held run off a terminal', () => {
  let server: TestServer;
  let caFile: string;

  beforeAll(async () => {
    const authority = await createCertificateAuthority('pushcheck hold cli CA');
    server = await startTlsServer({ ...(await authority.issue({ names: ['held.push.test'] })), host: '127.0.0.1' });
    caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, authority.cert);
  });

  afterAll(async () => {
    await server.close();
  });

  it('prints the table and the hold, and no spinner on stderr', async () => {
    const file = path.join(dir, 'hold.yaml');
    const rule = ['  - id: held', '    host: held.push.test', `    ports: [${server.port}]`, '    check: tls', '    hold: true'];
    writeFileSync(file, `id: hold\ntitle: Hold\nrules:\n${[...rule, '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n')}`);
    const run = await runCli([file, '--resolve', 'held.push.test=127.0.0.1', '--ca', caFile, '--hold', '1s']);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.replace(/[│\s]+/g, " ")).toMatch(/--hold: the far end answered a TLS close_notify by closing its side \(close_notify or FIN\) after 1 s idle/);
  });
});
