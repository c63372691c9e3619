/**
 * Devices talking to the services by function call, with network delays taken from the seeded source and
 * played on the clock. This is how the simulation runs 100,000 devices: no sockets, one event queue.
 */
import type { Clock } from '../clock.js';
import type { ApnsService } from '../services/apns.js';
import type { FcmService } from '../services/fcm.js';
import type { MdmService } from '../services/mdm.js';
import { HttpError } from '../http.js';
import type { FaultBoard } from '../faults.js';
import type { Rng } from '../random.js';
import type { ChannelConnection, DeviceEnv, DeviceProfile, DeviceReport, DeviceTiming, ExchangeReply } from '../fleet/devices.js';

export interface InProcessEnvOptions {
  clock: Clock;
  mdm: MdmService;
  apns: ApnsService;
  fcm: FcmService;
  faults: FaultBoard;
  rng: Rng;
  timing: DeviceTiming;
  /** One-way network delay range, ms. */
  latencyMs?: [number, number];
  /** Delay from APNs/FCM accepting a push to the device having it, ms. */
  pushLatencyMs?: [number, number];
}

export class InProcessEnv implements DeviceEnv {
  readonly clock: Clock;
  readonly fullAnswers = false;
  private readonly o: InProcessEnvOptions;
  private readonly latency: [number, number];
  private readonly pushLatency: [number, number];

  constructor(options: InProcessEnvOptions) {
    this.o = options;
    this.clock = options.clock;
    this.latency = options.latencyMs ?? [20, 120];
    this.pushLatency = options.pushLatencyMs ?? [100, 1500];
  }

  private delay([min, max]: [number, number]): number {
    return this.o.rng.int(min, max);
  }

  enroll(device: DeviceProfile, done: (ok: boolean) => void): void {
    const { apns, fcm, mdm } = this.o;
    if (device.platform === 'ios') {
      apns.registerToken(device.token!, device.topic!);
      mdm.enroll(device.udid, 'ios', { token: device.token!, pushMagic: device.pushMagic!, topic: device.topic! });
    } else {
      if (device.gcm) fcm.registerToken(device.fcmToken!);
      mdm.enroll(device.udid, 'android', device.gcm ? { fcmToken: device.fcmToken! } : {});
    }
    done(true);
  }

  connectCourier(
    device: DeviceProfile,
    port: 5223 | 443,
    onPush: (m: { id: string; topic: string; payload: string }) => void,
    _onClosed: () => void,
    done: (c: ChannelConnection | null) => void,
  ): void {
    const { clock, faults, apns, timing } = this.o;
    if (port === 5223 && faults.isOn('block-5223', clock.now())) {
      clock.setTimer(timing.connectTimeoutMs, () => done(null));
      return;
    }
    clock.setTimer(this.delay(this.latency) * 3, () => {
      const disconnect = apns.connect(device.token!, (n) => {
        clock.setTimer(this.delay(this.pushLatency), () => onPush({ id: n.apnsId, topic: n.topic, payload: n.payload }));
      });
      done({ close: disconnect });
    });
  }

  connectFcm(
    device: DeviceProfile,
    onMessage: (m: { id: string; topic: string; payload: string }) => void,
    _onClosed: () => void,
    done: (c: ChannelConnection | null) => void,
  ): void {
    const { clock, fcm } = this.o;
    clock.setTimer(this.delay(this.latency) * 3, () => {
      const disconnect = fcm.connect(device.fcmToken!, (m) => {
        clock.setTimer(this.delay(this.pushLatency), () => onMessage({ id: m.id, topic: 'fcm', payload: JSON.stringify(m.data) }));
      });
      done({ close: disconnect });
    });
  }

  checkIn(device: DeviceProfile, report: DeviceReport, done: (reply: ExchangeReply) => void): void {
    const { clock, mdm } = this.o;
    const { status, commandUUID } = report;
    // Request and answer each take one network delay; the server acts in between.
    clock.setTimer(this.delay(this.latency), () => {
      const reply = this.call(() => mdm.checkIn(device.udid, commandUUID === undefined ? { status } : { status, commandUUID }, 'push'));
      clock.setTimer(this.delay(this.latency), () => done(reply));
    });
  }

  ping(device: DeviceProfile, bytes: number, done: (ok: boolean) => void): void {
    // Nothing waits on the answer to a ping, so it costs no event of its own.
    this.o.mdm.ping(device.udid, bytes);
    done(true);
  }

  heartbeat(device: DeviceProfile, bytes: number, done: (reply: ExchangeReply) => void): void {
    const reply = this.call(() => this.o.mdm.heartbeat(device.udid, bytes));
    this.o.clock.setTimer(this.delay(this.latency) * 2, () => done(reply));
  }

  private call(fn: () => ExchangeReply['command']): ExchangeReply {
    try {
      return { ok: true, command: fn() };
    } catch (err) {
      if (err instanceof HttpError) return { ok: false, command: null };
      throw err;
    }
  }
}
