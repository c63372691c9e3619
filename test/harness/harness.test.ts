/**
 * The harness end to end over real sockets: simulated devices hold courier/FCM connections, the MDM server
 * pushes through the mock APNs/FCM over HTTP/2 and HTTPS, the admin API drives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { startHarness, type Harness } from '../../src/harness/index.js';
import http2 from 'node:http2';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { generateProviderKey, signProviderToken } from '../../src/harness/jwt.js';
import { issuePushCertificate } from '../../src/harness/services/push-certificates.js';
import { adminClient, h2connect, h2request, waitFor } from './helpers.js';
import { nonEmpty } from '../helpers/non-empty.js';

let h: Harness;
const admin = adminClient(() => h.endpoints.admin.port);

beforeAll(async () => {
  // Short device timings so that a heartbeat and the push retries happen within a test.
  h = await startHarness({
    timing: { heartbeatMs: 1500, retryMs: 200, notNowRetryMs: 300, connectTimeoutMs: 200 },
    pushRetryDelaysMs: [300, 300],
  });
});
afterAll(async () => {
  await h?.close();
});

const events = (action: any): string[] => action.history.map((e: any) => e.event);

describe('harness', () => {
  it('listens on loopback and writes the CA file', async () => {
    for (const ep of nonEmpty(Object.values(h.endpoints), 'the endpoints')) {
      expect(ep.host).toBe('127.0.0.1');
      expect(ep.port).toBeGreaterThan(0);
    }
    expect(readFileSync(h.caFile, 'utf8')).toBe(h.caPem);
    const root = await admin('GET', '/');
    expect(root.json.endpoints.apns.port).toBe(h.endpoints.apns.port);
    // The courier certificate verifies as courier.push.apple.com against the CA file.
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: h.endpoints.courier443.port, ca: h.caPem, servername: 'courier.push.apple.com' }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  });

  it('iOS: action queued → pushed → push accepted → delivered → acknowledged, over real sockets', async () => {
    const added = await admin('POST', '/devices', { ios: 1 });
    expect(added.status).toBe(201);
    const udid = added.json.devices[0].udid;
    await waitFor(() => h.devices.find((d) => d.profile.udid === udid)?.courierPort === 5223, 5000, 'courier connection');
    const queued = await admin('POST', '/actions', { udid, requestType: 'DeviceLock' });
    const id = queued.json.actions[0].id;
    await waitFor(() => h.mdm.actions.get(id)?.state === 'acknowledged', 5000, 'acknowledgement');
    const action = (await admin('GET', `/actions/${id}`)).json;
    expect(events(action)).toEqual(['queued', 'pushed', 'push-accepted', 'delivered', 'acknowledged']);
    expect(action.path).toBe('apns');
    const times = action.history.map((e: any) => e.atMs);
    expect([...times].sort((a: number, b: number) => a - b)).toEqual(times);
    const history = (await admin('GET', `/devices/${udid}/history`)).json;
    expect(history.actions.map((a: any) => a.id)).toEqual([id]);
  });

  it('Android with Google Play services is woken through FCM; without, it picks up at its heartbeat', async () => {
    const added = await admin('POST', '/devices', { android: 2, withoutPlayServices: 0.5 });
    const [without, withGcm] = added.json.devices;
    expect(without.gcm).toBe(false);
    expect(withGcm.gcm).toBe(true);
    await waitFor(() => h.mdm.devices.has(without.udid) && h.mdm.devices.has(withGcm.udid), 5000, 'enrollment');
    await new Promise((r) => setTimeout(r, 200));
    const a = (await admin('POST', '/actions', { udid: withGcm.udid })).json.actions[0].id;
    const b = (await admin('POST', '/actions', { udid: without.udid })).json.actions[0].id;
    await waitFor(() => h.mdm.actions.get(a)?.state === 'acknowledged' && h.mdm.actions.get(b)?.state === 'acknowledged', 8000, 'both acks');
    expect(h.mdm.actions.get(a)?.path).toBe('fcm');
    expect(h.mdm.actions.get(b)?.path).toBe('heartbeat');
    expect(events(h.mdm.actions.get(b))).not.toContain('pushed');
  });

  it('admin faults: with APNs down the push is rejected 503 and retried; the action lands after the fault is off', async () => {
    const udid = (await admin('POST', '/devices', { ios: 1 })).json.devices[0].udid;
    await waitFor(() => h.devices.find((d) => d.profile.udid === udid)?.courierPort !== undefined, 5000, 'courier');
    expect((await admin('PUT', '/faults/apns-down', {})).json.on).toEqual([{ name: 'apns-down', value: 1 }]);
    const id = (await admin('POST', '/actions', { udid })).json.actions[0].id;
    await waitFor(() => h.mdm.actions.get(id)!.history.some((e) => e.event === 'push-rejected'), 5000, 'rejection');
    expect(h.mdm.actions.get(id)!.history.find((e) => e.event === 'push-rejected')?.detail).toBe('503 ServiceUnavailable');
    await admin('DELETE', '/faults/apns-down');
    await waitFor(() => h.mdm.actions.get(id)?.state === 'acknowledged', 8000, 'ack after recovery');
  });

  it('admin faults: wrong-topic sends on another topic to the mock APNs, which answers 400 TopicDisallowed', async () => {
    const udid = (await admin('POST', '/devices', { ios: 1 })).json.devices[0].udid;
    await waitFor(() => h.devices.find((d) => d.profile.udid === udid)?.courierPort !== undefined, 5000, 'courier');
    await admin('PUT', '/faults/wrong-topic');
    const id = (await admin('POST', '/actions', { udid })).json.actions[0].id;
    await waitFor(() => h.mdm.actions.get(id)!.history.some((e) => e.event === 'push-rejected'), 5000, 'rejection');
    await admin('DELETE', '/faults/wrong-topic');
    expect(h.mdm.actions.get(id)!.history.find((e) => e.event === 'push-rejected')?.detail).toBe('400 TopicDisallowed');
    const sent = (await admin('GET', `/apns/notifications?token=${h.mdm.device(udid).token}`)).json.notifications;
    expect(sent[0].topic).not.toBe(h.mdmTopic);
    expect(sent[0].topic).toMatch(/^com\.apple\.mgmt\.External\./);
  });

  it('admin faults: block-5223 cuts the 5223 connections and devices fall back to 443', async () => {
    const udid = (await admin('POST', '/devices', { ios: 1 })).json.devices[0].udid;
    const device = () => h.devices.find((d) => d.profile.udid === udid)!;
    await waitFor(() => device().courierPort === 5223, 5000, 'courier on 5223');
    await admin('PUT', '/faults/block-5223');
    await waitFor(() => device().courierPort === 443, 5000, 'fallback to 443');
    const id = (await admin('POST', '/actions', { udid })).json.actions[0].id;
    await waitFor(() => h.mdm.actions.get(id)?.state === 'acknowledged', 5000, 'ack over 443');
    await admin('DELETE', '/faults/block-5223');
    expect(h.deviceCounters.fallbacksTo443).toBeGreaterThanOrEqual(1);
  });

  it('admin offline fault takes that share of the simulated devices off the network and back', async () => {
    await admin('POST', '/devices', { ios: 4 });
    // GET /devices lists enrolled devices: wait until every simulated one is.
    await waitFor(() => h.devices.every((d) => h.mdm.devices.has(d.profile.udid)), 5000, 'enrollment');
    await admin('PUT', '/faults/offline', { value: 0.5 });
    const offline = h.devices.filter((d) => !d.online).length;
    expect(offline).toBe(Math.round(0.5 * h.devices.length));
    const listed = (await admin('GET', '/devices')).json.devices.filter((d: any) => d.simulated?.online === false);
    expect(listed).toHaveLength(offline);
    await admin('DELETE', '/faults/offline');
    expect(nonEmpty(h.devices).every((d) => d.online)).toBe(true);
  });

  it('admin API: the share without Google Play services goes through one reader (noGcm is its old name)', async () => {
    const old = await admin('POST', '/devices', { android: 2, noGcm: 1 });
    expect(old.json.devices.map((d: any) => d.gcm)).toEqual([false, false]);
    for (const bad of [2, -0.1, 'half', true]) {
      const r = await admin('POST', '/devices', { android: 1, withoutPlayServices: bad });
      expect(r.status).toBe(400);
      expect(r.json.error).toBe('withoutPlayServices must be a fraction 0..1');
    }
  });

  it('admin API takes your own credentials: a CA for client certificates, a .p8 public key, a device token', async () => {
    const mine = await createCertificateAuthority('my MDM vendor CA');
    const cert = await issuePushCertificate(mine, { topic: 'com.example.mine', uuid: '11111111-2222-4333-8444-555555555555' });
    const token = 'cd'.repeat(32);
    expect((await admin('POST', '/apns/tokens', { token, topic: 'com.example.mine' })).status).toBe(201);
    const push = async (session: http2.ClientHttp2Session, headers: Record<string, string> = {}) =>
      (await h2request(session, { path: `/3/device/${token}`, headers: { 'apns-topic': 'com.example.mine', ...headers }, body: '{"aps":{}}' })).status;

    const before = h2connect(h.endpoints.apns.port, { ca: h.caPem, ...cert });
    expect(await push(before)).toBe(403);
    before.close();
    const trusted = await admin('POST', '/apns/client-cas', { certificate: mine.cert });
    expect(trusted.status).toBe(201);
    const after = h2connect(h.endpoints.apns.port, { ca: h.caPem, ...cert });
    expect(await push(after)).toBe(200);
    after.close();

    const key = generateProviderKey();
    const jwt = signProviderToken({ keyId: 'MYKEY12345', teamId: 'MYTEAM1234', iat: Math.floor(Date.now() / 1000) }, key.privateKey);
    const bare = h2connect(h.endpoints.apns.port, { ca: h.caPem });
    expect(await push(bare, { authorization: `bearer ${jwt}` })).toBe(403);
    const publicKey = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect((await admin('POST', '/apns/keys', { keyId: 'MYKEY12345', teamId: 'MYTEAM1234', publicKey })).status).toBe(201);
    expect(await push(bare, { authorization: `bearer ${jwt}` })).toBe(200);
    bare.close();

    expect((await admin('POST', '/apns/client-cas', { certificate: cert.cert })).json.error).toMatch(/not a CA certificate/);
    expect((await admin('POST', '/apns/keys', { keyId: 'K', teamId: 'T', publicKey: cert.cert })).json.error).toMatch(/P-256/);
  });

  it('admin API rejects unknown faults and bad bodies', async () => {
    expect((await admin('PUT', '/faults/bogus')).status).toBe(404);
    expect((await admin('PUT', '/faults/offline', { value: 3 })).status).toBe(400);
    expect((await admin('POST', '/actions', {})).status).toBe(400);
    expect((await admin('GET', '/actions/nope')).status).toBe(404);
    const stats = (await admin('GET', '/stats')).json;
    expect(stats.apns.accepted).toBeGreaterThan(0);
  });
});
