/**
 * APNs provider authentication tokens: ES256 JSON Web Tokens with `kid` in the header and `iss` (team id)
 * and `iat` (seconds) in the claims. Signing is here for the harness's own MDM server and for tests;
 * verification is what the mock APNs does.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export interface ProviderTokenClaims {
  keyId: string;
  teamId: string;
  /** Issued-at, seconds since the epoch. */
  iat: number;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** A fresh P-256 signing key, as an APNs auth key (.p8) would be. */
export function generateProviderKey(): { privateKey: KeyObject; publicKey: KeyObject; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** Signs a provider token. */
export function signProviderToken(claims: ProviderTokenClaims, privateKey: KeyObject | string): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const head = b64url(JSON.stringify({ alg: 'ES256', kid: claims.keyId }));
  const body = b64url(JSON.stringify({ iss: claims.teamId, iat: claims.iat }));
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${b64url(signature)}`;
}

export type ProviderTokenCheck =
  | { ok: true; claims: ProviderTokenClaims }
  | { ok: false; reason: 'InvalidProviderToken'; detail: string };

/** Splits and decodes a token without checking its signature. */
export function decodeProviderToken(
  token: string,
): { header: Record<string, unknown>; claims: Record<string, unknown>; signed: string; signature: Buffer } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return undefined;
    return {
      header: header as Record<string, unknown>,
      claims: claims as Record<string, unknown>,
      signed: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2]!, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/**
 * Checks form and signature: alg ES256, a `kid` whose key is known, `iss` equal to that key's team, an
 * integer `iat`. Age is judged by the caller, against its clock.
 */
export function verifyProviderToken(
  token: string,
  keyFor: (keyId: string) => { teamId: string; publicKey: KeyObject } | undefined,
): ProviderTokenCheck {
  const bad = (detail: string): ProviderTokenCheck => ({ ok: false, reason: 'InvalidProviderToken', detail });
  const decoded = decodeProviderToken(token);
  if (!decoded) return bad('not a JWT');
  const { header, claims } = decoded;
  if (header.alg !== 'ES256') return bad('alg is not ES256');
  if (typeof header.kid !== 'string' || header.kid === '') return bad('no kid');
  const key = keyFor(header.kid);
  if (!key) return bad(`unknown kid ${header.kid}`);
  if (typeof claims.iss !== 'string' || claims.iss !== key.teamId) return bad('iss is not the key’s team');
  if (typeof claims.iat !== 'number' || !Number.isInteger(claims.iat)) return bad('iat missing or not an integer');
  if (decoded.signature.length !== 64) return bad('signature is not 64 bytes');
  const good = verify('sha256', Buffer.from(decoded.signed), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
  if (!good) return bad('signature does not verify');
  return { ok: true, claims: { keyId: header.kid, teamId: claims.iss, iat: claims.iat } };
}

export { createPublicKey };
