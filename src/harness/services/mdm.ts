/**
 * The mock MDM server: enrollment, a command queue per device, the check-in/command exchange and an
 * action history per device. `MdmService` is the state machine as plain data and functions (the
 * simulation runs it in process); `startMdmServer` (mdm-http.ts) puts it behind HTTPS.
 *
 * An action moves  queued → delivered → acknowledged | error,  or back to queued on NotNow, or to expired.
 * A delivered command that is not answered is delivered again at the device's next check-in, and an
 * answer is accepted only for the command currently delivered, so none is acknowledged twice.
 */
import type { Clock, Timer } from '../clock.js';
import { HttpError } from '../http.js';
import { createRng, randomUuid, type Rng } from '../random.js';
import { plistToJson, type JsonValue, type PlistDict } from '../plist.js';
import { defaultCommandKeys } from './mdm-commands.js';

export type Platform = 'ios' | 'android';
/** How an action first reached its device. */
export type DeliveryPath = 'apns' | 'fcm' | 'heartbeat';
export const DELIVERY_PATHS: readonly DeliveryPath[] = ['apns', 'fcm', 'heartbeat'];
/** What a device reports at check-in (the MDM protocol's `Status`). */
export type CheckInStatus = 'Idle' | 'Acknowledged' | 'Error' | 'CommandFormatError' | 'NotNow';
export const CHECK_IN_STATUSES: readonly CheckInStatus[] = ['Idle', 'Acknowledged', 'Error', 'CommandFormatError', 'NotNow'];
/** `queued` includes actions a device answered NotNow; `delivered` means sent and not yet answered. */
export type ActionState = 'queued' | 'delivered' | 'acknowledged' | 'error' | 'expired';
export type HistoryEvent =
  | 'queued'
  | 'pushed'
  | 'push-accepted'
  | 'push-rejected'
  | 'delivered'
  | 'acknowledged'
  | 'error'
  | 'not-now'
  | 'expired';

export interface HistoryEntry {
  atMs: number;
  event: HistoryEvent;
  detail?: string;
}

/** One MDM command sent to one device, and everything that happened to it. */
export interface Action {
  /** The CommandUUID. */
  id: string;
  udid: string;
  requestType: string;
  /** The command's keys besides RequestType, when the caller gave them (else the defaults of mdm-commands.ts). */
  command?: PlistDict;
  /** What the device answered besides UDID, Status and CommandUUID (QueryResponses, ProfileList, …), as JSON. */
  response?: { [key: string]: JsonValue };
  state: ActionState;
  queuedAtMs: number;
  expiresAtMs: number;
  /** When it reached acknowledged, error or expired. */
  finishedAtMs?: number;
  path?: DeliveryPath;
  deliveries: number;
  notNows: number;
  history: HistoryEntry[];
  /** Session in which the device last said NotNow (not offered again in that session). */
  notNowSession: number;
  expiryTimer?: Timer;
}

export interface MdmDevice {
  udid: string;
  platform: Platform;
  /** APNs device token (hex), PushMagic and topic from the TokenUpdate (iOS). */
  token?: string;
  pushMagic?: string;
  topic?: string;
  /** FCM registration token (Android with Google Play services). */
  fcmToken?: string;
  enrolledAtMs: number;
  lastSeenAtMs?: number;
  /** Undelivered actions, oldest first. */
  queue: Action[];
  /** The action delivered and not yet answered. */
  inflight?: Action;
  session: number;
  /** What opened the current session: a push (or the device's own retry), or its heartbeat. */
  sessionVia: 'push' | 'heartbeat';
  pings: number;
  pingBytes: number;
  /** What caused the last accepted push: an action being queued, or the device's hourly ping. */
  lastPushCause?: 'action' | 'ping';
  lastPushRejection?: string;
  pushing: boolean;
  pushRetry?: Timer;
  /** APNs said 410 Unregistered: no more pushes until the device sends a new token (TokenUpdate). */
  unregistered?: boolean;
  /** After 403 or 429 the server waits before pushing on its own again (doubling, up to an hour). */
  pushBackoffMs?: number;
  pushBackoffUntilMs?: number;
  /** Every action ever queued for the device, in order. */
  actions: Action[];
}

/** The command a device receives: `CommandUUID` and `Command` with its `RequestType` and that type's keys. */
export interface MdmCommand {
  CommandUUID: string;
  Command: PlistDict & { RequestType: string };
}

