/**
 * Simulated devices. A device enrolls, keeps its push channel open (the APNs courier on 5223, falling back
 * to 443; or FCM), pings every hour with 2–3 KB of status, and when woken runs a check-in session: Idle,
 * then one answer per command until the server has nothing left. What the network does to it (offline,
 * dropped connections, a blocked port) comes from the fault board.
 *
 * The behaviour is written against `DeviceEnv`, so the same device runs in process against the services
 * (the simulation at scale) or over real sockets against the harness servers.
 */
import type { Clock, Timer } from '../clock.js';
import { HOUR_MS, MINUTE_MS } from '../clock.js';
import type { ChannelMessage } from '../services/courier.js';
import type { FaultBoard, FaultDevice } from '../faults.js';
import type { CheckInStatus, MdmCommand, Platform } from '../services/mdm.js';
import type { Rng } from '../random.js';
import type { PlistDict } from '../plist.js';
import { answerCommand, isMalformed, SIMULATED_ERROR, type InstalledState } from './device-answers.js';

export interface DeviceProfile {
  udid: string;
  platform: Platform;
  /** Android only: has Google Play services, so it can be woken through FCM. */
  gcm: boolean;
  token?: string;
  pushMagic?: string;
  /** The MDM topic the device's enrollment profile names; it ignores pushes on any other. */
  topic?: string;
  fcmToken?: string;
}

export interface ExchangeReply {
  ok: boolean;
  command: MdmCommand | null;
}

/** What a device says on the ServerURL: its Status, the command it answers, and (over sockets) the answer's keys. */
export interface DeviceReport {
  status: CheckInStatus;
  commandUUID?: string;
  /** QueryResponses, ProfileList, ErrorChain, …: built only when the environment sends them (`fullAnswers`). */
  keys?: PlistDict;
}

/** A push channel connection; `close` ends it from the device side. */
export interface ChannelConnection {
  close(): void;
}

/** What a device can do on its network. Each call answers through its callback exactly once. */
export interface DeviceEnv {
  readonly clock: Clock;
  /**
   * Whether devices build each answer's keys (QueryResponses, ProfileList, …). Over sockets they do; in process
   * (100,000 devices) the server keeps no answers, so they are not built.
   */
  readonly fullAnswers: boolean;
  enroll(device: DeviceProfile, done: (ok: boolean) => void): void;
  /** Opens the courier on `port`; `done(null)` when it cannot be reached. `onClosed` when the far end drops it. */
  connectCourier(
    device: DeviceProfile,
    port: 5223 | 443,
    onPush: (m: ChannelMessage) => void,
    onClosed: () => void,
    done: (connection: ChannelConnection | null) => void,
  ): void;
  connectFcm(device: DeviceProfile, onMessage: (m: ChannelMessage) => void, onClosed: () => void, done: (connection: ChannelConnection | null) => void): void;
  checkIn(device: DeviceProfile, report: DeviceReport, done: (reply: ExchangeReply) => void): void;
  /** iOS status ping. */
  ping(device: DeviceProfile, bytes: number, done: (ok: boolean) => void): void;
  /** Android heartbeat: a ping that also returns the next command. */
  heartbeat(device: DeviceProfile, bytes: number, done: (reply: ExchangeReply) => void): void;
}

export interface DeviceTiming {
  heartbeatMs: number;
  /** After answering NotNow, the device comes back this much later. */
  notNowRetryMs: number;
  /** After a failed exchange (dropped connection), the device tries again this much later. */
  retryMs: number;
  /** How long a connection attempt to a blocked port takes to fail. */
  connectTimeoutMs: number;
  /** After a failed enrollment (the MDM server not reachable yet), the device enrolls again this much later. */
  enrollRetryMs: number;
}

export const DEFAULT_TIMING: DeviceTiming = {
  heartbeatMs: HOUR_MS,
  notNowRetryMs: 15 * MINUTE_MS,
  retryMs: MINUTE_MS,
  connectTimeoutMs: 10_000,
  enrollRetryMs: 5_000,
};

