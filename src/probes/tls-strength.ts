/**
 * What a TLS session is worth against a rule's `tls:` requirement (minimum protocol, cipher algorithm and key
 * size). Pure functions over the names OpenSSL and IANA give; the tls phase calls {@link sessionShortfall}.
 */
import type { TlsCipherRequirement, TlsRequirement, TlsVersion } from '../types.js';

/** Protocol versions in rising order, as Node's `getProtocol()` spells them. */
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Cipher algorithms a rule may name, and the key size of those whose names carry none. */
export const CIPHER_ALGORITHMS = ['AES', 'CHACHA20', 'CAMELLIA', 'ARIA', '3DES', 'RC4', 'DES', 'SM4'] as const;
const IMPLIED_BITS: Record<string, number> = { CHACHA20: 256, '3DES': 112, DES: 56, SM4: 128 };

/** `1.2`, `TLS1.2`, `TLSv1.2` or `TLSv1.0` → `TLSv1.2`; undefined for anything else. */
export function parseTlsVersion(text: string): TlsVersion | undefined {
  const match = /^(?:TLS\s*v?)?1\.([0-3])$/i.exec(text.trim());
  if (!match) return undefined;
  return match[1] === '0' ? 'TLSv1' : (`TLSv1.${match[1]}` as TlsVersion);
}

/** `AES-256` (also `AES256`, `aes_256`) → {algorithm: AES, bits: 256}; `CHACHA20` alone → 256 bits. */
export function parseCipherRequirement(text: string): TlsCipherRequirement | undefined {
  const upper = text.trim().toUpperCase();
  const implied = IMPLIED_BITS[upper];
  if (implied !== undefined) return { algorithm: upper, bits: implied };
  const match = /^([A-Z0-9]+?)[-_ ]?(\d{2,3})$/.exec(upper);
  const algorithm = match?.[1];
  if (!algorithm || !(CIPHER_ALGORITHMS as readonly string[]).includes(algorithm)) return undefined;
  return { algorithm, bits: Number(match[2]) };
}

/**
 * The bulk cipher of a negotiated suite and its key size, from either spelling:
 * IANA (`TLS_AES_256_GCM_SHA384` in TLS 1.3, `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` in 1.2) or
 * OpenSSL (`ECDHE-RSA-AES256-GCM-SHA384`, `AES128-SHA`, `DES-CBC3-SHA`). undefined when the name is not known.
 */
export function cipherStrength(name: string): TlsCipherRequirement | undefined {
  const upper = name.toUpperCase();
  // IANA: the part after _WITH_ (TLS 1.2) or after TLS_ (TLS 1.3, which names no key exchange).
  const iana = /^TLS_(?:.*_WITH_)?(.+)$/.exec(upper)?.[1];
  const text = iana ?? upper;
  if (/(^|[-_])(3DES|DES[-_]CBC3|DES[-_]EDE)/.test(text)) return { algorithm: '3DES', bits: 112 };
  const sized = /(AES|CAMELLIA|ARIA|RC4|SM4)[-_]?(\d{3})/.exec(text);
  if (sized) return { algorithm: sized[1] as string, bits: Number(sized[2]) };
  if (/CHACHA20/.test(text)) return { algorithm: 'CHACHA20', bits: 256 };
  if (/SM4/.test(text)) return { algorithm: 'SM4', bits: 128 };
  if (/(^|[-_])DES[-_]CBC/.test(text)) return { algorithm: 'DES', bits: 56 };
  return undefined;
}

/** `AES-256`. */
export function cipherLabel(c: TlsCipherRequirement): string {
  return `${c.algorithm}-${c.bits}`;
}

/** `TLSv1.2 or later with AES-256` — what the rule asks, in the words of a failure message. */
export function describeRequirement(req: TlsRequirement): string {
  const parts = [
    ...(req.minVersion ? [`${req.minVersion} or later`] : []),
    ...(req.ciphers.length > 0 ? [`${req.ciphers.map(cipherLabel).join(' or ')}`] : []),
  ];
  return parts.join(' with ');
}

/**
 * Where a working session falls short of the requirement: undefined when it meets it, else the detail of a
 * `tls_weak` failure naming what was negotiated and what the rule asks.
 */
export function sessionShortfall(protocol: string, cipher: string, req: TlsRequirement): string | undefined {
  const problems: string[] = [];
  if (req.minVersion) {
    const got = TLS_VERSIONS.indexOf(protocol as TlsVersion);
    if (got < TLS_VERSIONS.indexOf(req.minVersion)) problems.push(`protocol ${protocol}`);
  }
  const strength = cipherStrength(cipher);
  if (req.ciphers.length > 0) {
    const meets = strength !== undefined && req.ciphers.some((c) => c.algorithm === strength.algorithm && strength.bits >= c.bits);
    if (!meets) problems.push(`cipher ${cipher}${strength ? ` (${cipherLabel(strength)})` : ' (strength unknown)'}`);
  }
  if (problems.length === 0) return undefined;
  const verb = problems.length > 1 ? 'fall' : 'falls';
  return `negotiated ${protocol} with ${cipher}; ${problems.join(' and ')} ${verb} short of the rule, which asks for ${describeRequirement(req)}`;
}