/** What a device reports on the ServerURL: its status, the command it answers, and the answer's own keys. */
export interface CheckInReport {
  status: CheckInStatus;
  commandUUID?: string;
  errorChain?: string;
  /** The answer's keys besides UDID, Status, CommandUUID and ErrorChain (QueryResponses, ProfileList, …). */
  response?: PlistDict;
}

export interface PushResult {
  ok: boolean;
  status: number;
  reason?: string;
  /** 429, 5xx and network failures are retried; 4xx are not. */
  retryable: boolean;
}

/** How the MDM server reaches APNs or FCM. Calls `done` exactly once. */
export interface Pusher {
  push(device: MdmDevice, done: (result: PushResult) => void): void;
}

export interface MdmServiceOptions {
  clock: Clock;
  pusher?: Pusher;
  rng?: Rng;
  /** Delays before re-sending a push that failed with 429/5xx/network error. */
  pushRetryDelaysMs?: number[];
  /** How long an action may wait for an answer before it expires. */
  commandTtlMs?: number;
}

export interface MdmCounters {
  enqueued: number;
  deliveries: number;
  redeliveries: number;
  acknowledged: number;
  errors: number;
  notNows: number;
  expired: number;
  /** Answers for a command that was not the one delivered (late or repeated); ignored. */
  ignoredAnswers: number;
  pushesSent: number;
  pushesAccepted: number;
  pushesRejected: Record<string, number>;
  pushRetries: number;
  pings: number;
  pingBytes: number;
}

export const DEFAULT_PUSH_RETRY_DELAYS_MS = [60_000, 5 * 60_000, 15 * 60_000];
export const DEFAULT_COMMAND_TTL_MS = 7 * 86_400_000;
/** After a 403 or 429 the server's own pushes (for a new command, after a ping) wait this long, doubling each time. */
export const MIN_PUSH_BACKOFF_MS = 60_000;
export const MAX_PUSH_BACKOFF_MS = 3_600_000;

export class MdmService {
  readonly clock: Clock;
  pusher: Pusher | undefined;
  private readonly rng: Rng;
  readonly retryDelaysMs: number[];
  readonly commandTtlMs: number;
  readonly devices = new Map<string, MdmDevice>();
  readonly actions = new Map<string, Action>();
  /**
   * Actions with the default TTL expire in the order they were queued, so one timer for the oldest serves
   * them all (a fleet of 100,000 would otherwise keep 100,000 timers that never fire).
   */
  private readonly expiryQueue: Action[] = [];
  private expiryHead = 0;
  private expiryTimer: Timer | undefined;
  readonly counters: MdmCounters = {
    enqueued: 0,
    deliveries: 0,
    redeliveries: 0,
    acknowledged: 0,
    errors: 0,
    notNows: 0,
    expired: 0,
    ignoredAnswers: 0,
    pushesSent: 0,
    pushesAccepted: 0,
    pushesRejected: {},
    pushRetries: 0,
    pings: 0,
    pingBytes: 0,
  };

  constructor(options: MdmServiceOptions) {
    this.clock = options.clock;
    this.pusher = options.pusher;
    this.rng = options.rng ?? createRng(2);
    this.retryDelaysMs = options.pushRetryDelaysMs ?? DEFAULT_PUSH_RETRY_DELAYS_MS;
    this.commandTtlMs = options.commandTtlMs ?? DEFAULT_COMMAND_TTL_MS;
  }

  /**
   * Authenticate: a device starts (or restarts) its enrollment. Commands still waiting from an earlier
   * enrollment end as errors ("enrollment restarted"), and its push credentials are forgotten until TokenUpdate.
   */
  authenticate(udid: string, platform: Platform): MdmDevice {
    const device = this.enroll(udid, platform);
    this.abandon(device, 'enrollment restarted (Authenticate)');
    delete device.token;
    delete device.pushMagic;
    delete device.fcmToken;
    return device;
  }

  /** CheckOut: the device leaves management; what was waiting for it ends as errors. */
  checkOut(udid: string): void {
    const device = this.device(udid);
    this.abandon(device, 'device checked out');
    if (device.pushRetry) this.clock.clearTimer(device.pushRetry);
    this.devices.delete(udid);
  }

