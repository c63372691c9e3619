/**
 * Certificates made on the fly: a CA and server certificates signed by it (or expired, or for another name).
 * The harness, the demo and the tests all need them, and no machine should need openssl to run pushcheck.
 * ECDSA P-256 keys: generating one takes a millisecond, where RSA would take a second.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** PEM text of a certificate and its private key (PKCS#8). */
export interface CertificatePem {
  cert: string;
  key: string;
}

export interface CertificateAuthority extends CertificatePem {
  name: string;
  /** Signs a leaf certificate for the given DNS names and IP addresses. */
  issue(options: IssueOptions): Promise<CertificatePem>;
}

export interface IssueOptions {
  /** DNS names (and IP addresses, recognised by their form) the certificate is valid for. */
  names: string[];
  /** Defaults to one day before now. */
  notBefore?: Date;
  /** Defaults to 90 days after now (Let's Encrypt's lifetime): beyond --warn-days, so a healthy test server passes. */
  notAfter?: Date;
  /** Marks the certificate for client authentication as well as server authentication. */
  client?: boolean;
  /** Subject UID (OID 0.9.2342.19200300.100.1.1): APNs reads a provider certificate's topic from it. */
  uid?: string;
  /** Subject CN; defaults to the first name. */
  commonName?: string;
  /** `rsa` for a 2048-bit RSA key, as Apple's push certificates have (clients parse them with RSA-only code). */
  keyType?: 'ec' | 'rsa';
  /** Further extensions: OID, DER value. */
  extensions?: Array<{ oid: string; value: Uint8Array }>;
}

const UID_OID = '0.9.2342.19200300.100.1.1';

let serial = Date.now();
function nextSerial(): string {
  serial += 1;
  return serial.toString(16).padStart(16, '0');
}

function toPem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

const RSA = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const;

async function newKeys(type: 'ec' | 'rsa' = 'ec'): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(type === 'rsa' ? RSA : ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
}

const IP_PATTERN = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]*:[0-9a-f:]*)$/i;

/**
 * Makes a self-signed CA named `name` (the CN), valid from yesterday for `days` days; `organization` adds an O to
 * its name (what a rule's vendorIssuers compares with).
 */
export async function createCertificateAuthority(
  name: string,
  days = 30,
  options: { organization?: string } = {},
): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const now = Date.now();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: options.organization === undefined ? `CN=${name}` : `CN=${name}, O=${options.organization}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + days * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const key = await keyPem(keys);
  return {
    name,
    cert: caCert.toString('pem') + '\n',
    key,
    async issue(options: IssueOptions): Promise<CertificatePem> {
      const leafKeys = await newKeys(options.keyType);
      const names = options.names.map((n) =>
        IP_PATTERN.test(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n },
      );
      const usages = [x509.ExtendedKeyUsage.serverAuth];
      if (options.client) usages.push(x509.ExtendedKeyUsage.clientAuth);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: nextSerial(),
        // UID first, as in Apple's push certificates ("UID=<topic>, CN=APSP:<uuid>").
        subject: [
          ...(options.uid !== undefined ? [{ [UID_OID]: [options.uid] }] : []),
          { '2.5.4.3': [options.commonName ?? options.names[0] ?? 'pushcheck'] },
        ],
        issuer: caCert.subject,
        notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
        notAfter: options.notAfter ?? new Date(Date.now() + 90 * DAY_MS),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension(usages),
          ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
          ...(options.extensions ?? []).map((e) => new x509.Extension(e.oid, false, e.value)),
        ],
      });
      return { cert: leaf.toString('pem') + '\n', key: await keyPem(leafKeys) };
    },
  };
}
