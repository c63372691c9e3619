/**
 * APNs credentials as Apple issues them, made by the tests: push certificates with a subject UID (the topic),
 * Apple's environment extensions (1.2.840.113635.100.6.3.1 development, …3.2 production, an ASN.1 NULL each) and
 * the topic list (…3.6), signed by a CA of the test's own or the harness's; token keys (.p8); PKCS#12 files made
 * by the openssl binary, as admins make them.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata';
import { hasTool } from './tools.js';
import * as x509 from '@peculiar/x509';
import forge from 'node-forge';
import '../../src/harness/certs.js';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface Issuer {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
  /** PEM of the CA certificate. */
  pem: string;
}

function pem(label: string, der: ArrayBuffer | Buffer): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** A CA standing in for Apple's push CA (O=Apple Inc. by default). */
export async function createIssuer(name = 'Apple Application Integration Test CA', organization = 'Apple Inc.'): Promise<Issuer> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a',
    name: `CN=${name}, O=${organization}`,
    notBefore: new Date(Date.now() - 400 * DAY_MS),
    notAfter: new Date(Date.now() + 4000 * DAY_MS),
    keys,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  return { cert, key: keys.privateKey as webcrypto.CryptoKey, pem: cert.toString('pem') + '\n' };
}

/** An issuer from PEM (the harness's CA, so that its mock APNs trusts the certificates). */
export async function issuerFromPem(certPem: string, keyPem: string): Promise<Issuer> {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  return { cert: new x509.X509Certificate(certPem), key, pem: certPem };
}

export interface PushCertificateOptions {
  issuer: Issuer;
  topic?: string;
  environment?: 'production' | 'development' | 'both' | 'none';
  /** Further topics for the …3.6 list (the topic itself is listed first, as Apple does). */
  extraTopics?: string[];
  notBefore?: Date;
  notAfter?: Date;
  commonName?: string;
  /** RSA 2048, as Apple's certificates are; default EC P-256 (faster to make). */
  rsa?: boolean;
}

export interface PushCredential {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. */
  key: string;
  der: Buffer;
}

/** `SEQUENCE { UTF8String topic, SEQUENCE { UTF8String kind }, … }`, as in Apple's topic extension. */
function topicList(topics: Array<[string, string]>): Buffer {
  const { asn1 } = forge;
  const items = topics.flatMap(([topic, kind]) => [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, forge.util.encodeUtf8(topic)),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTF8, false, kind)]),
  ]);
  return Buffer.from(asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, items)).getBytes(), 'binary');
}

const NULL = new Uint8Array([0x05, 0x00]);

export async function pushCertificate(options: PushCertificateOptions): Promise<PushCredential> {
  const environment = options.environment ?? 'both';
  let publicKey: webcrypto.CryptoKey;
  let keyPem: string;
  if (options.rsa) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    keyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    publicKey = await webcrypto.subtle.importKey(
      'spki',
      pair.publicKey.export({ type: 'spki', format: 'der' }),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      true,
      ['verify'],
    );
  } else {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    publicKey = keys.publicKey as webcrypto.CryptoKey;
    keyPem = pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
  }
  const topic = options.topic;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
  ];
  if (environment === 'development' || environment === 'both') extensions.push(new x509.Extension('1.2.840.113635.100.6.3.1', false, NULL));
  if (environment === 'production' || environment === 'both') extensions.push(new x509.Extension('1.2.840.113635.100.6.3.2', false, NULL));
  if (topic !== undefined && options.extraTopics) {
    const kinds = options.extraTopics.map((t): [string, string] => [t, t.split('.').pop() ?? 'app']);
    extensions.push(new x509.Extension('1.2.840.113635.100.6.3.6', false, topicList([[topic, 'app'], ...kinds])));
  }
  const commonName = options.commonName ?? (topic !== undefined ? `Apple Push Services: ${topic}` : 'not a push certificate');
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: Date.now().toString(16) + Math.floor(Math.random() * 1e6).toString(16),
    subject: [...(topic !== undefined ? [{ '0.9.2342.19200300.100.1.1': [topic] }] : []), { CN: [commonName] }, { C: ['US'] }],
    issuer: options.issuer.cert.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    publicKey,
    signingKey: options.issuer.key,
    signingAlgorithm: EC,
    extensions,
  });
  return { cert: cert.toString('pem') + '\n', key: keyPem, der: Buffer.from(cert.rawData) };
}

/** An APNs token key as Apple hands it out: EC P-256, PKCS#8 PEM. */
export function tokenKeyPem(kind: 'p256' | 'p384' | 'rsa' = 'p256'): string {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: kind === 'p256' ? 'P-256' : 'P-384' });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Every form a key's secret takes in text: the PEM body lines, base64 and hex of its DER. */
export function keyMaterialForms(keyPem: string): string[] {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const lines = keyPem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
  // The last 32 bytes of an EC P-256 PKCS#8 key without public key are not guaranteed; search slices of the DER.
  const slices = [der.subarray(der.length - 40, der.length - 8), der.subarray(36, 68)];
  return [...lines, der.toString('base64'), der.toString('hex'), ...slices.flatMap((s) => [s.toString('hex'), s.toString('base64')])];
}

/**
 * Whether the PKCS#12 tests can run: the openssl binary is there. CI installs it, and there a missing one fails
 * the tests loudly (they run and fail); elsewhere they skip, saying why.
 */
export function hasOpenssl(): boolean {
  return hasTool('openssl', ['version'], 'the PKCS#12 tests: no openssl binary to make the files with (apt-get install openssl)');
}

/**
 * `openssl pkcs12 -export` of a certificate and key: OpenSSL 3's default encryption (AES-256, PBES2) or, with
 * `legacy`, RC2-40 and 3DES as older OpenSSL and macOS write. The passphrase goes through the environment.
 */
export function exportPkcs12(dir: string, name: string, credential: PushCredential, passphrase: string, legacy = false): string {
  const certFile = join(dir, `${name}.cert.pem`);
  const keyFile = join(dir, `${name}.key.pem`);
  const out = join(dir, `${name}.p12`);
  writeFileSync(certFile, credential.cert);
  writeFileSync(keyFile, credential.key);
  execFileSync(
    'openssl',
    ['pkcs12', '-export', ...(legacy ? ['-legacy'] : []), '-in', certFile, '-inkey', keyFile, '-out', out, '-passout', 'env:P12_PASSPHRASE'],
    { env: { ...process.env, P12_PASSPHRASE: passphrase }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return out;
}