  /** Ends every queued and delivered command of a device as an error. */
  private abandon(device: MdmDevice, why: string): void {
    const now = this.clock.now();
    const waiting = [...device.queue, ...(device.inflight ? [device.inflight] : [])];
    device.queue = [];
    device.inflight = undefined;
    for (const action of waiting) {
      this.finish(action, 'error', now);
      this.counters.errors += 1;
      action.history.push({ atMs: now, event: 'error', detail: why });
    }
  }

  /** TokenUpdate: a device enrolls (or re-sends its push credentials). */
  enroll(
    udid: string,
    platform: Platform,
    credentials: { token?: string; pushMagic?: string; topic?: string; fcmToken?: string } = {},
  ): MdmDevice {
    let device = this.devices.get(udid);
    if (!device) {
      device = {
        udid,
        platform,
        enrolledAtMs: this.clock.now(),
        queue: [],
        session: 0,
        sessionVia: 'push',
        pings: 0,
        pingBytes: 0,
        pushing: false,
        actions: [],
      };
      this.devices.set(udid, device);
    }
    device.platform = platform;
    if (credentials.token !== undefined) {
      // A new token after 410 Unregistered: the device can be pushed to again.
      if (device.token !== credentials.token.toLowerCase()) delete device.unregistered;
      device.token = credentials.token.toLowerCase();
    }
    if (credentials.pushMagic !== undefined) device.pushMagic = credentials.pushMagic;
    if (credentials.topic !== undefined) device.topic = credentials.topic;
    if (credentials.fcmToken !== undefined) device.fcmToken = credentials.fcmToken;
    return device;
  }

  device(udid: string): MdmDevice {
    const device = this.devices.get(udid);
    if (!device) throw new HttpError(404, `device ${udid} is not enrolled`);
    return device;
  }

  /** Queues a command for a device and wakes it (APNs for iOS, FCM for Android with Google Play services). */
  enqueue(udid: string, requestType: string, options: { ttlMs?: number; id?: string; command?: PlistDict } = {}): Action {
    const device = this.device(udid);
    const now = this.clock.now();
    const action: Action = {
      id: options.id ?? randomUuid(this.rng),
      udid,
      requestType,
      ...(options.command ? { command: options.command } : {}),
      state: 'queued',
      queuedAtMs: now,
      expiresAtMs: now + (options.ttlMs ?? this.commandTtlMs),
      deliveries: 0,
      notNows: 0,
      history: [{ atMs: now, event: 'queued', detail: requestType }],
      notNowSession: -1,
    };
    if (options.ttlMs === undefined) {
      this.expiryQueue.push(action);
      if (!this.expiryTimer) this.armExpiry();
    } else {
      action.expiryTimer = this.clock.setTimer(action.expiresAtMs - now, () => this.expire(action));
    }
    this.actions.set(action.id, action);
    device.queue.push(action);
    device.actions.push(action);
    this.counters.enqueued += 1;
    this.push(device, 'action', 0);
    return action;
  }

  /** The hourly status ping of an iOS device (2–3 KB). Undelivered actions get a fresh push. */
  ping(udid: string, bytes: number): void {
    const device = this.device(udid);
    this.recordPing(device, bytes);
    if (device.queue.length > 0 || device.inflight) this.push(device, 'ping', 0);
  }

  /** The hourly heartbeat of an Android device: a ping and a check-in that picks up the next command. */
  heartbeat(udid: string, bytes: number): MdmCommand | null {
    const device = this.device(udid);
    this.recordPing(device, bytes);
    return this.checkIn(udid, { status: 'Idle' }, 'heartbeat');
  }

