/** Reading and judging credentials in process: every format, every verdict, with certificates the test makes. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCredential, type CredentialCheckOptions } from '../../src/credentials/index.js';
import { checkRenewal } from '../../src/credentials/renewal.js';
import { FileError, UsageError } from '../../src/errors.js';
import type { CredentialSpec } from '../../src/types.js';
import { createIssuer, exportPkcs12, hasOpenssl, pushCertificate, tokenKeyPem, type Issuer, type PushCredential } from '../helpers/push-credentials.js';

const DAY_MS = 86_400_000;
const MDM_TOPIC = 'com.apple.mgmt.External.3f6a1c2e-8d4b-4b7a-9a55-1e2f3a4b5c6d';
const APP_TOPIC = 'com.example.pushapp';

let dir: string;
let issuer: Issuer;
let valid: PushCredential;

const options: CredentialCheckOptions = { ruleset: 'credentials', now: () => new Date(), warnDays: 30, ca: [], timeoutMs: 5000 };

function write(name: string, text: string | Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function check(spec: CredentialSpec | string, extra: Partial<CredentialCheckOptions> = {}) {
  const results = await checkCredential(typeof spec === 'string' ? { file: spec } : spec, { ...options, ...extra });
  expect(results).toHaveLength(1);
  return results[0]!;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-cred-'));
  issuer = await createIssuer();
  valid = await pushCertificate({ issuer, topic: MDM_TOPIC, environment: 'production', commonName: 'APSP:3f6a1c2e-8d4b-4b7a-9a55-1e2f3a4b5c6d' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('push certificates', () => {
  it('reports every fact of a valid MDM push certificate with its key in the same PEM file, and passes', async () => {
    const result = await check(write('mdm.pem', valid.cert + valid.key));
    expect(result.status).toBe('pass');
    expect(result.check).toBe('cert');
    expect(result.port).toBe(0);
    const info = result.credential!;
    expect(info).toMatchObject({ format: 'pem', kind: 'certificate', topic: MDM_TOPIC, mdm: true, environment: 'production', keyMatches: true });
    expect(info.subject).toContain(`UID=${MDM_TOPIC}`);
    expect(info.issuer).toContain('Apple Application Integration Test CA');
    expect(info.serial).toMatch(/^[0-9A-F]+$/);
    expect(info.daysLeft).toBeGreaterThanOrEqual(363);
    expect(result.purpose).toBe(`MDM push certificate for ${MDM_TOPIC}`);
    expect(result.note).toContain('MDM push certificate');
  });

  it('reads the environment from Apple’s extensions and the extra topics from the topic list', async () => {
    const dev = await pushCertificate({ issuer, topic: APP_TOPIC, environment: 'development' });
    const both = await pushCertificate({ issuer, topic: APP_TOPIC, environment: 'both', extraTopics: [`${APP_TOPIC}.voip`, `${APP_TOPIC}.complication`] });
    const devResult = await check(write('dev.pem', dev.cert + dev.key));
    expect(devResult.credential).toMatchObject({ environment: 'development', mdm: false, topic: APP_TOPIC });
    expect(devResult.credential!.extraTopics).toBeUndefined();
    const bothResult = await check(write('both.pem', both.cert + both.key));
    expect(bothResult.credential).toMatchObject({ environment: 'both', extraTopics: [`${APP_TOPIC}.voip`, `${APP_TOPIC}.complication`] });
    expect(bothResult.status).toBe('pass');
  });

  it('warns within --warn-days and says when; passes outside it', async () => {
    const soon = await pushCertificate({ issuer, topic: APP_TOPIC, notAfter: new Date(Date.now() + 5 * DAY_MS + 3_600_000) });
    const file = write('soon.pem', soon.cert + soon.key);
    const result = await check(file);
    expect(result.status).toBe('warn');
    expect(result.error?.code).toBe('cert_expiring');
    expect(result.error?.message).toContain('in 5 days');
    expect(result.credential?.daysLeft).toBe(5);
    expect((await check(file, { warnDays: 5 })).status).toBe('pass');
  });

  it('fails an expired and a not yet valid certificate', async () => {
    const expired = await pushCertificate({ issuer, topic: APP_TOPIC, notBefore: new Date(Date.now() - 400 * DAY_MS), notAfter: new Date(Date.now() - 2 * DAY_MS) });
    const future = await pushCertificate({ issuer, topic: APP_TOPIC, notBefore: new Date(Date.now() + 3 * DAY_MS), notAfter: new Date(Date.now() + 300 * DAY_MS) });
    const e = await check(write('expired.pem', expired.cert + expired.key));
    expect(e.status).toBe('fail');
    expect(e.error?.code).toBe('cert_expired');
    expect(e.error?.message).toMatch(/expired \d{4}-\d\d-\d\d, 2 days ago/);
    const f = await check(write('future.pem', future.cert + future.key));
    expect(f.status).toBe('fail');
    expect(f.error?.code).toBe('cert_not_yet_valid');
  });

  it('fails a certificate that is not an Apple push certificate, with a hint', async () => {
    const plain = await pushCertificate({ issuer, environment: 'none', commonName: 'mdm.example.com' });
    const result = await check(write('server.pem', plain.cert + plain.key));
    expect(result.status).toBe('fail');
    expect(result.error?.code).toBe('cert_not_apns');
    expect(result.error?.message).toContain('no subject UID');
    expect(result.error?.hint).toMatch(/Push Certificates Portal/);
    const uidOnly = await pushCertificate({ issuer, topic: APP_TOPIC, environment: 'none', commonName: 'some client' });
    expect((await check(write('uid-only.pem', uidOnly.cert))).error?.code).toBe('cert_not_apns');
  });

  it('fails a key that does not belong to the certificate, from the same file or from --key', async () => {
    const other = await pushCertificate({ issuer, topic: APP_TOPIC });
    const same = await check(write('mismatch.pem', valid.cert + other.key));
    expect(same.status).toBe('fail');
    expect(same.error?.code).toBe('cert_key_mismatch');
    expect(same.credential?.keyMatches).toBe(false);
    const certOnly = write('cert-only.pem', valid.cert);
    const separate = await check({ file: certOnly, keyFile: write('other.key', other.key) });
    expect(separate.error?.code).toBe('cert_key_mismatch');
    const right = await check({ file: certOnly, keyFile: write('right.key', valid.key) });
    expect(right.status).toBe('pass');
    expect(right.credential?.keyMatches).toBe(true);
    const none = await check(certOnly);
    expect(none.status).toBe('pass');
    expect(none.credential?.keyMatches).toBeUndefined();
    expect(none.note).toContain('no private key in the file');
  });

  it('reads DER', async () => {
    const result = await check(write('mdm.cer', valid.der));
    expect(result.credential).toMatchObject({ format: 'der', topic: MDM_TOPIC });
    expect(result.status).toBe('pass');
  });

  it('picks the push certificate out of a chain, by its key', async () => {
    const result = await checkCredential({ file: write('chain.pem', valid.cert + issuer.pem + valid.key) }, options);
    expect(result).toHaveLength(1);
    expect(result[0]!.credential?.topic).toBe(MDM_TOPIC);
  });

  it('refuses a corrupt or unreadable file with one line naming the file', async () => {
    const broken = valid.cert.replace(/[A-Za-z]{20}/, 'A'.repeat(20));
    const cases = [
      [write('corrupt.pem', broken), /certificate 1 is damaged/],
      [write('garbage.p12', Buffer.from('this is not a certificate at all')), /not a certificate, PKCS#12 or key file/],
      [write('empty.pem', '-----BEGIN NOTHING-----\nAAAA\n-----END NOTHING-----\n'), /no certificate or private key/],
      [join(dir, 'missing.pem'), /no such file/],
    ] as const;
    for (const [file, message] of cases) {
      const err = await checkCredential({ file }, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FileError);
      expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});

describe.skipIf(!hasOpenssl())('PKCS#12 made by openssl pkcs12 -export', () => {
  const passphrase = 'correct horse 7 battery';
  for (const legacy of [false, true]) {
    const kind = legacy ? 'legacy (RC2-40/3DES)' : 'AES-256 (PBES2)';
    it(`${kind}: opens with the right passphrase, one-line error with a wrong one`, async () => {
      const file = exportPkcs12(dir, legacy ? 'legacy' : 'aes', valid, passphrase, legacy);
      process.env.TEST_P12_PASS = passphrase;
      const result = await check({ file, passphraseEnv: 'TEST_P12_PASS' });
      expect(result.credential).toMatchObject({ format: 'pkcs12', topic: MDM_TOPIC, keyMatches: true });
      expect(result.status).toBe('pass');
      process.env.TEST_P12_PASS = 'wrong';
      const err = await checkCredential({ file, passphraseEnv: 'TEST_P12_PASS' }, options).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FileError);
      expect((err as Error).message).toBe(`${file}: wrong passphrase (from $TEST_P12_PASS): the file's integrity check does not verify with it`);
      delete process.env.TEST_P12_PASS;
    });
  }

  it('asks for the passphrase when none is named, and opens a file that has none without asking', async () => {
    const file = exportPkcs12(dir, 'asked', valid, passphrase);
    let asked = 0;
    const result = await check({ file }, { ask: async () => (asked++, passphrase) });
    expect(asked).toBe(1);
    expect(result.status).toBe('pass');
    const open = exportPkcs12(dir, 'open', valid, '');
    expect((await check({ file: open }, { ask: async () => (asked++, 'unused') })).status).toBe('pass');
    expect(asked).toBe(1);
    const err = await checkCredential({ file }, options).catch((e: unknown) => e);
    expect((err as Error).message).toContain('--passphrase-env');
  });

  it('reads an RSA push certificate, as Apple issues them', async () => {
    const rsa = await pushCertificate({ issuer, topic: APP_TOPIC, rsa: true });
    const file = exportPkcs12(dir, 'rsa', rsa, passphrase, true);
    process.env.TEST_P12_PASS = passphrase;
    const result = await check({ file, passphraseEnv: 'TEST_P12_PASS' });
    delete process.env.TEST_P12_PASS;
    expect(result.credential).toMatchObject({ topic: APP_TOPIC, keyMatches: true });
  });

  it('names an unset passphrase variable', async () => {
    const file = exportPkcs12(dir, 'unset', valid, passphrase);
    const err = await checkCredential({ file, passphraseEnv: 'PUSHCHECK_NO_SUCH_VAR' }, options).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('PUSHCHECK_NO_SUCH_VAR is not set');
  });
});

describe('token keys (.p8)', () => {
  it('passes an EC P-256 key, with the key id from the AuthKey_<KEYID>.p8 name', async () => {
    const result = await check({ file: write('AuthKey_ABCDE12345.p8', tokenKeyPem()), teamId: 'TEAM123456' });
    expect(result.status).toBe('pass');
    expect(result.credential).toMatchObject({ kind: 'token-key', format: 'p8', keyId: 'ABCDE12345', teamId: 'TEAM123456', keyType: 'EC P-256' });
  });

  it('fails a key that is not EC P-256, and ids that are not ten characters', async () => {
    const rsa = await check({ file: write('rsa.p8', tokenKeyPem('rsa')), keyId: 'ABCDE12345', teamId: 'TEAM123456' });
    expect(rsa.status).toBe('fail');
    expect(rsa.error?.code).toBe('key_invalid');
    expect(rsa.error?.message).toContain('RSA 2048, not EC P-256');
    const p384 = await check({ file: write('p384.p8', tokenKeyPem('p384')), keyId: 'ABCDE12345', teamId: 'TEAM123456' });
    expect(p384.error?.message).toContain('not EC P-256');
    const ids = await check({ file: write('AuthKey_SHORT.p8', tokenKeyPem()), teamId: 'TEAM1234567' });
    expect(ids.error?.message).toContain('key id "SHORT" is not ten');
    expect(ids.error?.message).toContain('team id "TEAM1234567" is not ten');
    const missing = await check({ file: write('key.p8', tokenKeyPem()) });
    expect(missing.error?.message).toContain('no key id');
    expect(missing.error?.message).toContain('no team id');
  });
});

describe('renewal', () => {
  it('passes the same topic expiring later', async () => {
    const renewed = await pushCertificate({ issuer, topic: MDM_TOPIC, environment: 'production', notAfter: new Date(Date.now() + 700 * DAY_MS) });
    const [renewal, own] = await checkRenewal({ file: write('old.pem', valid.cert) }, { file: write('new.pem', renewed.cert) }, options);
    expect(renewal!.status).toBe('pass');
    expect(renewal!.note).toContain(`same topic ${MDM_TOPIC}`);
    expect(own!.rule).toBe('new.pem');
  });

  it('fails a new topic with the words the issue asks for, and a certificate that does not expire later', async () => {
    const created = await pushCertificate({ issuer, topic: 'com.apple.mgmt.External.00000000-1111-2222-3333-444444444444', notAfter: new Date(Date.now() + 700 * DAY_MS) });
    const [topic] = await checkRenewal({ file: write('old2.pem', valid.cert) }, { file: write('created.pem', created.cert) }, options);
    expect(topic!.status).toBe('fail');
    expect(topic!.error?.code).toBe('cert_renewal_topic');
    expect(topic!.error?.message).toContain('devices enrolled under the old certificate will stop receiving commands and must be re-enrolled');
    const older = await pushCertificate({ issuer, topic: MDM_TOPIC, notAfter: new Date(Date.now() + 100 * DAY_MS) });
    const [later] = await checkRenewal({ file: write('old3.pem', valid.cert) }, { file: write('older.pem', older.cert) }, options);
    expect(later!.error?.code).toBe('cert_renewal_older');
  });
});
