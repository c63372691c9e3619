/**
 * Certificates src/harness/certs.ts does not make: a self-signed leaf (not a CA), as a cheap appliance or a
 * misconfigured server presents. Importing src/harness/certs.ts first sets up @peculiar/x509's crypto provider.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificatePem } from '../../src/harness/certs.js';
import '../../src/harness/certs.js';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A self-signed server certificate for `names` (DNS names), valid from yesterday for 30 days. */
export async function selfSignedCertificate(names: string[]): Promise<CertificatePem> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${names[0] ?? 'self-signed'}`,
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 30 * 86_400_000),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value }))),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return { cert: `${cert.toString('pem')}\n`, key: `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n` };
}

/**
 * `pem` (one certificate) followed by a copy of it corrupted between its PEM markers: a bundle whose first
 * certificate is good and whose second is not, which a check of the first certificate alone would let through.
 */
export function withCorruptSecondCertificate(pem: string): string {
  const lines = pem.trim().split('\n');
  lines[3] = lines[3]!.replace(/[A-Za-z]/g, (ch) => (ch === 'A' ? 'B' : 'A'));
  return `${pem}${lines.join('\n')}\n`;
}

/** `pem` (one certificate) with `bytes` after the certificate's DER, inside the same PEM block. */
export function withBytesAfterCertificate(pem: string, bytes: Buffer): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const body = Buffer.concat([der, bytes]).toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

/**
 * OpenSSL's trust settings (X509_CERT_AUX) that reject the certificate for TLS servers: SEQUENCE { reject [0]
 * { id-kp-serverAuth } }. Read after a certificate only by OpenSSL's "trusted certificate" readers (…_AUX).
 */
export const REJECT_SERVER_AUTH = Buffer.from('300ca00a06082b06010505070301', 'hex');