  /**
   * The check-in/command exchange. `Idle` opens a session; an answer closes the command it names (only if
   * it is the one delivered). Returns the next command, or null when there is nothing to do.
   * `via` (read with Idle, which opens a session) says what made the device connect: a push (or its own
   * retry) or its heartbeat; answers belong to the session they came in.
   */
  checkIn(udid: string, report: CheckInReport, via: 'push' | 'heartbeat' = 'push'): MdmCommand | null {
    const device = this.device(udid);
    const now = this.clock.now();
    device.lastSeenAtMs = now;
    if (report.status === 'Idle') {
      device.session += 1;
      device.sessionVia = via;
    } else {
      const action = report.commandUUID === undefined ? undefined : this.actions.get(report.commandUUID);
      if (!action || action.udid !== udid || device.inflight !== action) {
        this.counters.ignoredAnswers += 1;
      } else {
        device.inflight = undefined;
        this.answer(device, action, report.status, now, report.errorChain);
        if (report.response && Object.keys(report.response).length > 0) action.response = plistToJson(report.response) as { [key: string]: JsonValue };
      }
    }
    // A command delivered and never answered goes out again before anything new.
    const again = device.inflight;
    if (again) {
      again.deliveries += 1;
      this.counters.redeliveries += 1;
      again.history.push({ atMs: now, event: 'delivered', detail: 'again (no answer to the previous delivery)' });
      return commandOf(again);
    }
    const index = device.queue.findIndex((a) => a.notNowSession !== device.session);
    if (index < 0) return null;
    const action = device.queue.splice(index, 1)[0]!;
    action.state = 'delivered';
    action.deliveries += 1;
    action.path ??= this.pathFor(device, device.sessionVia);
    device.inflight = action;
    this.counters.deliveries += 1;
    action.history.push({ atMs: now, event: 'delivered', detail: `via ${action.path}` });
    return commandOf(action);
  }

  /** Why an action that is not finished is still waiting, in a few words. */
  pendingReason(action: Action): string {
    const device = this.devices.get(action.udid);
    if (action.state === 'delivered') return 'delivered, no answer yet';
    if (action.notNows > 0) return `device answered NotNow ${action.notNows}×, waiting for it to come back`;
    if (device?.lastPushRejection && device.platform === 'ios') return `push rejected: ${device.lastPushRejection}`;
    if (device?.platform === 'ios') {
      const accepted = action.history.some((h) => h.event === 'push-accepted');
      return accepted ? 'push accepted (200) but the device never checked in' : 'no push accepted yet';
    }
    if (!device?.fcmToken) return 'waiting for the next heartbeat (no Google Play services)';
    if (device.lastPushRejection) return `push rejected: ${device.lastPushRejection}; waiting for the next heartbeat`;
    return 'waiting for delivery';
  }

  private armExpiry(): void {
    const queue = this.expiryQueue;
    while (this.expiryHead < queue.length && queue[this.expiryHead]!.finishedAtMs !== undefined) this.expiryHead += 1;
    if (this.expiryHead > 1024 && this.expiryHead * 2 > queue.length) {
      queue.splice(0, this.expiryHead);
      this.expiryHead = 0;
    }
    const head = queue[this.expiryHead];
    if (!head) {
      this.expiryTimer = undefined;
      return;
    }
    this.expiryTimer = this.clock.setTimer(head.expiresAtMs - this.clock.now(), () => {
      const now = this.clock.now();
      while (this.expiryHead < queue.length && queue[this.expiryHead]!.expiresAtMs <= now) {
        this.expire(queue[this.expiryHead]!);
        this.expiryHead += 1;
      }
      this.armExpiry();
    });
  }

  /** Cancels timers (actions' expiry and push retries). */
  stop(): void {
    if (this.expiryTimer) this.clock.clearTimer(this.expiryTimer);
    this.expiryTimer = undefined;
    for (const a of this.actions.values()) if (a.expiryTimer) this.clock.clearTimer(a.expiryTimer);
    for (const d of this.devices.values()) if (d.pushRetry) this.clock.clearTimer(d.pushRetry);
  }

  private recordPing(device: MdmDevice, bytes: number): void {
    device.pings += 1;
    device.pingBytes += bytes;
    device.lastSeenAtMs = this.clock.now();
    this.counters.pings += 1;
    this.counters.pingBytes += bytes;
  }

  private pathFor(device: MdmDevice, via: 'push' | 'heartbeat'): DeliveryPath {
    if (via === 'heartbeat') return 'heartbeat';
    if (device.platform === 'android') return device.fcmToken ? 'fcm' : 'heartbeat';
    return device.lastPushCause === 'ping' ? 'heartbeat' : 'apns';
  }

  private answer(device: MdmDevice, action: Action, status: CheckInStatus, now: number, errorChain?: string): void {
    if (status === 'Acknowledged') {
      this.finish(action, 'acknowledged', now);
      this.counters.acknowledged += 1;
      action.history.push({ atMs: now, event: 'acknowledged' });
    } else if (status === 'Error' || status === 'CommandFormatError') {
      this.finish(action, 'error', now);
      this.counters.errors += 1;
      action.history.push({ atMs: now, event: 'error', detail: errorChain ? `${status}: ${errorChain}` : status });
    } else if (status === 'NotNow') {
      action.state = 'queued';
      action.notNows += 1;
      action.notNowSession = device.session;
      this.counters.notNows += 1;
      action.history.push({ atMs: now, event: 'not-now' });
      device.queue.unshift(action);
    }
  }

