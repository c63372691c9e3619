/**
 * The APNs reasons that depend on the environment, the connection or the device token's state, each produced by
 * the situation Apple describes and read by a client nobody here wrote (@parse/node-apn) where that client can
 * make the situation; where it cannot (two keys on one connection, the GOAWAY's debug data), by node:http2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import tls from 'node:tls';
import { randomUUID } from 'node:crypto';
import apn from '@parse/node-apn';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { generateProviderKey, signProviderToken } from '../../src/harness/jwt.js';
import { issuePushCertificate } from '../../src/harness/services/push-certificates.js';
import { environmentOf } from '../../src/harness/services/apns-http.js';
import { h2connect, h2request, hexToken } from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const IDLE_MS = 400;

let h: Harness;
const providers: apn.Provider[] = [];
const sessions: http2.ClientHttp2Session[] = [];

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  for (const p of providers) await p.shutdown();
  for (const s of sessions) s.destroy();
  await h?.close();
});

/**
 * node-apn pointed at the harness by address: 127.0.0.1 names no environment, so no environment rule applies
 * (node-apn itself then takes `production: false`). `production()` and `sandbox()` keep Apple's host names and
 * only route the connection to the harness, as /etc/hosts would.
 */
function provider(options: Partial<apn.ProviderOptions>): apn.Provider {
  const p = new apn.Provider({ address: '127.0.0.1', port: h.endpoints.apns.port, ca: [h.caPem], ...options } as apn.ProviderOptions);
  providers.push(p);
  return p;
}

/** node-apn that keeps one of Apple's host names (`:authority` and TLS server name) and only routes to the harness. */
function byName(address: 'api.push.apple.com' | 'api.sandbox.push.apple.com', client: { cert?: string; key?: string } = {}): Partial<apn.ProviderOptions> {
  const createConnection = () => tls.connect({ host: '127.0.0.1', port: h.endpoints.apns.port, servername: address, ca: h.caPem, ALPNProtocols: ['h2'], ...client });
  return { address, ...client, createConnection } as Partial<apn.ProviderOptions>;
}
const production = (client: { cert?: string; key?: string } = {}) => byName('api.push.apple.com', client);
const sandbox = (client: { cert?: string; key?: string } = {}) => byName('api.sandbox.push.apple.com', client);

const topic = (): string => h.credentials.provider.topic;
let next = 0x7000;
/** A fresh device token known to the mock APNs for the app topic. */
function newToken(): string {
  const token = hexToken(next++);
  h.apns.registerToken(token, topic());
  return token;
}

function note(options: { pushType?: apn.NotificationPushType; topic?: string } = {}): apn.Notification {
  const n = new apn.Notification();
  n.topic = options.topic ?? topic();
  n.alert = 'pushcheck harness';
  if (options.pushType) n.pushType = options.pushType;
  return n;
}

/** A .p8 key of the caller's, registered with the mock APNs as the admin route does. */
function addKey(options: { keyId: string; teamId?: string; topics?: string[]; environment?: 'development' | 'production'; pushTypes?: Array<'alert' | 'voip'> }) {
  const key = generateProviderKey();
  const teamId = options.teamId ?? h.credentials.token.teamId;
  h.apns.addProviderKey({
    keyId: options.keyId,
    teamId,
    publicKey: key.publicKey,
    topics: options.topics ?? [],
    ...(options.environment ? { environment: options.environment } : {}),
    ...(options.pushTypes ? { pushTypes: options.pushTypes } : {}),
  });
  return { token: { key: key.privateKeyPem, keyId: options.keyId, teamId }, privateKey: key.privateKey, teamId, keyId: options.keyId };
}

describe('environment: the host name the client asked for', () => {
  it('Apple’s production and sandbox names, by TLS server name first, then :authority, else the default', () => {
    expect(environmentOf('api.push.apple.com', '127.0.0.1', 'development')).toBe('production');
    expect(environmentOf('api.sandbox.push.apple.com', 'api.push.apple.com', 'production')).toBe('development');
    expect(environmentOf(false, 'api.push.apple.com:443', 'development')).toBe('production');
    expect(environmentOf('localhost', '127.0.0.1:8443', 'development')).toBe('development');
    expect(environmentOf(undefined, undefined, 'production')).toBe('production');
    expect(environmentOf('localhost', '127.0.0.1:8443', undefined)).toBeUndefined();
  });

  it('apns-unique-id on a 200 in development only, and the apns-id echoed exactly as sent', async () => {
    const id = randomUUID().toUpperCase();
    const sandboxNote = note();
    sandboxNote.id = id;
    const token = newToken();
    const dev = await provider({
      ...sandbox(),
      token: { key: h.credentials.token.privateKeyPem, keyId: h.credentials.token.keyId, teamId: h.credentials.token.teamId },
    }).send(sandboxNote, token);
    expect(dev.failed).toEqual([]);
    // node-apn returns the response headers beside the device; its types list only `device`.
    expect(dev.sent).toEqual([{ device: token, 'apns-id': id, 'apns-unique-id': expect.stringMatching(UUID) }]);

    const prodToken = newToken();
    const prod = await provider(production(h.credentials.provider.certificate)).send(note(), prodToken);
    expect(prod.failed).toEqual([]);
    expect(prod.sent).toEqual([{ device: prodToken, 'apns-id': expect.stringMatching(UUID) }]);
  });
});

