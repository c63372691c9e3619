/** The mock FCM over real HTTPS (undici, HTTP/1.1) and HTTP/2: HTTP v1 messages:send and its error codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { connectCourier } from '../../src/harness/services/courier.js';
import { h2connect, h2request, waitFor } from './helpers.js';

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