/** The documented hourly ping: 2–3 KB. */
export const PING_MIN_BYTES = 2048;
export const PING_MAX_BYTES = 3072;

export interface DeviceCounters {
  courier5223: number;
  courier443: number;
  fallbacksTo443: number;
  courierFailures: number;
  pushesReceived: number;
  /** Pushes the device discarded because they named a topic it is not enrolled for. */
  pushesIgnored: number;
  sessions: number;
  exchanges: number;
  exchangesDropped: number;
  pings: number;
  pingBytes: number;
  notNowsSent: number;
  errorsSent: number;
}

export function newDeviceCounters(): DeviceCounters {
  return {
    courier5223: 0,
    courier443: 0,
    fallbacksTo443: 0,
    courierFailures: 0,
    pushesReceived: 0,
    pushesIgnored: 0,
    sessions: 0,
    exchanges: 0,
    exchangesDropped: 0,
    pings: 0,
    pingBytes: 0,
    notNowsSent: 0,
    errorsSent: 0,
  };
}

/** What all devices of a fleet share. */
export interface DeviceContext {
  env: DeviceEnv;
  faults: FaultBoard;
  rng: Rng;
  timing: DeviceTiming;
  counters: DeviceCounters;
}

type Via = 'push' | 'heartbeat';

export class SimDevice implements FaultDevice {
  online = true;
  /** Courier port in use (iOS), if connected. */
  courierPort: 5223 | 443 | undefined;
  private channel: ChannelConnection | null = null;
  private connecting = false;
  private inSession = false;
  private again = false;
  private sawNotNow = false;
  private heartbeatTimer: Timer | undefined;
  private retryTimer: Timer | undefined;
  private reconnectTimer: Timer | undefined;
  private notNowGiven: Map<string, number> | undefined;
  private installed: InstalledState | undefined;
  private stopped = false;
  private offlineHolds = 0;

  constructor(
    readonly profile: DeviceProfile,
    private readonly ctx: DeviceContext,
  ) {}

  /**
   * Enrolls, opens the push channel and starts the hourly ping at a random phase. An enrollment that fails (an MDM
   * server of one's own that is not up yet) is tried again every `enrollRetryMs` until it succeeds or the device stops.
   */
  start(): void {
    const { env, rng, timing } = this.ctx;
    env.enroll(this.profile, (ok) => {
      if (this.stopped) return;
      if (!ok) {
        this.retryTimer = env.clock.setTimer(timing.enrollRetryMs, () => {
          this.retryTimer = undefined;
          this.start();
        });
        return;
      }
      this.openChannel();
      this.heartbeatTimer = env.clock.setTimer(rng.next() * timing.heartbeatMs, () => this.beat());
    });
  }

  /** Stops every timer and closes the channel (end of a run). */
  stop(): void {
    this.stopped = true;
    const clock = this.ctx.env.clock;
    for (const t of [this.heartbeatTimer, this.retryTimer, this.reconnectTimer]) if (t) clock.clearTimer(t);
    this.channel?.close();
    this.channel = null;
  }

  /**
   * Takes the device off the network. Windows of the offline fault may overlap: each `goOffline` is one hold,
   * and the device comes back when every hold is released by `goOnline`.
   */
  goOffline(): void {
    this.offlineHolds += 1;
    if (!this.online) return;
    this.online = false;
    const clock = this.ctx.env.clock;
    if (this.retryTimer) clock.clearTimer(this.retryTimer);
    if (this.reconnectTimer) clock.clearTimer(this.reconnectTimer);
    this.retryTimer = this.reconnectTimer = undefined;
    this.closeChannel();
  }

  goOnline(): void {
    if (this.offlineHolds > 0) this.offlineHolds -= 1;
    if (this.online || this.offlineHolds > 0) return;
    this.online = true;
    this.openChannel();
  }