  private finish(action: Action, state: 'acknowledged' | 'error' | 'expired', now: number): void {
    action.state = state;
    action.finishedAtMs = now;
    if (action.expiryTimer) this.clock.clearTimer(action.expiryTimer);
    delete action.expiryTimer;
  }

  private expire(action: Action): void {
    delete action.expiryTimer;
    if (action.state !== 'queued' && action.state !== 'delivered') return;
    const device = this.devices.get(action.udid);
    if (device) {
      if (device.inflight === action) device.inflight = undefined;
      const i = device.queue.indexOf(action);
      if (i >= 0) device.queue.splice(i, 1);
    }
    const now = this.clock.now();
    this.finish(action, 'expired', now);
    this.counters.expired += 1;
    action.history.push({ atMs: now, event: 'expired' });
  }

  /** Sends one wake-up push for the device's undelivered actions; retries 429/5xx on a schedule. */
  private push(device: MdmDevice, cause: 'action' | 'ping', attempt: number): void {
    const pusher = this.pusher;
    if (!pusher) return;
    if (device.platform === 'android' && !device.fcmToken) return;
    if (device.platform === 'ios' && !device.token) return;
    if (device.pushing || (device.pushRetry && attempt === 0)) return;
    if (device.unregistered) return;
    if (attempt === 0 && device.pushBackoffUntilMs !== undefined && this.clock.now() < device.pushBackoffUntilMs) return;
    const waiting = device.queue.slice();
    if (waiting.length === 0 && !device.inflight) return;
    const now = this.clock.now();
    const detail = attempt === 0 ? (cause === 'ping' ? 'after hourly ping' : undefined) : `retry ${attempt}`;
    for (const a of waiting) a.history.push(detail ? { atMs: now, event: 'pushed', detail } : { atMs: now, event: 'pushed' });
    device.pushing = true;
    this.counters.pushesSent += 1;
    pusher.push(device, (result) => {
      device.pushing = false;
      const at = this.clock.now();
      if (result.ok) {
        device.lastPushCause = cause;
        delete device.lastPushRejection;
        delete device.pushBackoffMs;
        delete device.pushBackoffUntilMs;
        this.counters.pushesAccepted += 1;
        for (const a of waiting) if (a.state === 'queued') a.history.push({ atMs: at, event: 'push-accepted' });
        return;
      }
      const why = `${result.status}${result.reason ? ` ${result.reason}` : ''}`;
      device.lastPushRejection = why;
      this.counters.pushesRejected[why] = (this.counters.pushesRejected[why] ?? 0) + 1;
      for (const a of waiting) if (a.state === 'queued') a.history.push({ atMs: at, event: 'push-rejected', detail: why });
      // As a real MDM server must: stop pushing to a token APNs calls Unregistered, back off after 403 and 429.
      if (result.status === 410) {
        device.unregistered = true;
        return;
      }
      if (result.status === 403 || result.status === 429) {
        device.pushBackoffMs = Math.min(Math.max(MIN_PUSH_BACKOFF_MS, (device.pushBackoffMs ?? 0) * 2), MAX_PUSH_BACKOFF_MS);
        device.pushBackoffUntilMs = at + device.pushBackoffMs;
      }
      const delay = this.retryDelaysMs[attempt];
      if (result.retryable && delay !== undefined) {
        this.counters.pushRetries += 1;
        device.pushRetry = this.clock.setTimer(delay, () => {
          delete device.pushRetry;
          this.push(device, cause, attempt + 1);
        });
      }
    });
  }
}

/** The command plist of an action: its keys (or its type's defaults) and its RequestType. */
function commandOf(action: Action): MdmCommand {
  return { CommandUUID: action.id, Command: { ...(action.command ?? defaultCommandKeys(action.requestType)), RequestType: action.requestType } };
}

/** A JSON summary of an action, for the admin API and reports. */
export function actionView(action: Action): Omit<Action, 'expiryTimer' | 'command'> & { command: { [key: string]: JsonValue } } {
  const { expiryTimer: _t, command: _c, ...rest } = action;
  return { ...rest, command: plistToJson(commandOf(action).Command) as { [key: string]: JsonValue } };
}
