/**
 * `credentials:` in a rule file: the push certificate the server uses, checked in the same run as the network
 * path (`pushcheck ./my-mdm.yaml`, the program run in process), with the file's line in every mistake.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileError } from '../../src/errors.js';
import { loadRuleSetFile } from '../../src/rules/load.js';
import type { Report } from '../../src/types.js';
import { runCli, runInProcess } from '../helpers/cli.js';
import { createIssuer, pushCertificate, tokenKeyPem } from '../helpers/push-credentials.js';
import { startTcpServer, type TestServer } from '../helpers/servers.js';
import { thrownBy } from '../helpers/thrown.js';

const DAY_MS = 86_400_000;
let dir: string;
let server: TestServer;

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function ruleFile(name: string, credentials: string): string {
  return write(
    name,
    `id: my-mdm\ntitle: Our MDM server\n${credentials}rules:\n  - id: mdm\n    host: 127.0.0.1\n    ports: [${server.port}]\n    check: tcp\n` +
      `    purpose: MDM server\n    impact: devices cannot check in\n    severity: critical\n`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-rule-creds-'));
  server = await startTcpServer({ host: '127.0.0.1' });
  const issuer = await createIssuer();
  const good = await pushCertificate({ issuer, topic: 'com.apple.mgmt.External.aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', environment: 'production' });
  const expired = await pushCertificate({ issuer, topic: 'com.example.app', notBefore: new Date(Date.now() - 400 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  write('push.pem', good.cert + good.key);
  write('expired.pem', expired.cert + expired.key);
  write('AuthKey_ABCDE12345.p8', tokenKeyPem());
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials: in a rule file', () => {
  it('reads paths relative to the rule file, and mappings with the options of pushcheck cert', () => {
    const file = ruleFile('read.yaml', 'credentials:\n  - push.pem\n  - file: AuthKey_ABCDE12345.p8\n    teamId: TEAM123456\n    passphraseEnv: MDM_P12_PASS\n');
    const set = loadRuleSetFile(file);
    expect(set.credentials).toEqual([
      { file: join(dir, 'push.pem'), line: 4 },
      { file: join(dir, 'AuthKey_ABCDE12345.p8'), teamId: 'TEAM123456', passphraseEnv: 'MDM_P12_PASS', line: 5 },
    ]);
  });

  it('names the file, line and field of every mistake', () => {
    const cases: Array<[string, RegExp]> = [
      ['credentials:\n  - missing.pem\n', /:4: credentials\[0\]: no such file: .*missing\.pem$/],
      ['credentials:\n  - file: push.pem\n    passphraseEnv: "hunter2 is my passphrase"\n', /:5: credentials\[0\]\.passphraseEnv: the name of an environment variable/],
      ['credentials:\n  - file: push.pem\n    password: x\n', /:5: credentials\[0\]\.password: /],
      ['credentials:\n  - file: AuthKey_ABCDE12345.p8\n    live: true\n', /credentials\[0\]\.topic: a token key \(\.p8\) needs the topic/],
    ];
    for (const [credentials, message] of cases) {
      const file = ruleFile('bad.yaml', credentials);
      expect(thrownBy(() => loadRuleSetFile(file), FileError).message).toMatch(message);
    }
  });

  it('pushcheck ./my-mdm.yaml checks the network path and the credentials in one run, one JUnit test case each', async () => {
    const file = ruleFile('my-mdm.yaml', 'credentials:\n  - push.pem\n  - expired.pem\n');
    const junit = join(dir, 'junit.xml');
    const run = await runInProcess([file, '--format', 'json', '--junit', junit]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.results.map((r) => [r.ruleset, r.check, r.status])).toEqual([
      ['my-mdm', 'tcp', 'pass'],
      ['my-mdm', 'cert', 'pass'],
      ['my-mdm', 'cert', 'fail'],
    ]);
    expect(report.results[2]!.error?.code).toBe('cert_expired');
    expect(readFileSync(junit, 'utf8').match(/<testcase /g)).toHaveLength(3);
  });

  it('the same from the built CLI (check.cjs, with node-forge and x509 loaded from dist/bundle/lib/ for the credentials)', async () => {
    const file = ruleFile('my-mdm-built.yaml', 'credentials:\n  - push.pem\n  - expired.pem\n');
    const run = await runCli([file, '--format', 'json'], { env: { NODE_DEBUG: 'pushcheck' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/bundle\/lib\/node-forge\.cjs/);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.results.map((r) => [r.ruleset, r.check, r.status, r.error?.code])).toEqual([
      ['my-mdm', 'tcp', 'pass', undefined],
      ['my-mdm', 'cert', 'pass', undefined],
      ['my-mdm', 'cert', 'fail', 'cert_expired'],
    ]);
  });

  it('a credential that cannot be read is the rule file’s mistake: its line, exit 2', async () => {
    write('broken.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const file = ruleFile('broken.yaml', 'credentials:\n  - broken.pem\n');
    const run = await runInProcess([file]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toMatch(new RegExp(`^pushcheck: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: credentials\\[0\\]: .*broken\\.pem: certificate 1 is damaged`));
  });
});