  /** Drops the courier connection and connects again (a blocked port appearing on the path). */
  reconnectCourier(): void {
    if (this.profile.platform !== 'ios' || !this.channel) return;
    this.closeChannel();
    this.openChannel();
  }

  private closeChannel(): void {
    const c = this.channel;
    this.channel = null;
    this.courierPort = undefined;
    c?.close();
  }

  private openChannel(): void {
    if (!this.online || this.stopped || this.channel || this.connecting) return;
    const { env, counters } = this.ctx;
    const onClosed = (): void => {
      this.channel = null;
      this.courierPort = undefined;
      this.scheduleReconnect();
    };
    if (this.profile.platform === 'android') {
      if (!this.profile.gcm) return;
      this.connecting = true;
      env.connectFcm(this.profile, (m) => this.onPush(m), onClosed, (c) => this.connected(c, undefined));
      return;
    }
    this.connecting = true;
    env.connectCourier(this.profile, 5223, (m) => this.onPush(m), onClosed, (c) => {
      if (c) return this.connected(c, 5223);
      // 5223 unreachable: fall back to 443, as iOS does on Wi-Fi.
      env.connectCourier(this.profile, 443, (m) => this.onPush(m), onClosed, (c443) => {
        if (c443) counters.fallbacksTo443 += 1;
        this.connected(c443, 443);
      });
    });
  }

  private connected(connection: ChannelConnection | null, port: 5223 | 443 | undefined): void {
    this.connecting = false;
    if (!connection) {
      this.ctx.counters.courierFailures += 1;
      this.scheduleReconnect();
      return;
    }
    if (!this.online || this.stopped) {
      connection.close();
      return;
    }
    this.channel = connection;
    this.courierPort = port;
    if (port === 5223) this.ctx.counters.courier5223 += 1;
    if (port === 443) this.ctx.counters.courier443 += 1;
  }