// node-apn checks a certificate's environment itself and refuses to start with the wrong one (node-apn.test.ts),
// so it never meets this answer: a plain HTTP/2 client makes the mistake here.
describe('403 BadCertificateEnvironment: a certificate of the other environment', () => {
  const pushWith = async (cert: { cert: string; key: string }, servername: string) => {
    const session = h2connect(h.endpoints.apns.port, { ca: h.caPem, servername, ...cert });
    sessions.push(session);
    return h2request(session, { path: `/3/device/${newToken()}`, headers: { 'apns-topic': topic() }, body: '{"aps":{}}' });
  };

  it('a production-only certificate is refused by the sandbox and accepted by production (node-apn there too)', async () => {
    const cert = await issuePushCertificate(h.ca, { topic: topic(), uuid: '0f0f0f0f-0000-4000-8000-0000000000a1', environments: ['production'] });
    const wrong = await pushWith(cert, 'api.sandbox.push.apple.com');
    expect(wrong.status).toBe(403);
    expect(wrong.json).toEqual({ reason: 'BadCertificateEnvironment' });
    expect((await pushWith(cert, 'api.push.apple.com')).status).toBe(200);
    const right = await provider(production(cert)).send(note(), newToken());
    expect(right.failed).toEqual([]);
    expect(right.sent).toHaveLength(1);
  });

  it('a name that is none of Apple’s says no environment: either certificate passes there', async () => {
    const cert = await issuePushCertificate(h.ca, { topic: topic(), uuid: '0f0f0f0f-0000-4000-8000-0000000000a3', environments: ['production'] });
    expect((await pushWith(cert, 'localhost')).status).toBe(200);
  });

  it('a development-only certificate is refused by production', async () => {
    const cert = await issuePushCertificate(h.ca, { topic: topic(), uuid: '0f0f0f0f-0000-4000-8000-0000000000a2', environments: ['development'] });
    const r = await pushWith(cert, 'api.push.apple.com');
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ reason: 'BadCertificateEnvironment' });
    expect((await pushWith(cert, 'api.sandbox.push.apple.com')).status).toBe(200);
  });
});

describe('403 BadEnvironmentKeyIdInToken: a key restricted to the other environment', () => {
  it('a production key’s token sent to the sandbox is refused; to production it passes', async () => {
    const key = addKey({ keyId: 'PRODONLY01', environment: 'production' });
    const wrong = await provider({ ...sandbox(), token: key.token }).send(note(), newToken());
    expect(wrong.sent).toEqual([]);
    expect(wrong.failed[0]).toMatchObject({ status: 403, response: { reason: 'BadEnvironmentKeyIdInToken' } });

    // Another key of the same kind: a second token of PRODONLY01 signed in a later second would be a refresh
    // within 20 minutes (429 TooManyProviderTokenUpdates).
    const second = addKey({ keyId: 'PRODONLY02', environment: 'production' });
    const right = await provider({ ...production(), token: second.token }).send(note(), newToken());
    expect(right.failed).toEqual([]);
    expect(right.sent).toHaveLength(1);
  });
});

describe('403 Forbidden: a key not allowed the action', () => {
  it('a key allowed alert pushes only sends an alert, and is refused a voip push', async () => {
    const key = addKey({ keyId: 'ALERTONLY1', pushTypes: ['alert'] });
    const p = provider({ token: key.token });
    const voip = await p.send(note({ pushType: 'voip' }), newToken());
    expect(voip.sent).toEqual([]);
    expect(voip.failed[0]).toMatchObject({ status: 403, response: { reason: 'Forbidden' } });
    const alert = await p.send(note({ pushType: 'alert' }), newToken());
    expect(alert.failed).toEqual([]);
  });
});

describe('410 ExpiredToken: a device token that has expired', () => {
  it('is answered 410 with the time it expired, as Unregistered is', async () => {
    const token = newToken();
    const at = Date.now() - 5_000;
    h.apns.expireToken(token, at);
    const result = await provider({ cert: h.credentials.provider.certificate.cert, key: h.credentials.provider.certificate.key }).send(note(), token);
    expect(result.sent).toEqual([]);
    expect(result.failed[0]).toMatchObject({ device: token, status: 410, response: { reason: 'ExpiredToken', timestamp: at } });
  });
});

