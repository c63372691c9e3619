/** The harness's .p12 files, read back by Node's TLS and by the openssl command (a second, independent reader). */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { toPkcs12 } from '../../src/harness/pkcs12.js';
import { issuePushCertificate } from '../../src/harness/services/push-certificates.js';

const ca = await createCertificateAuthority('pkcs12 test CA');
const pushCert = await issuePushCertificate(ca, { topic: 'com.example.p12', uuid: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee' });

function openssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error('openssl is missing (CI installs it: .ci/run)');
    console.log('skipping the openssl reader: no openssl on this machine');
    return false;
  }
}

describe('PKCS#12', () => {
  it.each(['', 'correct horse'])('Node reads the certificate and key back (password %j); a wrong password fails', (password) => {
    const p12 = toPkcs12({ ...pushCert, password });
    expect(() => tls.createSecureContext({ pfx: p12, passphrase: password })).not.toThrow();
    expect(() => tls.createSecureContext({ pfx: p12, passphrase: 'wrong' })).toThrow();
  });

  it.runIf(openssl())('openssl reads it: the same certificate and key, a SHA-256 MAC, the key under PBES2/AES-256', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushcheck-p12-'));
    try {
      const file = join(dir, 'push.p12');
      writeFileSync(file, toPkcs12({ ...pushCert, password: 'secret' }));
      // -info writes what it read about the file's structure to stderr, the certificate and key to stdout.
      const run = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:secret', '-nodes', '-info'], { encoding: 'utf8' });
      expect(run.status).toBe(0);
      const [out, info] = [run.stdout, run.stderr];
      expect(new X509Certificate(out).fingerprint256).toBe(new X509Certificate(pushCert.cert).fingerprint256);
      const key = createPrivateKey(out.slice(out.indexOf('-----BEGIN PRIVATE KEY-----')));
      expect(key.export({ type: 'pkcs8', format: 'pem' })).toBe(createPrivateKey(pushCert.key).export({ type: 'pkcs8', format: 'pem' }));
      expect(out + info).toMatch(/MAC: sha256/);
      expect(out + info).toMatch(/PBES2, PBKDF2, AES-256-CBC/);
      expect(() => execFileSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:wrong', '-nodes'], { stdio: 'ignore' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