  private scheduleReconnect(): void {
    if (!this.online || this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = this.ctx.env.clock.setTimer(this.ctx.timing.retryMs, () => {
      this.reconnectTimer = undefined;
      this.openChannel();
    });
  }

  private onPush(message: ChannelMessage): void {
    const { counters } = this.ctx;
    if (!this.online || this.stopped) return;
    counters.pushesReceived += 1;
    if (this.profile.platform === 'ios') {
      // A push on a topic this device's profile does not name is dropped, as iOS does.
      const wrongTopic = message.topic !== this.profile.topic;
      let magic: unknown;
      try {
        magic = (JSON.parse(message.payload) as { mdm?: unknown }).mdm;
      } catch {
        magic = undefined;
      }
      if (wrongTopic || magic !== this.profile.pushMagic) {
        counters.pushesIgnored += 1;
        return;
      }
    }
    this.startSession('push');
  }

  private beat(): void {
    const { env, timing } = this.ctx;
    this.heartbeatTimer = env.clock.setTimer(timing.heartbeatMs, () => this.beat());
    if (!this.online) return;
    if (this.profile.platform === 'ios') {
      const bytes = this.pingBytes();
      if (!this.dropped()) env.ping(this.profile, bytes, () => undefined);
      return;
    }
    this.startSession('heartbeat');
  }

  private pingBytes(): number {
    const bytes = this.ctx.rng.int(PING_MIN_BYTES, PING_MAX_BYTES);
    this.ctx.counters.pings += 1;
    this.ctx.counters.pingBytes += bytes;
    return bytes;
  }

  /** True when the connection for this exchange drops (the drop fault). */
  private dropped(): boolean {
    const p = this.ctx.faults.value('drop', this.ctx.env.clock.now());
    if (p === undefined || !this.ctx.rng.chance(p)) return false;
    this.ctx.counters.exchangesDropped += 1;
    return true;
  }

  private startSession(via: Via): void {
    if (!this.online || this.stopped) return;
    const { env } = this.ctx;
    if (this.inSession) {
      // A session is running: a heartbeat still reports status, and the session picks the commands up.
      if (via === 'heartbeat') {
        const bytes = this.pingBytes();
        if (!this.dropped()) env.ping(this.profile, bytes, () => undefined);
      } else {
        this.again = true;
      }
      return;
    }
    this.inSession = true;
    this.again = false;
    this.sawNotNow = false;
    this.ctx.counters.sessions += 1;
    if (via === 'heartbeat') {
      const bytes = this.pingBytes();
      this.ctx.counters.exchanges += 1;
      this.send(via, (done) => env.heartbeat(this.profile, bytes, done));
    } else {
      this.exchange({ status: 'Idle' }, via);
    }
  }

  private exchange(report: DeviceReport, via: Via): void {
    this.ctx.counters.exchanges += 1;
    this.send(via, (done) => this.ctx.env.checkIn(this.profile, report, done));
  }

  /** One request/answer over the network, through the drop fault. */
  private send(via: Via, call: (done: (reply: ExchangeReply) => void) => void): void {
    const { env, rng, timing } = this.ctx;
    if (this.dropped()) {
      // Half the drops lose the request, half lose the answer after the server acted on it.
      if (rng.chance(0.5)) env.clock.setTimer(timing.connectTimeoutMs, () => this.onReply({ ok: false, command: null }, via));
      else call(() => this.onReply({ ok: false, command: null }, via));
      return;
    }
    call((reply) => this.onReply(reply, via));
  }

  private onReply(reply: ExchangeReply, via: Via): void {
    if (this.stopped) return;
    if (!reply.ok || !this.online) return this.endSession(true, via);
    const command = reply.command;
    if (!command) return this.endSession(false, via);
    this.exchange(this.decide(command), via);
  }

  /**
   * The device's answer to a command: CommandFormatError when it is malformed, NotNow while the notnow fault asks
   * for more, Error now and then, else what the command asks for (device-answers.ts).
   */
  private decide(command: MdmCommand): DeviceReport {
    const { faults, env, rng, counters } = this.ctx;
    const now = env.clock.now();
    const commandUUID = command.CommandUUID;
    if (isMalformed(command)) return { status: 'CommandFormatError', commandUUID };
    const notNow = faults.value('notnow', now);
    if (notNow !== undefined) {
      this.notNowGiven ??= new Map();
      const given = this.notNowGiven.get(command.CommandUUID) ?? 0;
      if (given < notNow) {
        this.notNowGiven.set(command.CommandUUID, given + 1);
        this.sawNotNow = true;
        counters.notNowsSent += 1;
        return { status: 'NotNow', commandUUID };
      }
    }
    this.notNowGiven?.delete(command.CommandUUID);
    const errorRate = faults.value('command-error', now);
    if (errorRate !== undefined && rng.chance(errorRate)) {
      counters.errorsSent += 1;
      return { status: 'Error', commandUUID, ...(env.fullAnswers ? { keys: { ErrorChain: [SIMULATED_ERROR] } } : {}) };
    }
    if (!env.fullAnswers) return { status: 'Acknowledged', commandUUID };
    this.installed ??= { profiles: new Map(), apps: new Map() };
    const answer = answerCommand(this.profile, this.installed, command);
    if (answer.status === 'Error') counters.errorsSent += 1;
    return { status: answer.status, commandUUID, keys: answer.keys };
  }

  private endSession(failed: boolean, via: Via): void {
    this.inSession = false;
    const { timing } = this.ctx;
    // The device comes back the way it came: a heartbeat session retries as a heartbeat.
    if (failed) this.scheduleRetry(timing.retryMs, via);
    else if (this.sawNotNow) this.scheduleRetry(timing.notNowRetryMs, via);
    if (this.again) {
      this.again = false;
      this.startSession('push');
    }
  }

  private scheduleRetry(delayMs: number, via: Via): void {
    if (!this.online || this.stopped || this.retryTimer) return;
    this.retryTimer = this.ctx.env.clock.setTimer(delayMs, () => {
      this.retryTimer = undefined;
      this.startSession(via);
    });
  }
}
