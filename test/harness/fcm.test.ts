/**
 * The mock FCM over real HTTPS (undici, HTTP/1.1) and HTTP/2: HTTP v1 messages:send and its error codes,
 * INTERNAL and THIRD_PARTY_AUTH_ERROR, Retry-After on 429 and 503, validate_only, unknown fields and wrong types
 * refused in Google's words, the OAuth token endpoint of a service-account flow, and what FCM keeps for a device
 * that is away.
 *
 * No Google client library is used: firebase-admin reaches fcm.googleapis.com and oauth2.googleapis.com by fixed
 * names, and google-auth-library 11 needs Node 22; the JWT-bearer grant is signed here with node:crypto as those
 * libraries sign it (RS256, `kid` = private_key_id, iss/scope/aud/iat/exp).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { createPrivateKey, sign } from 'node:crypto';
import { connectCourier } from '../../src/harness/services/courier.js';
import { FCM_MAX_STORED_MESSAGES, type FcmMessage } from '../../src/harness/services/fcm.js';
import { JWT_BEARER_GRANT } from '../../src/harness/services/google-oauth.js';
import { adminClient, h2connect, h2request, waitFor } from './helpers.js';

let h: Harness;
let agent: Agent;

beforeAll(async () => {
  h = await startHarness();
  agent = new Agent({ connect: { ca: h.caPem, servername: 'fcm.googleapis.com' } });
});
afterAll(async () => {
  await agent?.close();
  await h?.close();
});

async function send(body: unknown, options: { project?: string; auth?: string | null } = {}) {
  const res = await request(`https://127.0.0.1:${h.endpoints.fcm.port}/v1/projects/${options.project ?? h.fcmProject}/messages:send`, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      'content-type': 'application/json',
      ...(options.auth === null ? {} : { authorization: options.auth ?? `Bearer ${h.fcmAccessToken}` }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, any> };
}

const token = (n: number): string => `fcm:${String(n).padStart(30, '0')}`;

describe('mock FCM HTTP v1', () => {
  it('200 with the message name, and the device holding an FCM connection gets the data message', async () => {
    h.fcm.registerToken(token(1));
    const got: string[] = [];
    const conn = await connectCourier({
      host: '127.0.0.1',
      port: h.endpoints.fcmDevice.port,
      ca: h.caPem,
      servername: 'mtalk.google.com',
      token: token(1),
      onPush: (p) => got.push(p.payload),
    });
    const r = await send({ message: { token: token(1), data: { mdm: 'wake' } } });
    expect(r.status).toBe(200);
    expect(r.json.name).toMatch(new RegExp(`^projects/${h.fcmProject}/messages/0:\\d+%[0-9a-f]{16}$`));
    await waitFor(() => got.length === 1, 5000, 'FCM delivery');
    expect(JSON.parse(got[0]!)).toEqual({ mdm: 'wake' });
    conn.close();
  });

  it.each([
    ['no recipient', { message: { data: { a: 'b' } } }, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
    ['malformed token', { message: { token: 'short' } }, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
    ['data over 4096 bytes', { message: { token: token(2), data: { big: 'x'.repeat(4094) } } }, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
    ['reserved data key', { message: { token: token(2), data: { from: 'x' } } }, 400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'],
    ['unknown token', { message: { token: token(99) } }, 404, 'NOT_FOUND', 'UNREGISTERED'],
  ])('%s → %i %s / %s', async (_what, body, code, status, errorCode) => {
    h.fcm.registerToken(token(2));
    const r = await send(body);
    expect(r.status).toBe(code);
    expect(r.json.error.code).toBe(code);
    expect(r.json.error.status).toBe(status);
    expect(r.json.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode });
  });

  it('invalid JSON is INVALID_ARGUMENT; a missing bearer token is 401 UNAUTHENTICATED', async () => {
    expect((await send('{nope')).json.error.status).toBe('INVALID_ARGUMENT');
    const r = await send({ message: { token: token(1) } }, { auth: null });
    expect(r.status).toBe(401);
    expect(r.json.error.status).toBe('UNAUTHENTICATED');
  });

  it('403 SENDER_ID_MISMATCH for a token of another project, 404 UNREGISTERED once unregistered', async () => {
    h.fcm.registerToken(token(3), 'another-project');
    const r = await send({ message: { token: token(3) } });
    expect([r.status, r.json.error.status, r.json.error.details[0].errorCode]).toEqual([403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH']);
    h.fcm.registerToken(token(4));
    h.fcm.unregisterToken(token(4));
    const u = await send({ message: { token: token(4) } });
    expect([u.status, u.json.error.details[0].errorCode]).toEqual([404, 'UNREGISTERED']);
  });

  it('429 QUOTA_EXCEEDED past the per-device rate, 503 UNAVAILABLE while fcm-down is on, each with Retry-After', async () => {
    h.fcm.registerToken(token(5));
    const start = Date.now();
    let last: Awaited<ReturnType<typeof send>> | undefined;
    for (let i = 0; i < 601; i += 1) last = await send({ message: { token: token(5) } });
    expect([last!.status, last!.json.error.status, last!.json.error.details[0].errorCode]).toEqual([429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED']);
    // Seconds until the per-device minute that started with the first message is over.
    const retryAfter = Number(last!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(Math.max(1, Math.floor((60_000 - (Date.now() - start)) / 1000)));
    expect(retryAfter).toBeLessThanOrEqual(60);
    h.faults.set('fcm-down');
    const d = await send({ message: { token: token(1) } });
    h.faults.clear('fcm-down');
    expect([d.status, d.json.error.status, d.json.error.details[0].errorCode]).toEqual([503, 'UNAVAILABLE', 'UNAVAILABLE']);
    expect(d.headers['retry-after']).toBe('10');
  });

  it('answers over HTTP/2 too', async () => {
    h.fcm.registerToken(token(6));
    const s = h2connect(h.endpoints.fcm.port, { ca: h.caPem, servername: 'fcm.googleapis.com' });
    const r = await h2request(s, {
      path: `/v1/projects/${h.fcmProject}/messages:send`,
      headers: { authorization: `Bearer ${h.fcmAccessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: { token: token(6) } }),
    });
    s.close();
    expect(r.status).toBe(200);
  });
});

const base = (): string => `https://127.0.0.1:${h.endpoints.fcm.port}`;
const admin = adminClient(() => h.endpoints.admin.port);

let seq = 0;
/** A fresh registration token known to the mock FCM. */
function newToken(platform: 'android' | 'apple' | 'web' = 'android'): string {
  const t = `fcm-details:${String(seq++).padStart(24, '0')}`;
  h.fcm.registerToken(t, h.fcmProject, platform);
  return t;
}

