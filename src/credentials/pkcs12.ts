/**
 * PKCS#12 (.p12, .pfx) files, as Keychain Access and `openssl pkcs12 -export` write them: OpenSSL 3's default
 * (PBES2, PBKDF2 with HMAC-SHA-256, AES-256-CBC, a SHA-256 MAC) and the legacy form still common for push
 * certificates (`-legacy`, and OpenSSL 1.x, macOS: RC2-40 for certificates, 3DES for keys, a SHA-1 MAC).
 *
 * Node has no PKCS#12 reader, and its OpenSSL cannot even load the legacy ciphers without the legacy provider.
 * node-forge reads both forms in plain JavaScript (RC2, 3DES, PBES2/AES, the PKCS#12 key derivation, the MAC);
 * doing that ourselves would mean a few hundred lines of cipher code. forge only gives the raw ASN.1 of bags it
 * cannot turn into its own objects (EC keys and certificates), so everything leaves here as DER, for Node's crypto.
 */
import forge from 'node-forge';

export interface Pkcs12Contents {
  /** DER certificates, in the order of the file. */
  certificates: Buffer[];
  /** DER PKCS#8 private keys. */
  keys: Buffer[];
}

/** The passphrase does not open the file (its MAC does not verify). */
export class WrongPassphrase extends Error {
  override name = 'WrongPassphrase';
}

/** Whether `der` looks like a PKCS#12 PFX at all (a SEQUENCE of version 3 and a PKCS#7 data ContentInfo). */
export function isPkcs12(der: Buffer): boolean {
  try {
    const root = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
    const [version, authSafe] = Array.isArray(root.value) ? root.value : [];
    if (!version || !authSafe || !Array.isArray(authSafe.value)) return false;
    const oid = authSafe.value[0];
    return (
      forge.asn1.derToInteger(version.value as string) === 3 &&
      oid?.type === forge.asn1.Type.OID &&
      forge.asn1.derToOid(oid.value as string) === forge.pki.oids.data
    );
  } catch {
    return false;
  }
}

function derOf(node: forge.asn1.Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

/**
 * Opens a PKCS#12 file with `passphrase` ('' for none). Throws {@link WrongPassphrase} when the MAC does not
 * verify, and a plain Error when the file cannot be read as PKCS#12.
 */
export function readPkcs12(der: Buffer, passphrase: string): Pkcs12Contents {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')), false);
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, passphrase);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/MAC could not be verified|Invalid password/i.test(message)) throw new WrongPassphrase('wrong passphrase');
    throw new Error(`not a readable PKCS#12 file (${message.split('\n')[0]})`);
  }
  const certificates: Buffer[] = [];
  const keys: Buffer[] = [];
  for (const bag of p12.safeContents.flatMap((contents) => contents.safeBags)) {
    if (bag.type === forge.pki.oids.certBag) {
      const node = bag.asn1 ?? (bag.cert ? forge.pki.certificateToAsn1(bag.cert) : undefined);
      if (node) certificates.push(derOf(node));
    } else if (bag.type === forge.pki.oids.keyBag || bag.type === forge.pki.oids.pkcs8ShroudedKeyBag) {
      // forge decodes RSA keys into its own object; anything else it leaves as the decrypted PrivateKeyInfo.
      const node = bag.key ? forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key)) : bag.asn1;
      if (node) keys.push(derOf(node));
    }
  }
  return { certificates, keys };
}
