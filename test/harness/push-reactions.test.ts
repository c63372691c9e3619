/**
 * What the harness's MDM server does with APNs's answers, over real sockets: the mock APNs is told what to answer
 * (scripted answers on the admin API) and its record of requests shows what the server sent. As a real MDM server
 * must, it stops pushing to a token APNs calls Unregistered (410), waits before pushing again after 403 and 429, and
 * under the wrong-topic fault gets what APNs answers a push on a topic it may not use.
 * The clock runs 30× (a simulated minute in 2 s), so a back-off of a simulated minute is seen whole in a test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaledClock, startHarness, type Harness } from '../../src/harness/index.js';
import { MIN_PUSH_BACKOFF_MS, type Action } from '../../src/harness/services/mdm.js';
import { adminClient, enrolledIosDevice, waitFor } from './helpers.js';

const SPEED = 30;
const HOUR_MS = 3_600_000;

interface Recorded {
  atMs: number;
  topic: string;
  answer: { status: number; reason?: string };
}

describe('the harness MDM server reacts to APNs answers as a real server must', () => {
  const clock = new ScaledClock(SPEED);
  let h: Harness;
  const client = adminClient(() => h.endpoints.admin.port);
  const admin = async (method: string, path: string, body?: unknown): Promise<any> => (await client(method, path, body)).json;
  const pushesTo = async (token: string): Promise<Recorded[]> => (await admin('GET', `/apns/notifications?token=${token}`)).notifications;
  const enqueue = async (udid: string): Promise<Action> => h.mdm.actions.get((await admin('POST', '/actions', { udid })).actions[0].id)!;
  const has = (action: Action, event: string): boolean => action.history.some((e) => e.event === event);
  /** Waits `simulatedMs` of the harness's clock. */
  const sleep = (simulatedMs: number): Promise<void> => new Promise((r) => setTimeout(r, simulatedMs / SPEED));

  /**
   * A device whose first push APNs answers with `reason`; then a second command is queued and the device pings,
   * each of which would make a server that ignores APNs's answer push again at once.
   */
  const firstPushAnswered = async (reason: string) => {
    const { udid, token } = await enrolledIosDevice(h);
    await admin('POST', '/apns/script', { token, reason });
    const first = await enqueue(udid);
    await waitFor(() => has(first, 'push-rejected'), 5000, `the answer ${reason}`);
    // How long the server's own pushes now wait (≤ 0: no back-off).
    const backoffLeftMs = (h.mdm.device(udid).pushBackoffUntilMs ?? 0) - clock.now();
    const second = await enqueue(udid);
    h.mdm.ping(udid, 2048);
    return { udid, token, first, second, backoffLeftMs };
  };

  beforeAll(async () => {
    // No hourly ping during the test (it would make the server push on its own): pings are sent by the test.
    h = await startHarness({ clock, timing: { heartbeatMs: 1000 * HOUR_MS }, pushRetryDelaysMs: [MIN_PUSH_BACKOFF_MS] });
  });
  afterAll(async () => {
    await h?.close();
    clock.clearAll();
  });

  it('410 Unregistered: no push to that token again, whatever is queued or pinged', async () => {
    const { udid, token, first, second } = await firstPushAnswered('Unregistered');
    await sleep(2 * MIN_PUSH_BACKOFF_MS);
    h.mdm.ping(udid, 2048);
    expect((await pushesTo(token)).map((p) => p.answer.status)).toEqual([410]);
    expect([first.state, second.state]).toEqual(['queued', 'queued']);
    expect(h.mdm.pendingReason(second)).toBe('push rejected: 410 Unregistered');
  });

  it('403: its own pushes wait a minute (no push for a new command or a ping meanwhile), then go out again', async () => {
    const { udid, token, first, second, backoffLeftMs } = await firstPushAnswered('BadCertificate');
    expect(backoffLeftMs).toBeGreaterThan(0);
    expect((await pushesTo(token)).map((p) => p.answer.status)).toEqual([403]);
    // After the back-off the next ping pushes again; APNs accepts and the device fetches both commands.
    await waitFor(() => clock.now() >= h.mdm.device(udid).pushBackoffUntilMs!, 10_000, 'the end of the back-off');
    h.mdm.ping(udid, 2048);
    await waitFor(() => first.state === 'acknowledged' && second.state === 'acknowledged', 10_000, 'both acknowledged');
    const pushes = await pushesTo(token);
    expect(pushes.map((p) => p.answer.status)).toEqual([403, 200]);
    expect(pushes[1]!.atMs - pushes[0]!.atMs).toBeGreaterThanOrEqual(MIN_PUSH_BACKOFF_MS);
  });

  it('429: the push is tried again after the retry delay, not before, and nothing else is pushed meanwhile', async () => {
    const { udid, token, first, second, backoffLeftMs } = await firstPushAnswered('TooManyRequests');
    expect(backoffLeftMs).toBeGreaterThan(0);
    await waitFor(() => first.state === 'acknowledged' && second.state === 'acknowledged', 15_000, 'both acknowledged after the retry');
    const pushes = await pushesTo(token);
    expect(pushes.map((p) => `${p.answer.status}${p.answer.reason ? ` ${p.answer.reason}` : ''}`)).toEqual(['429 TooManyRequests', '200']);
    expect(pushes[1]!.atMs - pushes[0]!.atMs).toBeGreaterThanOrEqual(MIN_PUSH_BACKOFF_MS);
    expect(first.history.map((e) => e.detail ?? e.event)).toContain('retry 1');
    // A success ends the back-off.
    expect(h.mdm.device(udid).pushBackoffUntilMs).toBeUndefined();
  });
});

describe('wrong-topic with token authentication', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ auth: 'token' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the push goes to the mock APNs on another topic, which answers 400 DeviceTokenNotForTopic (a key may push to any topic of its team)', async () => {
    const [d] = h.addDevices({ ios: 1 });
    const udid = d!.profile.udid;
    await waitFor(() => h.mdm.devices.get(udid)?.token !== undefined, 10_000, 'enrollment');
    h.faults.set('wrong-topic');
    const action = h.mdm.enqueue(udid, 'DeviceLock');
    await waitFor(() => action.history.some((e) => e.event === 'push-rejected'), 5000, 'the rejection');
    h.faults.clear('wrong-topic');
    expect(action.history.find((e) => e.event === 'push-rejected')?.detail).toBe('400 DeviceTokenNotForTopic');
    const [sent] = h.apns.traffic!.list('apns', { token: d!.profile.token! });
    expect(sent).toMatchObject({ answer: { status: 400, reason: 'DeviceTokenNotForTopic' } });
    expect(sent!.topic).not.toBe(h.mdmTopic);
    expect(sent!.headers.authorization).toMatch(/^bearer /);
  });
});
