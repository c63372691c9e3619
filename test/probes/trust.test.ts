/**
 * What --ca means: Node's default roots stay trusted, the given CAs are added, for that context only, and a chain
 * signed by neither is refused. A bundled root's key is not ours, so its presence is shown the way OpenSSL looks an
 * issuer up: a certificate that names a bundled root as its issuer, signed by another key, fails on the signature
 * (the root was found) where one naming an unknown issuer fails for want of an issuer.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { webcrypto, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// First: it sets up what @peculiar/x509 needs (reflect-metadata, the crypto provider).
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../../src/harness/certs.js';
import * as x509 from '@peculiar/x509';
import { runTrustingContext, trustingContext } from '../../src/trust.js';
import { runCli } from '../helpers/cli.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { startTlsServer, type TestServer } from '../helpers/servers.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

let ours: CertificateAuthority;
let other: CertificateAuthority;
let stranger: CertificateAuthority;
const servers: TestServer[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'pushcheck-trust-'));

async function server(pair: CertificatePem): Promise<number> {
  const started = await startTlsServer(pair);
  servers.push(started);
  return started.port;
}

/** OpenSSL's verdict on the chain of the server at `port` for push.test: 'trusted' or its error code. */
function verdict(port: number, secureContext?: tls.SecureContext): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'push.test',
      ...(secureContext && { secureContext }),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      resolve(socket.authorized ? 'trusted' : String(socket.authorizationError));
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** A server certificate for push.test that names `issuer` but is signed by a key of its own. */
async function claimingIssuer(issuer: x509.Name | string): Promise<CertificatePem> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: 'CN=push.test',
    issuer,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'push.test' }])],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return { cert: `${cert.toString('pem')}\n`, key: `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n` };
}

beforeAll(async () => {
  ours = await createCertificateAuthority('Pushcheck Trust CA');
  other = await createCertificateAuthority('Second Trust CA');
  stranger = await createCertificateAuthority('Stranger CA');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('trustingContext', () => {
  it("keeps Node's bundled roots trusted beside the given CAs", async () => {
    // An EC root: OpenSSL takes a candidate issuer only if its key type fits the signature (ECDSA here).
    const root = tls.rootCertificates.find((pem) => new X509Certificate(pem).publicKey.asymmetricKeyType === 'ec');
    expect(root, 'Node bundles an EC root').toBeDefined();
    const claimsRoot = await server(await claimingIssuer(new x509.X509Certificate(root as string).subjectName));
    const claimsNobody = await server(await claimingIssuer('CN=Nobody Root, O=Nowhere'));
    for (const context of [undefined, trustingContext([]), trustingContext([ours.cert])]) {
      expect(await verdict(claimsRoot, context)).toBe('CERT_SIGNATURE_FAILURE');
      expect(await verdict(claimsNobody, context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
  });

  it('trusts the given CAs, a PEM file of several as well, and refuses a chain signed by none of them', async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    const fromOther = await server(await other.issue({ names: ['push.test'] }));
    const fromStranger = await server(await stranger.issue({ names: ['push.test'] }));
    const context = trustingContext([ours.cert + other.cert]);
    expect(await verdict(fromOurs, context)).toBe('trusted');
    expect(await verdict(fromOther, context)).toBe('trusted');
    expect(await verdict(fromStranger, context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOther, trustingContext([ours.cert]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it("adds the CAs to that context only: Node's default store and later contexts are left alone", async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    expect(await verdict(fromOurs, trustingContext([ours.cert]))).toBe('trusted');
    expect(await verdict(fromOurs)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOurs, tls.createSecureContext({}))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOurs, trustingContext([]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('keeps the options it is given (a cipher list)', async () => {
    const context = trustingContext([ours.cert], { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' });
    const port = await server(await ours.issue({ names: ['push.test'] }));
    const cipher = await new Promise<string | undefined>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'push.test', secureContext: context });
      socket.once('secureConnect', () => {
        resolve(socket.getCipher().standardName);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  });
});

describe('runTrustingContext', () => {
  it("is one context per run's list of CAs and cipher choice, and each trusts its own list's CAs only", async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    const fromOther = await server(await other.issue({ names: ['push.test'] }));
    // Two runs: the lists are their settings' (equal contents or not, each run has its own).
    const runA = [ours.cert];
    const runB = [other.cert];
    const strong = { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', minVersion: 'TLSv1' } as const;
    expect(runTrustingContext(runA)).toBe(runTrustingContext(runA));
    expect(runTrustingContext(runA, strong)).toBe(runTrustingContext(runA, { ...strong }));
    expect(runTrustingContext(runA, strong)).not.toBe(runTrustingContext(runA));
    expect(runTrustingContext(runB)).not.toBe(runTrustingContext(runA));
    expect(runTrustingContext([ours.cert])).not.toBe(runTrustingContext(runA));
    for (const options of [{}, strong]) {
      expect(await verdict(fromOurs, runTrustingContext(runA, options))).toBe('trusted');
      expect(await verdict(fromOther, runTrustingContext(runA, options))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(await verdict(fromOther, runTrustingContext(runB, options))).toBe('trusted');
      expect(await verdict(fromOurs, runTrustingContext(runB, options))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
    expect(await verdict(fromOurs, runTrustingContext([]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('--ca on the command line', () => {
  // Node 20 leaves NODE_EXTRA_CA_CERTS out of a context that has CAs added (see trustingContext); 22 and later keep it.
  const keepsExtraCaCerts = Number(process.versions.node.split('.')[0]) >= 22;

  it(`trusts its CAs and Node's roots${keepsExtraCaCerts ? ' and NODE_EXTRA_CA_CERTS' : ''}; a chain signed by none still fails`, async () => {
    const extraFile = path.join(dir, 'extra.pem');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(extraFile, other.cert);
    writeFileSync(caFile, ours.cert);
    const ports = [
      await server(await ours.issue({ names: ['*.trust.test'] })),
      await server(await other.issue({ names: ['*.trust.test'] })),
      await server(await stranger.issue({ names: ['*.trust.test'] })),
    ];
    const rules = writeRuleFile(path.join(dir, 'trust.yaml'), 'trust', 'trust', [
      { id: 'ca', host: 'ca.trust.test', ports: [ports[0] as number], check: 'tls' },
      { id: 'extra', host: 'extra.trust.test', ports: [ports[1] as number], check: 'tls' },
      { id: 'stranger', host: 'stranger.trust.test', ports: [ports[2] as number], check: 'tls' },
    ]);
    const run = await runCli([rules, '--resolve', '*.trust.test=127.0.0.1', '--ca', caFile, '-f', 'json'], {
      env: { NODE_EXTRA_CA_CERTS: extraFile },
    });
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout).results as Array<{ rule: string; status: string; error?: { code: string; message: string } }>;
    const byRule = Object.fromEntries(results.map((r) => [r.rule, r]));
    expect(byRule.ca?.status).toBe('pass');
    expect(byRule.extra?.status).toBe(keepsExtraCaCerts ? 'pass' : 'fail');
    expect(byRule.stranger?.error?.code).toBe('tls_untrusted');
    expect(byRule.stranger?.error?.message).toContain('Stranger CA');
    expect(run.code).toBe(1);
  });
});
