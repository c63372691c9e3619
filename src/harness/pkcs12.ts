/**
 * A PKCS#12 (.p12) file holding one certificate and its private key, as Keychain exports a push certificate
 * (RFC 7292): the key in a shrouded key bag (PKCS#8, encrypted by node:crypto with PBES2/PBKDF2/AES-256-CBC),
 * the certificate in a certificate bag, both tagged with the same localKeyId, and an HMAC-SHA-256 over the
 * contents keyed by the PKCS#12 key derivation (RFC 7292, appendix B). Node's `tls` (`pfx`) and
 * `openssl pkcs12` read it; see test/harness/pkcs12.test.ts.
 */
import { createHash, createHmac, createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { bmpString, explicit, integer, nullValue, octetString, oid, sequence, set } from './der.js';

const OID = {
  data: '1.2.840.113549.1.7.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const MAC_ITERATIONS = 2048;

/** RFC 7292 B.2 with SHA-256 (u = 32, v = 64): `length` bytes of key material for purpose `id` (3 = MAC). */
export function pkcs12Kdf(password: string, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const v = 64;
  const u = 32;
  // The password as a BMPString with its two-byte terminator.
  const pass = Buffer.concat([Buffer.from(password, 'utf16le').swap16(), Buffer.alloc(2)]);
  const fill = (bytes: Buffer): Buffer => {
    if (bytes.length === 0) return Buffer.alloc(0);
    const n = v * Math.ceil(bytes.length / v);
    return Buffer.from(Array.from({ length: n }, (_, i) => bytes[i % bytes.length]!));
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(pass)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash('sha256').update(Buffer.concat([D, I])).digest();
    for (let r = 1; r < iterations; r += 1) A = createHash('sha256').update(A).digest();
    out.push(A);
    // I_j = (I_j + B + 1) mod 2^(8v), where B is A repeated to v bytes.
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k -= 1) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, length);
}

const attributes = (localKeyId: Buffer, friendlyName: string): Buffer =>
  set(sequence(oid(OID.friendlyName), set(bmpString(friendlyName))), sequence(oid(OID.localKeyId), set(octetString(localKeyId))));

const dataContent = (bytes: Buffer): Buffer => sequence(oid(OID.data), explicit(0, octetString(bytes)));

export interface Pkcs12Options {
  /** PEM certificate and private key. */
  cert: string;
  key: string;
  /** May be empty (Node and OpenSSL read such a file without a passphrase). */
  password: string;
  friendlyName?: string;
}

/** The .p12 file as bytes. */
export function toPkcs12(options: Pkcs12Options): Buffer {
  const certificate = new X509Certificate(options.cert);
  const localKeyId = createHash('sha1').update(certificate.raw).digest();
  const name = options.friendlyName ?? certificate.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? 'pushcheck';
  const bagAttributes = attributes(localKeyId, name);
  const encryptedKey = createPrivateKey(options.key).export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: options.password });

  const certBag = sequence(oid(OID.certBag), explicit(0, sequence(oid(OID.x509Certificate), explicit(0, octetString(certificate.raw)))), bagAttributes);
  const keyBag = sequence(oid(OID.pkcs8ShroudedKeyBag), explicit(0, encryptedKey), bagAttributes);
  const authenticatedSafe = sequence(dataContent(sequence(certBag)), dataContent(sequence(keyBag)));

  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(options.password, salt, 3, MAC_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authenticatedSafe).digest();
  const macData = sequence(sequence(sequence(oid(OID.sha256), nullValue()), octetString(mac)), octetString(salt), integer(MAC_ITERATIONS));
  return sequence(integer(3), dataContent(authenticatedSafe), macData);
}
