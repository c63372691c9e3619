/**
 * Devices talking to the harness servers over real sockets: the courier over TLS, check-ins, pings and
 * heartbeats over HTTPS. Used by `simulate --speed X` and by devices added through the admin API.
 * Only the issuing of device tokens (which real devices get from APNs and FCM) is done in process.
 */
import { hostPort } from '../../host-port.js';
import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import type { ApnsService } from '../services/apns.js';
import type { FcmService } from '../services/fcm.js';
import { connectCourier } from '../services/courier.js';
import type { MdmCommand } from '../services/mdm.js';
import { CHECK_IN_CONTENT_TYPE, CONNECT_CONTENT_TYPE } from '../services/mdm-http.js';
import { decodePlistDict, encodePlistXml, type PlistDict } from '../plist.js';
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

/** What a simulated device puts in the ErrorChain of a command it fails (shaped as an iOS device's). */
const SIMULATED_ERROR: PlistDict = { ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: 'The simulated device failed the command.' };

export class SocketEnv implements DeviceEnv {
  readonly clock: Clock;
  private readonly pool: Pool;
  private readonly timeoutMs: number;

  constructor(private readonly o: SocketEnvOptions) {
    this.clock = o.clock;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.pool = new Pool(`https://${hostPort(o.mdm.host, o.mdm.port)}`, {
      connections: 16,
      connect: { ca: o.ca, servername: 'mdm.pushcheck.test' },
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** Check-in and command exchange speak Apple's protocol (XML plists); ping and heartbeat the harness's JSON. */
  private send(method: 'PUT' | 'POST', path: string, body: PlistDict): Promise<{ status: number; body: Buffer }> {
    const contentType = path === '/mdm/checkin' ? CHECK_IN_CONTENT_TYPE : path === '/mdm/connect' ? CONNECT_CONTENT_TYPE : 'application/json';
    return this.pool
      .request({
        method,
        path,
        headers: { 'content-type': contentType },
        body: contentType === 'application/json' ? JSON.stringify(body) : encodePlistXml(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      })
      .then(async (res) => ({ status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) }));
  }

  private reply(p: Promise<{ status: number; body: Buffer }>, done: (r: ExchangeReply) => void): void {
    p.then(({ status, body }) => {
      if (status !== 200) return done({ ok: false, command: null });
      done({ ok: true, command: body.length === 0 ? null : (decodePlistDict(body) as unknown as MdmCommand) });
    }).catch(() => done({ ok: false, command: null }));
  }

  enroll(device: DeviceProfile, done: (ok: boolean) => void): void {
    if (device.platform === 'ios') this.o.apns.registerToken(device.token!, device.topic!);
    else if (device.gcm) this.o.fcm.registerToken(device.fcmToken!);
    const who: PlistDict =
      device.platform === 'ios' ? { UDID: device.udid, Topic: device.topic! } : { UDID: device.udid, Platform: 'android' };
    const update: PlistDict =
      device.platform === 'ios'
        ? { ...who, MessageType: 'TokenUpdate', Token: Buffer.from(device.token!, 'hex'), PushMagic: device.pushMagic! }
        : { ...who, MessageType: 'TokenUpdate', ...(device.gcm ? { FcmToken: device.fcmToken! } : {}) };
    // Enrollment as a device does it: Authenticate, then TokenUpdate.
    this.send('PUT', '/mdm/checkin', { ...who, MessageType: 'Authenticate' })
      .then((r) => (r.status === 200 ? this.send('PUT', '/mdm/checkin', update) : r))
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
      this.send('PUT', '/mdm/connect', {
        UDID: device.udid,
        Status: report.status,
        ...(report.commandUUID ? { CommandUUID: report.commandUUID } : {}),
        ...(report.status === 'Error' ? { ErrorChain: [SIMULATED_ERROR] } : {}),
      }),
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
