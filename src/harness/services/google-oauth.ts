/**
 * The OAuth 2.0 token endpoint a service account uses before it may call FCM HTTP v1 (what
 * https://oauth2.googleapis.com/token is): a JWT-bearer grant (RFC 7523) signed RS256 with the service account's
 * key, answered with a short-lived access token, which the mock FCM then requires. Errors are Google's
 * `{"error", "error_description"}` pairs.
 */
import { generateKeyPair, randomBytes, randomUUID, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../clock.js';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Either scope lets a token send FCM messages. */
export const FCM_SCOPES = ['https://www.googleapis.com/auth/firebase.messaging', 'https://www.googleapis.com/auth/cloud-platform'] as const;
/** Google's token endpoint: the audience a client library puts in its assertion (accepted beside the harness's own URL). */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
/** An access token lives an hour; Google answers `expires_in` 3599. */
export const ACCESS_TOKEN_LIFETIME_S = 3600;
/** An assertion may span an hour at most (`exp - iat`), as Google requires. */
const MAX_ASSERTION_S = 3600;
/** Clock skew allowed on `iat`. */
const SKEW_S = 300;

/** A service account of the harness's FCM project: its key pair and the names Google's key file carries. */
export interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  clientId: string;
  privateKeyId: string;
  /** PKCS#8 PEM, as in Google's key file. */
  privateKeyPem: string;
  publicKey: KeyObject;
}

export async function generateServiceAccount(projectId: string): Promise<ServiceAccount> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return {
    projectId,
    clientEmail: `pushcheck-harness@${projectId}.iam.gserviceaccount.com`,
    clientId: String(BigInt(`0x${randomBytes(8).toString('hex')}`)),
    privateKeyId: randomBytes(20).toString('hex'),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
  };
}

/** The service account key file as Google's console downloads it, with `token_uri` pointing at the harness. */
export function serviceAccountKeyFile(sa: ServiceAccount, tokenUri: string): Record<string, string> {
  return {
    type: 'service_account',
    project_id: sa.projectId,
    private_key_id: sa.privateKeyId,
    private_key: sa.privateKeyPem,
    client_email: sa.clientEmail,
    client_id: sa.clientId,
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(sa.clientEmail)}`,
    universe_domain: 'googleapis.com',
  };
}

export interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

/** What a bearer token on an FCM request amounts to. */
export type AccessCheck = 'ok' | 'unauthenticated' | 'insufficient-scope';

const b64json = (part: string): Record<string, unknown> | undefined => {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

export class OAuthTokenService {
  private readonly accounts = new Map<string, ServiceAccount>();
  private readonly issued = new Map<string, { expiresAtMs: number; scopes: string[]; clientEmail: string }>();

  constructor(
    private readonly clock: Clock,
    /** Audiences accepted besides Google's own token URL (the harness's `<fcm url>/token`). */
    private readonly audiences: () => string[] = () => [],
  ) {}

  addServiceAccount(sa: ServiceAccount): void {
    this.accounts.set(sa.clientEmail, sa);
  }

  /** `POST /token` with a form body. */
  handle(form: URLSearchParams): TokenResponse {
    const fail = (error: string, description: string): TokenResponse => ({ status: 400, body: { error, error_description: description } });
    const grant = form.get('grant_type');
    if (grant !== JWT_BEARER_GRANT) return fail('unsupported_grant_type', `Invalid grant_type: ${grant ?? ''}`);
    const assertion = form.get('assertion');
    if (!assertion) return fail('invalid_request', 'Missing required parameter: assertion');
    const parts = assertion.split('.');
    const header = parts.length === 3 ? b64json(parts[0]!) : undefined;
    const claims = parts.length === 3 ? b64json(parts[1]!) : undefined;
    if (!header || !claims) return fail('invalid_grant', 'Invalid JWT Signature.');
    const account = typeof claims.iss === 'string' ? this.accounts.get(claims.iss) : undefined;
    if (!account) return fail('invalid_grant', 'Invalid grant: account not found');
    const signed = header.alg === 'RS256' && verify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), account.publicKey, Buffer.from(parts[2]!, 'base64url'));
    if (!signed) return fail('invalid_grant', 'Invalid JWT Signature.');
    const audiences = [GOOGLE_TOKEN_URL, ...this.audiences()];
    if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud)) {
      return fail('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${GOOGLE_TOKEN_URL}`);
    }
    const nowS = this.clock.now() / 1000;
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= iat || exp - iat > MAX_ASSERTION_S || iat > nowS + SKEW_S || exp < nowS) {
      return fail(
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      );
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(/\s+/).filter(Boolean) : [];
    if (scopes.length === 0) return fail('invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const accessToken = `ya29.harness.${randomUUID()}`;
    this.issued.set(accessToken, { expiresAtMs: this.clock.now() + ACCESS_TOKEN_LIFETIME_S * 1000, scopes, clientEmail: account.clientEmail });
    return { status: 200, body: { access_token: accessToken, expires_in: ACCESS_TOKEN_LIFETIME_S - 1, token_type: 'Bearer' } };
  }

  /** Judges an access token this endpoint issued: unknown or expired, without an FCM scope, or good. */
  check(accessToken: string): AccessCheck {
    const token = this.issued.get(accessToken);
    if (!token || token.expiresAtMs <= this.clock.now()) return 'unauthenticated';
    return token.scopes.some((s) => (FCM_SCOPES as readonly string[]).includes(s)) ? 'ok' : 'insufficient-scope';
  }
}

