/** The mock APNs over real HTTP/2 + TLS: every status and reason the issue lists, and store-and-forward. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type http2 from 'node:http2';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { generateProviderKey, signProviderToken } from '../../src/harness/jwt.js';
import { connectCourier } from '../../src/harness/services/courier.js';
import { ApnsService } from '../../src/harness/services/apns.js';
import { VirtualClock } from '../../src/harness/clock.js';
import { h2connect, h2request, hexToken, waitFor } from './helpers.js';

let h: Harness;
let certSession: http2.ClientHttp2Session;
let bareSession: http2.ClientHttp2Session;
let tokenSeq = 100;
const MAX_PER_MINUTE = 5;

/** A fresh device token registered for the harness MDM topic. */
function newToken(topic?: string): string {
  const token = hexToken(tokenSeq++);
  h.apns.registerToken(token, topic ?? h.mdmTopic);
  return token;
}

const mdmHeaders = (extra: Record<string, string | string[]> = {}): Record<string, string | string[]> => ({
  'apns-topic': h.mdmTopic,
  'apns-push-type': 'mdm',
  'apns-priority': '10',
  ...extra,
});
const payload = JSON.stringify({ mdm: 'push-magic' });

// One issue time for the file: a token signed in a later second would be a refresh, and a refresh within
// 20 minutes is TooManyProviderTokenUpdates (the tests that want that sign their own).
const issuedAtS = Math.floor(Date.now() / 1000);

function jwt(iatOffsetS = 0, keyId?: string): string {
  return signProviderToken(
    { keyId: keyId ?? h.provider.keyId, teamId: h.provider.teamId, iat: issuedAtS + iatOffsetS },
    h.provider.privateKeyPem,
  );
}

beforeAll(async () => {
  h = await startHarness({ maxPushesPerTokenPerMinute: MAX_PER_MINUTE });
  certSession = h2connect(h.endpoints.apns.port, { ca: h.caPem, ...h.provider.certificate });
  bareSession = h2connect(h.endpoints.apns.port, { ca: h.caPem });
});

afterAll(async () => {
  certSession?.close();
  bareSession?.close();
  await h?.close();
});

