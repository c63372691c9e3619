/**
 * `pushcheck cert` as a user runs it: exit codes, every output format, one-line errors, and no secret anywhere:
 * neither the passphrase nor any form of the private key appears in any output or any file written. The built CLI
 * shows the exit codes and the missing terminal; the rest runs the same program in process (runInProcess).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runInProcess } from '../helpers/cli.js';
import { createIssuer, exportPkcs12, hasOpenssl, keyMaterialForms, pushCertificate, tokenKeyPem, type PushCredential } from '../helpers/push-credentials.js';

const DAY_MS = 86_400_000;
const TOPIC = 'com.apple.mgmt.External.9b2f0c1d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const PASSPHRASE = 'Tr0ub4dor&3-not-in-any-output';

let dir: string;
let valid: PushCredential;
let soon: PushCredential;
let expired: PushCredential;
let tokenKey: string;

function write(name: string, text: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function expectOneLineError(stderr: string, file: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^pushcheck: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  expect(stderr).not.toMatch(/\n\s+at /);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-cert-cli-'));
  const issuer = await createIssuer();
  valid = await pushCertificate({ issuer, topic: TOPIC, environment: 'production', commonName: 'APSP:9b2f0c1d-4e5f-4a6b-8c7d-0e1f2a3b4c5d' });
  soon = await pushCertificate({ issuer, topic: 'com.example.app', notAfter: new Date(Date.now() + 5 * DAY_MS + 3_600_000) });
  expired = await pushCertificate({ issuer, topic: 'com.example.app', notBefore: new Date(Date.now() - 400 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) });
  tokenKey = tokenKeyPem();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pushcheck cert: verdicts and exit codes', () => {
  it('exits 0 for a valid certificate, 1 for an expired one', async () => {
    const ok = await runCli(['cert', write('ok.pem', valid.cert + valid.key)]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(TOPIC);
    expect(ok.stdout).toMatch(/PASS: nothing critical failed — 1 passed/);
    const failed = await runCli(['cert', write('expired.pem', expired.cert + expired.key)]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('cert_expired');
  });

  it('a certificate expiring soon: 0 with a warning, 1 with --strict, a pass with --warn-days under its days (in process)', async () => {
    const warn = write('soon.pem', soon.cert + soon.key);
    const warned = await runInProcess(['cert', warn]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toContain('cert_expiring');
    expect((await runInProcess(['cert', '--strict', warn])).code).toBe(1);
    expect((await runInProcess(['cert', '--warn-days', '3', warn])).stdout).toMatch(/PASS: nothing critical failed — 1 passed/);
  });

  it('exits 2 with one line naming the file for a corrupt file, and for a missing one (in process)', async () => {
    const corrupt = write('corrupt.der', Buffer.from([0x30, 0x82, 0x01, 0x00, 0x01, 0x02, 0x03]));
    const run = await runInProcess(['cert', corrupt]);
    expect(run.code).toBe(2);
    expectOneLineError(run.stderr, corrupt);
    const missing = join(dir, 'nope.p12');
    const gone = await runInProcess(['cert', missing]);
    expect(gone.code).toBe(2);
    expectOneLineError(gone.stderr, missing);
  });

  it('--renewal: says in words that enrolled devices are cut off when the topic changes', async () => {
    const issuer = await createIssuer();
    const other = await pushCertificate({ issuer, topic: 'com.apple.mgmt.External.11111111-2222-3333-4444-555555555555', notAfter: new Date(Date.now() + 800 * DAY_MS) });
    const run = await runInProcess(['cert', '--renewal', write('old.pem', valid.cert), write('new.pem', other.cert)]);
    expect(run.code).toBe(1);
    expect(run.stdout.replace(/\s*│\s*/g, ' ').replace(/\s+/g, ' ')).toContain('devices enrolled under the old certificate will stop receiving commands and must be re-enrolled');
    const usage = await runInProcess(['cert', '--renewal', join(dir, 'old.pem')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--renewal compares two certificates');
  });
});

describe.skipIf(!hasOpenssl())('pushcheck cert: secrets never leave', () => {
  it('keeps the passphrase and every form of the key out of every format and every file written', async () => {
    const p12 = exportPkcs12(dir, 'secret', valid, PASSPHRASE);
    const pem = write('with-key.pem', soon.cert + soon.key);
    const p8 = write('AuthKey_KEY1234567.p8', tokenKey);
    const files = { json: join(dir, 'r.json'), junit: join(dir, 'r.xml'), markdown: join(dir, 'r.md'), prometheus: join(dir, 'r.prom') };
    const args = ['cert', p12, pem, p8, '--passphrase-env', 'P12_SECRET', '--team-id', 'TEAM123456'];
    const outputs = Object.entries(files).flatMap(([format, file]) => [`--${format}`, file]);
    const table = await runInProcess([...args, ...outputs], { env: { P12_SECRET: PASSPHRASE } });
    expect(table.code).toBe(0);
    const json = await runInProcess([...args, '--format', 'json'], { env: { P12_SECRET: PASSPHRASE } });
    const texts = [table.stdout, table.stderr, json.stdout, json.stderr, ...Object.values(files).map((f) => readFileSync(f, 'utf8'))];
    const secrets = [PASSPHRASE, ...keyMaterialForms(valid.key), ...keyMaterialForms(soon.key), ...keyMaterialForms(tokenKey)];
    for (const text of texts) {
      for (const secret of secrets) expect(text.includes(secret), `found ${secret.slice(0, 12)}…`).toBe(false);
    }
    // One result per credential, with check cert, in JSON and in JUnit.
    const report = JSON.parse(json.stdout) as { results: Array<{ check: string; credential: { format: string } }>; options: Record<string, unknown> };
    expect(report.results.map((r) => [r.check, r.credential.format])).toEqual([
      ['cert', 'pkcs12'],
      ['cert', 'pem'],
      ['cert', 'p8'],
    ]);
    expect(JSON.stringify(report.options)).not.toContain('P12_SECRET');
    expect(readFileSync(files.junit, 'utf8').match(/<testcase /g)).toHaveLength(3);
    // The JSON report reads back through the schema.
    const back = await runInProcess(['report', files.json, '--format', 'markdown']);
    expect(back.code).toBe(0);
    expect(back.stdout).toContain('cert_expiring');
  });

  it('a wrong passphrase is one line, exit 2, and the passphrase is not in it', async () => {
    const p12 = exportPkcs12(dir, 'wrong', valid, PASSPHRASE, true);
    const run = await runInProcess(['cert', p12, '--passphrase-env', 'P12_SECRET'], { env: { P12_SECRET: 'not-the-passphrase' } });
    expect(run.code).toBe(2);
    expectOneLineError(run.stderr, p12);
    expect(run.stderr).toContain('wrong passphrase');
    expect(run.stderr).not.toContain('not-the-passphrase');
    expect(run.stdout).toBe('');
  });

  it('without a terminal and without --passphrase-env, says how to give the passphrase', async () => {
    const p12 = exportPkcs12(dir, 'noprompt', valid, PASSPHRASE);
    const run = await runCli(['cert', p12]);
    expect(run.code).toBe(2);
    expectOneLineError(run.stderr, p12);
    expect(run.stderr).toContain('--passphrase-env VAR');
  });
});
