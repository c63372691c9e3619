/**
 * Devices talking to the harness servers over real sockets: the courier over TLS, check-ins, pings and
 * heartbeats over HTTPS. Used by `simulate --speed X` and by devices added through the admin API.
 * Only the issuing of device tokens (which real devices get from APNs and FCM) is done in process.
 */
import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import type { ApnsService } from '../services/apns.js';
import type { FcmService } from '../services/fcm.js';
import { connectCourier } from '../services/courier.js';
import type { MdmCommand } from '../services/mdm.js';
import type { ChannelConnection, DeviceEnv, DeviceProfile, ExchangeReply } from '../fleet/devices.js';
import type { HostPort } from '../endpoints.js';

export interface SocketEnvOptions {
  clock: Clock;
  ca: string;
  apns: ApnsService;
  fcm: FcmService;
  mdm: HostPort;
  courier5223: HostPort;
  courier443: HostPort;
  fcmDevice: HostPort;
  timeoutMs?: number;
}

export class SocketEnv implements DeviceEnv {
  readonly clock: Clock;
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(private readonly o: SocketEnvOptions) {
    this.clock = o.clock;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.pool = new Pool(`https://${o.mdm.host}:${o.mdm.port}`, {
      connections: 16,
      connect: { ca: o.ca, servername: 'mdm.pushcheck.test' },
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private send(method: 'PUT' | 'POST', path: string, body: unknown): Promise<{ status: number; text: string }> {
    return this.pool
      .request({
        method,
        path,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      })
      .then(async (res) => ({ status: res.statusCode, text: await res.body.text() }));
  }

  private reply(p: Promise<{ status: number; text: string }>, done: (r: ExchangeReply) => void): void {
    p.then(({ status, text }) => {
      if (status !== 200) return done({ ok: false, command: null });
      done({ ok: true, command: text.trim() === '' ? null : (JSON.parse(text) as MdmCommand) });
    }).catch(() => done({ ok: false, command: null }));
  }

  enroll(device: DeviceProfile, done: (ok: boolean) => void): void {
    if (device.platform === 'ios') this.o.apns.registerToken(device.token!, device.topic!);
    else if (device.gcm) this.o.fcm.registerToken(device.fcmToken!);
    const body =
      device.platform === 'ios'
        ? { MessageType: 'TokenUpdate', UDID: device.udid, Token: device.token, PushMagic: device.pushMagic, Topic: device.topic }
        : { MessageType: 'TokenUpdate', UDID: device.udid, Platform: 'android', ...(device.gcm ? { FcmToken: device.fcmToken } : {}) };
    this.send('PUT', '/mdm/checkin', body)
      .then((r) => done(r.status === 200))
      .catch(() => done(false));
  }

  connectCourier(
    device: DeviceProfile,
    port: 5223 | 443,
    onPush: (m: { id: string; topic: string; payload: string }) => void,
    onClosed: () => void,
    done: (c: ChannelConnection | null) => void,
  ): void {
    const target = port === 5223 ? this.o.courier5223 : this.o.courier443;
    connectCourier({
      host: target.host,
      port: target.port,
      ca: this.o.ca,
      token: device.token!,
      onPush: (p) => onPush({ id: p.apnsId, topic: p.topic, payload: p.payload }),
      onClose: onClosed,
      timeoutMs: this.timeoutMs,
    }).then(
      (c) => done(c),
      () => done(null),
    );
  }

  connectFcm(
    device: DeviceProfile,
    onMessage: (m: { id: string; topic: string; payload: string }) => void,
    onClosed: () => void,
    done: (c: ChannelConnection | null) => void,
  ): void {
    connectCourier({
      host: this.o.fcmDevice.host,
      port: this.o.fcmDevice.port,
      ca: this.o.ca,
      servername: 'mtalk.google.com',
      token: device.fcmToken!,
      onPush: (p) => onMessage({ id: p.apnsId, topic: p.topic, payload: p.payload }),
      onClose: onClosed,
      timeoutMs: this.timeoutMs,
    }).then(
      (c) => done(c),
      () => done(null),
    );
  }

  checkIn(device: DeviceProfile, report: { status: string; commandUUID?: string }, done: (r: ExchangeReply) => void): void {
    this.reply(
      this.send('PUT', '/mdm/connect', { UDID: device.udid, Status: report.status, ...(report.commandUUID ? { CommandUUID: report.commandUUID } : {}) }),
      done,
    );
  }

  ping(device: DeviceProfile, bytes: number, done: (ok: boolean) => void): void {
    this.send('POST', '/ping', statusBody(device.udid, bytes))
      .then((r) => done(r.status === 204))
      .catch(() => done(false));
  }

  heartbeat(device: DeviceProfile, bytes: number, done: (r: ExchangeReply) => void): void {
    this.reply(this.send('POST', '/heartbeat', statusBody(device.udid, bytes)), done);
  }
}

/** A status report padded to `bytes` of JSON, as the 2–3 KB ping is. */
export function statusBody(udid: string, bytes: number): Record<string, string> {
  const base = JSON.stringify({ UDID: udid, Status: '' });
  return { UDID: udid, Status: 'x'.repeat(Math.max(0, bytes - Buffer.byteLength(base))) };
}