describe('mock APNs provider API', () => {
  it('accepts an MDM push with the certificate: 200, the apns-id echoed, no body', async () => {
    const id = '6f1e6d2e-1a3b-4c5d-8e9f-0a1b2c3d4e5f';
    const r = await h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-id': id }), body: payload });
    expect(r.status).toBe(200);
    expect(r.headers['apns-id']).toBe(id);
    expect(r.body).toBe('');
  });

  it('generates an apns-id when none is sent, and takes the topic from the certificate UID when apns-topic is absent', async () => {
    const { 'apns-topic': _t, ...noTopic } = mdmHeaders();
    const r = await h2request(certSession, { path: `/3/device/${newToken()}`, headers: noTopic, body: payload });
    expect(r.status).toBe(200);
    expect(r.headers['apns-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  const cases: Array<[string, number, string, () => Promise<{ status: number; json: Record<string, unknown> | undefined }>]> = [
    ['bad device token', 400, 'BadDeviceToken', () => h2request(certSession, { path: '/3/device/not-hex', headers: mdmHeaders(), body: payload })],
    ['unknown device token', 400, 'BadDeviceToken', () => h2request(certSession, { path: `/3/device/${hexToken(999_999)}`, headers: mdmHeaders(), body: payload })],
    ['missing device token', 400, 'MissingDeviceToken', () => h2request(certSession, { path: '/3/device/', headers: mdmHeaders(), body: payload })],
    [
      'token issued for another topic',
      400,
      'DeviceTokenNotForTopic',
      () => h2request(certSession, { path: `/3/device/${newToken('com.apple.mgmt.External.other')}`, headers: mdmHeaders(), body: payload }),
    ],
    ['bad apns-id', 400, 'BadMessageId', () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-id': 'nope' }), body: payload })],
    [
      'bad apns-expiration',
      400,
      'BadExpirationDate',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-expiration': 'tomorrow' }), body: payload }),
    ],
    ['bad apns-priority', 400, 'BadPriority', () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-priority': '7' }), body: payload })],
    [
      'unknown apns-push-type',
      400,
      'InvalidPushType',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-push-type': 'telepathy' }), body: payload }),
    ],
    [
      'collapse id over 64 bytes',
      400,
      'BadCollapseId',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-collapse-id': 'x'.repeat(65) }), body: payload }),
    ],
    [
      'mdm push to a non-MDM topic',
      400,
      'BadTopic',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-topic': 'com.example.app' }), body: payload }),
    ],
    [
      'topic the certificate does not cover',
      400,
      'TopicDisallowed',
      () =>
        h2request(certSession, {
          path: `/3/device/${newToken()}`,
          headers: mdmHeaders({ 'apns-topic': 'com.apple.mgmt.External.00000000-0000-4000-8000-000000000000' }),
          body: payload,
        }),
    ],
    ['empty payload', 400, 'PayloadEmpty', () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body: '' })],
    [
      'a header sent twice',
      400,
      'DuplicateHeaders',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ 'apns-priority': ['10', '5'] }), body: payload }),
    ],
    [
      'token auth without apns-topic',
      400,
      'MissingTopic',
      () => h2request(bareSession, { path: `/3/device/${newToken()}`, headers: { 'apns-push-type': 'mdm', authorization: `bearer ${jwt()}` }, body: payload }),
    ],
    ['neither certificate nor token', 403, 'MissingProviderToken', () => h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body: payload })],
    [
      'token signed with the wrong key id',
      403,
      'InvalidProviderToken',
      () => h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${jwt(0, 'OTHERKEY')}` }), body: payload }),
    ],
    [
      'token with a broken signature',
      403,
      'InvalidProviderToken',
      () => h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${jwt().slice(0, -4)}AAAA` }), body: payload }),
    ],
    [
      'token issued over an hour ago',
      403,
      'ExpiredProviderToken',
      () => h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${jwt(-3601)}` }), body: payload }),
    ],
    ['a path that is not /3/device/<token>', 404, 'BadPath', () => h2request(certSession, { path: '/3/devices/abc', headers: mdmHeaders(), body: payload })],
    ['GET instead of POST', 405, 'MethodNotAllowed', () => h2request(certSession, { method: 'GET', path: `/3/device/${newToken()}`, headers: mdmHeaders() })],
    [
      'payload over 4096 bytes',
      413,
      'PayloadTooLarge',
      () => h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body: JSON.stringify({ mdm: 'x'.repeat(4087) }) }),
    ],
  ];

  it.each(cases)('%s → %i %s', async (_what, status, reason, send) => {
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.json).toEqual({ reason });
  });

  it('accepts a payload of exactly 4096 bytes', async () => {
    const body = JSON.stringify({ mdm: 'x'.repeat(4086) });
    expect(Buffer.byteLength(body)).toBe(4096);
    const r = await h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body });
    expect(r.status).toBe(200);
  });

  it('410 Unregistered carries the time the token stopped being valid', async () => {
    const token = newToken();
    const at = Date.now() - 60_000;
    h.apns.unregisterToken(token, at);
    const r = await h2request(certSession, { path: `/3/device/${token}`, headers: mdmHeaders(), body: payload });
    expect(r.status).toBe(410);
    expect(r.json).toEqual({ reason: 'Unregistered', timestamp: at });
  });

  it('429 TooManyRequests past the per-token limit', async () => {
    const token = newToken();
    const statuses: number[] = [];
    for (let i = 0; i < MAX_PER_MINUTE + 1; i += 1) {
      statuses.push((await h2request(certSession, { path: `/3/device/${token}`, headers: mdmHeaders(), body: payload })).status);
    }
    expect(statuses).toEqual([...Array(MAX_PER_MINUTE).fill(200), 429]);
    const r = await h2request(certSession, { path: `/3/device/${token}`, headers: mdmHeaders(), body: payload });
    expect(r.json).toEqual({ reason: 'TooManyRequests' });
  });

  it('token auth: a valid token passes; a new token within 20 minutes is TooManyProviderTokenUpdates', async () => {
    const key = generateProviderKey();
    h.apns.addProviderKey({ keyId: 'SECONDKEY', teamId: h.provider.teamId, publicKey: key.publicKey, topics: [] });
    const sign = (offsetS: number): string =>
      signProviderToken({ keyId: 'SECONDKEY', teamId: h.provider.teamId, iat: Math.floor(Date.now() / 1000) + offsetS }, key.privateKey);
    const first = sign(-30);
    const ok = await h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${first}` }), body: payload });
    expect(ok.status).toBe(200);
    const second = sign(-10);
    const r = await h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${second}` }), body: payload });
    expect(r.status).toBe(429);
    expect(r.json).toEqual({ reason: 'TooManyProviderTokenUpdates' });
    const again = await h2request(bareSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders({ authorization: `bearer ${first}` }), body: payload });
    expect(again.status).toBe(200);
  });

  it('403 BadCertificate for an expired client certificate and for one from another CA', async () => {
    const expired = await h.ca.issue({
      names: [],
      uid: h.mdmTopic,
      client: true,
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const other = await (await createCertificateAuthority('someone else')).issue({ names: [], uid: h.mdmTopic, client: true });
    for (const cert of [expired, other]) {
      const s = h2connect(h.endpoints.apns.port, { ca: h.caPem, ...cert });
      const r = await h2request(s, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body: payload });
      s.close();
      expect(r.status).toBe(403);
      expect(r.json).toEqual({ reason: 'BadCertificate' });
    }
  });

  it('faults switched on: apns-down 503, apns-error 500, expired-cert 403, expired-token 403', async () => {
    const send = (session: http2.ClientHttp2Session, extra: Record<string, string> = {}) =>
      h2request(session, { path: `/3/device/${newToken()}`, headers: mdmHeaders(extra), body: payload });
    h.faults.set('apns-down');
    expect((await send(certSession)).json).toEqual({ reason: 'ServiceUnavailable' });
    expect((await send(certSession)).status).toBe(503);
    h.faults.clear('apns-down');
    h.faults.set('apns-error', 1);
    const e = await send(certSession);
    expect([e.status, e.json]).toEqual([500, { reason: 'InternalServerError' }]);
    h.faults.clear('apns-error');
    h.faults.set('expired-cert');
    const c = await send(certSession);
    expect([c.status, c.json]).toEqual([403, { reason: 'BadCertificate' }]);
    h.faults.clear('expired-cert');
    h.faults.set('expired-token');
    const t = await send(bareSession, { authorization: `bearer ${jwt()}` });
    expect([t.status, t.json]).toEqual([403, { reason: 'ExpiredProviderToken' }]);
    h.faults.clear('expired-token');
    expect((await send(certSession)).status).toBe(200);
  });

  it('stores one notification per device and topic while the device is away, and delivers it on connect', async () => {
    const token = newToken();
    const ids = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222'];
    for (const id of ids) {
      const r = await h2request(certSession, { path: `/3/device/${token}`, headers: mdmHeaders({ 'apns-id': id }), body: payload });
      expect(r.status).toBe(200);
    }
    // apns-expiration 0: deliver now or never; the device is away, so it is dropped.
    const never = await h2request(certSession, {
      path: `/3/device/${token}`,
      headers: mdmHeaders({ 'apns-id': '33333333-3333-4333-8333-333333333333', 'apns-expiration': '0' }),
      body: payload,
    });
    expect(never.status).toBe(200);
    expect(h.apns.storedFor(token).map((n) => n.apnsId)).toEqual([ids[1]]);
    const received: string[] = [];
    const conn = await connectCourier({
      host: '127.0.0.1',
      port: h.endpoints.courier5223.port,
      ca: h.caPem,
      token,
      onPush: (p) => received.push(p.apnsId),
    });
    await waitFor(() => received.length === 1, 5000, 'stored push');
    expect(received).toEqual([ids[1]]);
    // Connected now: the next push goes straight through.
    const live = await h2request(certSession, { path: `/3/device/${token}`, headers: mdmHeaders({ 'apns-expiration': '0' }), body: payload });
    await waitFor(() => received.length === 2, 5000, 'live push');
    expect(received[1]).toBe(live.headers['apns-id']);
    conn.close();
  });

  it('503 Shutdown once the service is closing', async () => {
    h.apns.shutdown();
    const r = await h2request(certSession, { path: `/3/device/${newToken()}`, headers: mdmHeaders(), body: payload });
    expect([r.status, r.json]).toEqual([503, { reason: 'Shutdown' }]);
  });
});

describe('APNs store-and-forward against the clock', () => {
  it('drops a stored notification whose apns-expiration passes before the device returns', () => {
    const clock = new VirtualClock(Date.UTC(2025, 0, 1));
    const apns = new ApnsService({ clock });
    const token = hexToken(1);
    apns.registerToken(token, 'com.apple.mgmt.External.t');
    const r = apns.handle({
      method: 'POST',
      path: `/3/device/${token}`,
      headers: { 'apns-topic': 'com.apple.mgmt.External.t', 'apns-push-type': 'mdm', 'apns-expiration': String(clock.now() / 1000 + 60) },
      body: '{"mdm":"m"}',
      certificate: { topics: ['com.apple.mgmt.External.t'], valid: true },
    });
    expect(r.status).toBe(200);
    clock.advance(61_000);
    const got: string[] = [];
    apns.connect(token, (n) => got.push(n.apnsId));
    expect(got).toEqual([]);
    expect(apns.stats.expired).toBe(1);
  });
});