const fcmError = (r: { json: Record<string, any> }): string | undefined =>
  r.json.error?.details?.find((d: { errorCode?: string }) => d.errorCode)?.errorCode;

describe('error codes FCM documents', () => {
  it('500 INTERNAL while the fcm-error fault is on', async () => {
    const token = newToken();
    h.faults.set('fcm-error', 1);
    const r = await send({ message: { token, data: { a: 'b' } } });
    h.faults.clear('fcm-error');
    expect([r.status, r.json.error.status, fcmError(r)]).toEqual([500, 'INTERNAL', 'INTERNAL']);
    expect((await send({ message: { token } })).status).toBe(200);
  });

  it('401 THIRD_PARTY_AUTH_ERROR for an Apple or web app instance when the project’s APNs / Web Push credentials are bad; Android unaffected', async () => {
    const apple = newToken('apple');
    const web = newToken('web');
    const android = newToken('android');
    const put = await admin('PUT', '/fcm/third-party-auth', { valid: false });
    expect(put.status).toBe(200);
    for (const token of [apple, web]) {
      const r = await send({ message: { token, notification: { title: 't' } } });
      expect([r.status, r.json.error.status, fcmError(r)]).toEqual([401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR']);
    }
    expect((await send({ message: { token: android } })).status).toBe(200);
    await admin('PUT', '/fcm/third-party-auth', { valid: true });
    expect((await send({ message: { token: apple } })).status).toBe(200);
  });

  it('Retry-After on scripted 429 QUOTA_EXCEEDED and 503 UNAVAILABLE, none on other errors', async () => {
    const token = newToken();
    h.fcm.script.add({ token, reason: 'QUOTA_EXCEEDED', remaining: 1 });
    h.fcm.script.add({ token, reason: 'UNAVAILABLE', remaining: 1 });
    h.fcm.script.add({ token, reason: 'INTERNAL', remaining: 1 });
    const quota = await send({ message: { token } });
    const unavailable = await send({ message: { token } });
    const internal = await send({ message: { token } });
    expect([quota.status, quota.headers['retry-after']]).toEqual([429, '1']);
    expect([unavailable.status, unavailable.headers['retry-after']]).toEqual([503, '1']);
    expect([internal.status, internal.headers['retry-after']]).toEqual([500, undefined]);
    const recorded = (await admin('GET', `/fcm/messages?token=${encodeURIComponent(token)}`)).json as {
      messages: Array<{ answer: Record<string, unknown> }>;
    };
    expect(recorded.messages.map((m) => m.answer)).toEqual([
      { status: 429, reason: 'QUOTA_EXCEEDED', retryAfterSeconds: 1, scripted: true },
      { status: 503, reason: 'UNAVAILABLE', retryAfterSeconds: 1, scripted: true },
      { status: 500, reason: 'INTERNAL', scripted: true },
    ]);
  });
});

describe('validate_only', () => {
  it('validates and answers as a send, with fake_message_id, and delivers nothing', async () => {
    const token = newToken();
    const got: FcmMessage[] = [];
    const disconnect = h.fcm.connect(token, (m) => got.push(m));
    const before = h.fcm.stats.accepted;
    for (const body of [{ validate_only: true, message: { token, data: { a: 'b' } } }, { validateOnly: true, message: { token } }]) {
      const r = await send(body);
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ name: `projects/${h.fcmProject}/messages/fake_message_id` });
    }
    expect(got).toEqual([]);
    expect(h.fcm.stats.accepted).toBe(before);
    disconnect();
  });

  it('still refuses what a send would refuse: an unknown token, a malformed one', async () => {
    const unknown = await send({ validate_only: true, message: { token: 'fcm-details:never-registered-000000' } });
    expect([unknown.status, fcmError(unknown)]).toEqual([404, 'UNREGISTERED']);
    const malformed = await send({ validate_only: true, message: { token: 'short' } });
    expect([malformed.status, fcmError(malformed)]).toEqual([400, 'INVALID_ARGUMENT']);
  });
});

