import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/harness/clock.js';
import { MdmService, MIN_PUSH_BACKOFF_MS, type Pusher, type PushResult } from '../../src/harness/services/mdm.js';

const T0 = Date.UTC(2025, 0, 1);

function setup(results: PushResult[] = [], options: { ttlMs?: number; retries?: number[] } = {}) {
  const clock = new VirtualClock(T0);
  const pushes: string[] = [];
  const pusher: Pusher = {
    push(device, done) {
      pushes.push(device.udid);
      done(results.shift() ?? { ok: true, status: 200, retryable: false });
    },
  };
  const mdm = new MdmService({
    clock,
    pusher,
    ...(options.ttlMs ? { commandTtlMs: options.ttlMs } : {}),
    pushRetryDelaysMs: options.retries ?? [60_000, 300_000],
  });
  mdm.enroll('dev1', 'ios', { token: 'ab'.repeat(32), pushMagic: 'magic', topic: 'com.apple.mgmt.External.x' });
  return { clock, mdm, pushes };
}

const events = (history: Array<{ event: string }>): string[] => history.map((h) => h.event);

describe('MDM command state machine', () => {
  it('push → check-in → acknowledge, every transition timestamped', () => {
    const { clock, mdm, pushes } = setup();
    const action = mdm.enqueue('dev1', 'DeviceLock', { command: { Message: 'Call IT', PhoneNumber: '+1 555 0199' } });
    expect(pushes).toEqual(['dev1']);
    clock.advance(2000);
    const cmd = mdm.checkIn('dev1', { status: 'Idle' });
    expect(cmd).toEqual({ CommandUUID: action.id, Command: { RequestType: 'DeviceLock', Message: 'Call IT', PhoneNumber: '+1 555 0199' } });
    expect(action.state).toBe('delivered');
    clock.advance(500);
    expect(mdm.checkIn('dev1', { status: 'Acknowledged', commandUUID: action.id, response: { MessageResult: 'Success' } })).toBeNull();
    expect(action.state).toBe('acknowledged');
    expect(action.response).toEqual({ MessageResult: 'Success' });
    expect(action.path).toBe('apns');
    expect(events(action.history)).toEqual(['queued', 'pushed', 'push-accepted', 'delivered', 'acknowledged']);
    expect(action.history.map((h) => h.atMs - T0)).toEqual([0, 0, 0, 2000, 2500]);
    expect(action.finishedAtMs).toBe(T0 + 2500);
  });

  it('NotNow puts the command back; it is not offered again in the same session, but is in the next', () => {
    const { mdm } = setup();
    const a = mdm.enqueue('dev1', 'InstallApplication');
    const b = mdm.enqueue('dev1', 'ProfileList');
    expect(mdm.checkIn('dev1', { status: 'Idle' })?.CommandUUID).toBe(a.id);
    // NotNow on a: the server moves on to b in this session.
    expect(mdm.checkIn('dev1', { status: 'NotNow', commandUUID: a.id })?.CommandUUID).toBe(b.id);
    expect(mdm.checkIn('dev1', { status: 'Acknowledged', commandUUID: b.id })).toBeNull();
    expect(a.state).toBe('queued');
    // Next session: a again.
    expect(mdm.checkIn('dev1', { status: 'Idle' })?.CommandUUID).toBe(a.id);
    expect(mdm.checkIn('dev1', { status: 'Acknowledged', commandUUID: a.id })).toBeNull();
    expect(events(a.history).filter((e) => e === 'delivered' || e === 'not-now' || e === 'acknowledged')).toEqual([
      'delivered',
      'not-now',
      'delivered',
      'acknowledged',
    ]);
    expect(a.notNows).toBe(1);
    expect(mdm.counters.acknowledged).toBe(2);
  });

  it('a command delivered but not answered is delivered again, and acknowledged only once', () => {
    const { mdm } = setup();
    const a = mdm.enqueue('dev1', 'DeviceInformation');
    expect(mdm.checkIn('dev1', { status: 'Idle' })?.CommandUUID).toBe(a.id);
    // The answer never arrives; the device comes back with Idle.
    expect(mdm.checkIn('dev1', { status: 'Idle' })?.CommandUUID).toBe(a.id);
    expect(a.deliveries).toBe(2);
    expect(mdm.checkIn('dev1', { status: 'Acknowledged', commandUUID: a.id })).toBeNull();
    // A late duplicate answer is ignored.
    expect(mdm.checkIn('dev1', { status: 'Acknowledged', commandUUID: a.id })).toBeNull();
    expect(events(a.history).filter((e) => e === 'acknowledged')).toHaveLength(1);
    expect(mdm.counters.redeliveries).toBe(1);
    expect(mdm.counters.ignoredAnswers).toBe(1);
  });

  it('Error and CommandFormatError finish the action as failed', () => {
    const { mdm } = setup();
    const a = mdm.enqueue('dev1', 'InstallProfile');
    const b = mdm.enqueue('dev1', 'InstallProfile');
    mdm.checkIn('dev1', { status: 'Idle' });
    mdm.checkIn('dev1', { status: 'Error', commandUUID: a.id });
    mdm.checkIn('dev1', { status: 'CommandFormatError', commandUUID: b.id });
    expect([a.state, b.state]).toEqual(['error', 'error']);
    expect(b.history.at(-1)).toMatchObject({ event: 'error', detail: 'CommandFormatError' });
  });

  it('a command nobody answers expires at its TTL and is not delivered afterwards', () => {
    const { clock, mdm } = setup([], { ttlMs: 3_600_000 });
    const a = mdm.enqueue('dev1', 'DeviceLock');
    clock.advance(3_600_000);
    expect(a.state).toBe('expired');
    expect(a.finishedAtMs).toBe(T0 + 3_600_000);
    expect(mdm.checkIn('dev1', { status: 'Idle' })).toBeNull();
    expect(events(a.history).at(-1)).toBe('expired');
  });

  it('retries a push rejected with 503 on its schedule, but not one rejected with 403', () => {
    const { clock, mdm, pushes } = setup([
      { ok: false, status: 503, reason: 'ServiceUnavailable', retryable: true },
      { ok: true, status: 200, retryable: false },
    ]);
    const a = mdm.enqueue('dev1', 'DeviceLock');
    expect(pushes).toHaveLength(1);
    clock.advance(59_999);
    expect(pushes).toHaveLength(1);
    clock.advance(1);
    expect(pushes).toHaveLength(2);
    expect(events(a.history)).toEqual(['queued', 'pushed', 'push-rejected', 'pushed', 'push-accepted']);
    expect(a.history[2]?.detail).toBe('503 ServiceUnavailable');

    const other = setup([{ ok: false, status: 403, reason: 'BadCertificate', retryable: false }]);
    const b = other.mdm.enqueue('dev1', 'DeviceLock');
    other.clock.advance(3_600_000);
    expect(other.pushes).toHaveLength(1);
    expect(other.mdm.pendingReason(b)).toBe('push rejected: 403 BadCertificate');
  });

  it('an hourly ping re-pushes undelivered actions (once a 403 back-off is over); a delivery after it counts as heartbeat pickup', () => {
    const { clock, mdm, pushes } = setup([{ ok: false, status: 403, reason: 'BadCertificate', retryable: false }]);
    const a = mdm.enqueue('dev1', 'DeviceLock');
    mdm.ping('dev1', 2500);
    expect(pushes).toHaveLength(1);
    clock.advance(MIN_PUSH_BACKOFF_MS);
    mdm.ping('dev1', 2500);
    expect(pushes).toHaveLength(2);
    mdm.checkIn('dev1', { status: 'Idle' });
    expect(a.path).toBe('heartbeat');
    expect(mdm.counters.pingBytes).toBe(5000);
  });

  it('after 410 Unregistered it stops pushing to the device until a new token; after 403 and 429 it backs off, doubling', () => {
    const gone = { ok: false, status: 410, reason: 'Unregistered', retryable: false };
    const { clock, mdm, pushes } = setup([gone]);
    mdm.enqueue('dev1', 'DeviceLock');
    expect(pushes).toHaveLength(1);
    clock.advance(2 * 3_600_000);
    mdm.ping('dev1', 2048);
    mdm.enqueue('dev1', 'ProfileList');
    expect(pushes).toHaveLength(1);
    mdm.enroll('dev1', 'ios', { token: 'cd'.repeat(32) });
    mdm.ping('dev1', 2048);
    expect(pushes).toHaveLength(2);

    const throttled = { ok: false, status: 429, reason: 'TooManyRequests', retryable: false };
    const b = setup([throttled, throttled]);
    b.mdm.enqueue('dev1', 'DeviceLock');
    b.clock.advance(MIN_PUSH_BACKOFF_MS - 1);
    b.mdm.ping('dev1', 2048);
    expect(b.pushes).toHaveLength(1);
    b.clock.advance(1);
    b.mdm.ping('dev1', 2048);
    expect(b.pushes).toHaveLength(2);
    // The second 429 doubles the wait.
    b.clock.advance(MIN_PUSH_BACKOFF_MS);
    b.mdm.ping('dev1', 2048);
    expect(b.pushes).toHaveLength(2);
    b.clock.advance(MIN_PUSH_BACKOFF_MS);
    b.mdm.ping('dev1', 2048);
    expect(b.pushes).toHaveLength(3);
  });

  it('Authenticate restarts an enrollment (what waited ends as an error); CheckOut ends the device; ErrorChain is kept', () => {
    const { mdm } = setup();
    const a = mdm.enqueue('dev1', 'DeviceLock');
    mdm.authenticate('dev1', 'ios');
    expect(a.state).toBe('error');
    expect(a.history.at(-1)?.detail).toBe('enrollment restarted (Authenticate)');
    mdm.enroll('dev1', 'ios', { token: 'ab'.repeat(32), pushMagic: 'm', topic: 't' });
    const b = mdm.enqueue('dev1', 'ProfileList');
    mdm.checkIn('dev1', { status: 'Idle' });
    mdm.checkIn('dev1', { status: 'Error', commandUUID: b.id, errorChain: 'MCMDMErrorDomain 12021: failed' });
    expect(b.history.at(-1)).toMatchObject({ event: 'error', detail: 'Error: MCMDMErrorDomain 12021: failed' });
    const c = mdm.enqueue('dev1', 'DeviceLock');
    mdm.checkOut('dev1');
    expect(c.state).toBe('error');
    expect(mdm.devices.has('dev1')).toBe(false);
  });

  it('Android without Google Play services gets nothing pushed and picks up at its heartbeat', () => {
    const { mdm, pushes } = setup();
    mdm.enroll('and1', 'android');
    const a = mdm.enqueue('and1', 'DeviceLock');
    expect(pushes).toEqual([]);
    expect(mdm.heartbeat('and1', 2048)?.CommandUUID).toBe(a.id);
    expect(a.path).toBe('heartbeat');
  });
});