describe('403 UnrelatedKeyIdInToken: a key unrelated to the first push of the connection', () => {
  const jwt = (key: { keyId: string; teamId: string; privateKey: Parameters<typeof signProviderToken>[1] }): string =>
    signProviderToken({ keyId: key.keyId, teamId: key.teamId, iat: Math.floor(Date.now() / 1000) }, key.privateKey);
  const push = (session: http2.ClientHttp2Session, token: string) =>
    h2request(session, { path: `/3/device/${newToken()}`, headers: { 'apns-topic': topic(), authorization: `bearer ${token}` }, body: '{"aps":{}}' });

  it('another team’s key or a topic-specific key after a team key needs a new connection; a team key of the same team does not', async () => {
    const first = addKey({ keyId: 'TEAMKEY001' });
    const sameTeam = addKey({ keyId: 'TEAMKEY002' });
    const otherTeam = addKey({ keyId: 'OTHERTEAM1', teamId: 'OTHERTEAM9' });
    const topicKey = addKey({ keyId: 'TOPICKEY01', topics: [topic()] });
    const session = h2connect(h.endpoints.apns.port, { ca: h.caPem, servername: 'api.sandbox.push.apple.com' });
    sessions.push(session);
    expect((await push(session, jwt(first))).status).toBe(200);
    expect((await push(session, jwt(sameTeam))).status).toBe(200);
    const unrelated = await push(session, jwt(otherTeam));
    expect(unrelated.status).toBe(403);
    expect(unrelated.json).toEqual({ reason: 'UnrelatedKeyIdInToken' });
    expect((await push(session, jwt(topicKey))).json).toEqual({ reason: 'UnrelatedKeyIdInToken' });

    // "To use this token, open a new connection."
    const fresh = h2connect(h.endpoints.apns.port, { ca: h.caPem, servername: 'api.sandbox.push.apple.com' });
    sessions.push(fresh);
    expect((await push(fresh, jwt(otherTeam))).status).toBe(200);
  });
});

describe('IdleTimeout: a connection left idle too long', () => {
  // A harness of its own with a short idle time, so that no other test's connection is closed under it.
  let idle: Harness;
  beforeAll(async () => {
    idle = await startHarness({ apnsIdleTimeoutMs: IDLE_MS, ca: h.ca });
    idle.apns.registerToken(hexToken(0x7fff), topic());
  });
  afterAll(async () => {
    await idle?.close();
  });

  it('gets GOAWAY with {"reason":"IdleTimeout"} once no request came for the idle time; PINGs do not keep it', async () => {
    const session = h2connect(idle.endpoints.apns.port, { ca: idle.caPem, ...idle.credentials.provider.certificate });
    sessions.push(session);
    const sentAt = Date.now();
    const goaway = new Promise<{ code: number; data: string; afterMs: number }>((resolve) =>
      session.once('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '', afterMs: Date.now() - sentAt })),
    );
    const first = await h2request(session, { path: `/3/device/${hexToken(0x7fff)}`, headers: { 'apns-topic': topic() }, body: '{"aps":{}}' });
    expect(first.status).toBe(200);
    const pings = setInterval(() => session.ping(() => undefined), IDLE_MS / 4);
    try {
      const g = await goaway;
      expect(g.code).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect(JSON.parse(g.data)).toEqual({ reason: 'IdleTimeout' });
      expect(g.afterMs).toBeGreaterThanOrEqual(IDLE_MS);
    } finally {
      clearInterval(pings);
    }
  });

  it('node-apn reads the GOAWAY, drops the connection and sends the next push on a new one', async () => {
    const p = new apn.Provider({ address: '127.0.0.1', port: idle.endpoints.apns.port, ca: [idle.caPem], ...idle.credentials.provider.certificate });
    providers.push(p);
    expect((await p.send(note(), hexToken(0x7fff))).failed).toEqual([]);
    await new Promise((r) => setTimeout(r, IDLE_MS * 2.5));
    const after = await p.send(note(), hexToken(0x7fff));
    expect(after.failed).toEqual([]);
    expect(after.sent).toHaveLength(1);
  });
});

describe('scripted answers carry the new reasons as APNs would send them', () => {
  it('a scripted ExpiredToken is a 410 with a timestamp, a scripted BadEnvironmentKeyIdInToken a 403', async () => {
    const token = newToken();
    h.apns.script.add({ token, reason: 'ExpiredToken', remaining: 1 });
    h.apns.script.add({ token, reason: 'BadEnvironmentKeyIdInToken', remaining: 1 });
    const p = provider({ cert: h.credentials.provider.certificate.cert, key: h.credentials.provider.certificate.key });
    const first = await p.send(note(), token);
    expect(first.failed[0]).toMatchObject({ status: 410, response: { reason: 'ExpiredToken', timestamp: expect.any(Number) } });
    const second = await p.send(note(), token);
    expect(second.failed[0]).toMatchObject({ status: 403, response: { reason: 'BadEnvironmentKeyIdInToken' } });
    expect((await p.send(note(), token)).failed).toEqual([]);
  });
});