describe('unknown fields and wrong types, refused as Google’s front end refuses them', () => {
  it('an unknown top-level field', async () => {
    const r = await send({ message: { token: newToken() }, dry_run: true });
    expect(r.status).toBe(400);
    expect(r.json.error).toEqual({
      code: 400,
      message: 'Invalid JSON payload received. Unknown name "dry_run": Cannot find field.',
      status: 'INVALID_ARGUMENT',
      details: [
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ description: 'Invalid JSON payload received. Unknown name "dry_run": Cannot find field.' }] },
      ],
    });
  });

  it('unknown nested fields, each named with where it is; JSON names (camelCase) are known fields', async () => {
    const r = await send({ message: { token: newToken(), android: { colapse_key: 'x', collapseKey: 'ok', notification: { titel: 't' } }, priority: 'high' } });
    expect(r.status).toBe(400);
    expect(r.json.error.details[0].fieldViolations).toEqual([
      { field: 'message.android', description: `Invalid JSON payload received. Unknown name "colapse_key" at 'message.android': Cannot find field.` },
      {
        field: 'message.android.notification',
        description: `Invalid JSON payload received. Unknown name "titel" at 'message.android.notification': Cannot find field.`,
      },
      { field: 'message', description: `Invalid JSON payload received. Unknown name "priority" at 'message': Cannot find field.` },
    ]);
    expect(r.json.error.message.split('\n')).toHaveLength(3);
  });

  it('a data value that is not a string, and a TTL that is not a duration', async () => {
    const r = await send({ message: { token: newToken(), data: { ok: 'yes', n: 12 }, android: { ttl: '1 hour' } } });
    expect(r.status).toBe(400);
    expect(r.json.error.details[0].fieldViolations).toEqual([
      { field: 'message.data[1].value', description: `Invalid value at 'message.data[1].value' (TYPE_STRING), 12` },
      { field: 'message.android.ttl', description: `Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), "1 hour"` },
    ]);
  });

  it('a full message of every documented part passes', async () => {
    const r = await send({
      message: {
        token: newToken(),
        data: { k: 'v' },
        notification: { title: 't', body: 'b', image: 'https://example.invalid/i.png' },
        android: { collapse_key: 'c', priority: 'high', ttl: '3.5s', notification: { channel_id: 'x', light_settings: { color: { red: 1 }, light_on_duration: '1s' } }, directBootOk: true },
        apns: { headers: { 'apns-priority': '10' }, payload: { aps: { alert: 'x' } } },
        webpush: { headers: { TTL: '60' }, notification: { title: 'w' }, fcm_options: { link: 'https://example.invalid' } },
        fcm_options: { analytics_label: 'l' },
      },
    });
    expect(r.status).toBe(200);
  });
});

