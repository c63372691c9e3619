/** What the mocks received, through the admin API and --record, and answers scripted for a client's error handling. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http2 from 'node:http2';
import { Agent, request } from 'undici';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { h2connect, h2request, hexToken } from './helpers.js';

let h: Harness;
let dir: string;
let session: http2.ClientHttp2Session;
let fcmAgent: Agent;
const admin = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(`http://127.0.0.1:${h.endpoints.admin.port}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: await res.json() };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-record-'));
  h = await startHarness({ recordFile: join(dir, 'traffic.jsonl') });
  const { certificate } = h.credentials.provider;
  session = h2connect(h.endpoints.apns.port, { ca: h.caPem, cert: certificate.cert, key: certificate.key });
  fcmAgent = new Agent({ connect: { ca: h.caPem, servername: 'fcm.googleapis.com' } });
});
afterAll(async () => {
  session?.close();
  await fcmAgent?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

const topic = (): string => h.credentials.provider.topic;
const push = (token: string, payload = '{"aps":{"alert":"hi"}}') =>
  h2request(session, { path: `/3/device/${token}`, headers: { 'apns-topic': topic(), authorization: 'bearer secret.jwt.value' }, body: payload });

describe('recorded traffic', () => {
  it('GET /apns/notifications: time, headers (credentials elided), payload and answer, filterable by token and topic; DELETE clears', async () => {
    const known = hexToken(0x7001);
    h.apns.registerToken(known, topic());
    const unknown = hexToken(0x7002);
    await push(known, '{"aps":{"alert":"one"}}');
    await push(unknown);
    const all = (await admin('GET', '/apns/notifications')).json.notifications;
    expect(all.map((n: any) => [n.token, n.answer.status, n.answer.reason ?? null])).toEqual([
      [known, 403, 'InvalidProviderToken'],
      [unknown, 403, 'InvalidProviderToken'],
    ]);
    expect(all[0]).toMatchObject({ service: 'apns', topic: topic(), payload: '{"aps":{"alert":"one"}}' });
    expect(all[0].headers.authorization).toBe('bearer …');
    expect(Date.parse(all[0].at)).toBe(all[0].atMs);
    expect((await admin('GET', `/apns/notifications?token=${unknown}`)).json.notifications).toHaveLength(1);
    expect((await admin('GET', '/apns/notifications?topic=other.topic')).json.notifications).toEqual([]);
    expect((await admin('DELETE', '/apns/notifications')).json.cleared).toBe(2);
    expect((await admin('GET', '/apns/notifications')).json.notifications).toEqual([]);
  });

  it('--record appends the same as JSON lines', () => {
    const lines = readFileSync(join(dir, 'traffic.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({ service: 'apns', answer: { status: 403 } });
    expect(JSON.stringify(lines)).not.toContain('secret.jwt.value');
  });
});

describe('scripted answers', () => {
  it('APNs answers the next request for a token as scripted (410 with its timestamp), then as usual', async () => {
    const token = hexToken(0x7003);
    h.apns.registerToken(token, topic());
    const bare = { path: `/3/device/${token}`, headers: { 'apns-topic': topic() }, body: '{"aps":{}}' };
    expect((await admin('POST', '/apns/script', { token, reason: 'Unregistered', count: 2 })).status).toBe(201);
    for (let i = 0; i < 2; i += 1) {
      const r = await h2request(session, bare);
      expect(r.status).toBe(410);
      expect(r.json).toMatchObject({ reason: 'Unregistered', timestamp: expect.any(Number) });
    }
    expect((await h2request(session, bare)).status).toBe(200);
    expect((await admin('GET', '/apns/script')).json.script).toEqual([]);
    const recorded = (await admin('GET', `/apns/notifications?token=${token}`)).json.notifications;
    expect(recorded.map((n: any) => n.answer.scripted ?? false)).toEqual([true, true, false]);
  });

  it('a script by topic; unknown reasons and a rule for nothing are refused', async () => {
    await admin('POST', '/apns/script', { topic: topic(), reason: 'TooManyRequests' });
    expect((await push(hexToken(0x7004))).status).toBe(429);
    expect((await admin('POST', '/apns/script', { token: 'aa', reason: 'Gone' })).status).toBe(400);
    expect((await admin('POST', '/apns/script', { reason: 'Unregistered' })).status).toBe(400);
  });

  it('FCM: a scripted UNREGISTERED for a token, recorded in GET /fcm/messages', async () => {
    const token = 'fcm:scripted-token-0123456789';
    h.fcm.registerToken(token);
    await admin('POST', '/fcm/script', { token, reason: 'UNREGISTERED' });
    const send = async () =>
      request(`https://127.0.0.1:${h.endpoints.fcm.port}/v1/projects/${h.fcmProject}/messages:send`, {
        method: 'POST',
        dispatcher: fcmAgent,
        headers: { authorization: `Bearer ${h.fcmAccessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: { token, data: { k: 'v' } } }),
      });
    expect((await send()).statusCode).toBe(404);
    expect((await send()).statusCode).toBe(200);
    const messages = (await admin('GET', `/fcm/messages?token=${encodeURIComponent(token)}`)).json.messages;
    expect(messages.map((m: any) => [m.answer.status, m.answer.reason ?? null])).toEqual([
      [404, 'UNREGISTERED'],
      [200, null],
    ]);
    expect(messages[0].headers.authorization).toBe('Bearer …');
  });

  it('GET /mdm/commands lists every command with its history', async () => {
    h.mdm.enroll('CMD-DEV', 'android');
    const a = h.mdm.enqueue('CMD-DEV', 'DeviceLock');
    const commands = (await admin('GET', '/mdm/commands?udid=CMD-DEV')).json.commands;
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ id: a.id, requestType: 'DeviceLock', history: [{ event: 'queued' }] });
  });
});