describe('messages kept for a device that is away', () => {
  /** Messages the device gets when it connects. */
  const drain = (token: string): FcmMessage[] => {
    const got: FcmMessage[] = [];
    h.fcm.connect(token, (m) => got.push(m))();
    return got;
  };

  it('up to 100 non-collapsible messages; the 101st discards those stored, and the device is told when it returns', async () => {
    const token = newToken();
    for (let i = 0; i < FCM_MAX_STORED_MESSAGES; i += 1) expect((await send({ message: { token, data: { n: String(i) } } })).status).toBe(200);
    expect(h.fcm.storedFor(token)).toHaveLength(100);
    expect((await send({ message: { token, data: { n: '100' } } })).status).toBe(200);
    const got = drain(token);
    expect(got.map((m) => m.data)).toEqual([{ message_type: 'deleted_messages' }, { n: '100' }]);
  });

  it('100 are kept and all delivered in order', async () => {
    const token = newToken();
    for (let i = 0; i < FCM_MAX_STORED_MESSAGES; i += 1) await send({ message: { token, data: { n: String(i) } } });
    expect(drain(token).map((m) => m.data.n)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
  });

  it('one message per collapse key, at most 4 keys (the oldest key dropped), non-collapsible ones beside them', async () => {
    const token = newToken();
    const collapsible = (key: string, n: string) => send({ message: { token, data: { n }, android: { collapse_key: key } } });
    await collapsible('a', 'a1');
    await send({ message: { token, data: { n: 'plain' } } });
    await collapsible('a', 'a2');
    for (const k of ['b', 'c', 'd', 'e']) await collapsible(k, k);
    expect(drain(token).map((m) => m.data.n)).toEqual(['plain', 'b', 'c', 'd', 'e']);
  });
});

describe('OAuth token endpoint for a service account', () => {
  const sa = () => h.credentials.fcmServiceAccount;
  const tokenUrl = (): string => `${base()}/token`;

  /** A JWT-bearer assertion as Google's client libraries make it. */
  function assertion(claims: Record<string, unknown> = {}, key = sa().privateKeyPem): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = b64({ alg: 'RS256', typ: 'JWT', kid: sa().privateKeyId });
    const body = b64({ iss: sa().clientEmail, scope: 'https://www.googleapis.com/auth/firebase.messaging', aud: tokenUrl(), iat: now, exp: now + 3600, ...claims });
    return `${head}.${body}.${sign('sha256', Buffer.from(`${head}.${body}`), createPrivateKey(key)).toString('base64url')}`;
  }

  async function grant(jwt: string, grantType = JWT_BEARER_GRANT) {
    const res = await request(tokenUrl(), {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: grantType, assertion: jwt }).toString(),
    });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
  }

  it('a signed assertion gets an access token, which FCM then accepts', async () => {
    const r = await grant(assertion());
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ access_token: expect.stringMatching(/^ya29\./), expires_in: 3599, token_type: 'Bearer' });
    expect((await send({ message: { token: newToken() } }, { auth: `Bearer ${r.json.access_token}` })).status).toBe(200);
    // Google's own token URL as audience (what a library that fixes it sends) is accepted too.
    expect((await grant(assertion({ aud: 'https://oauth2.googleapis.com/token' }))).status).toBe(200);
  });

  it('refuses a bad signature, an unknown account, a long-lived assertion and another grant type, as Google does', async () => {
    const other = (await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect((await grant(assertion({}, other))).json).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    expect((await grant(assertion({ iss: 'nobody@example.iam.gserviceaccount.com' }))).json).toEqual({
      error: 'invalid_grant',
      error_description: 'Invalid grant: account not found',
    });
    const now = Math.floor(Date.now() / 1000);
    const long = await grant(assertion({ iat: now, exp: now + 7200 }));
    expect([long.status, long.json.error]).toEqual([400, 'invalid_grant']);
    expect(long.json.error_description).toMatch(/short-lived token \(60 minutes\)/);
    const wrongGrant = await grant(assertion(), 'client_credentials');
    expect([wrongGrant.status, wrongGrant.json.error]).toEqual([400, 'unsupported_grant_type']);
  });

  it('FCM refuses a token it did not issue (401) and one without an FCM scope (403)', async () => {
    const made = await send({ message: { token: newToken() } }, { auth: 'Bearer ya29.made-up' });
    expect([made.status, made.json.error.status]).toEqual([401, 'UNAUTHENTICATED']);
    const noScope = await grant(assertion({ scope: 'https://www.googleapis.com/auth/userinfo.email' }));
    const r = await send({ message: { token: newToken() } }, { auth: `Bearer ${noScope.json.access_token}` });
    expect([r.status, r.json.error.status, r.json.error.message]).toEqual([403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.']);
  });
});
