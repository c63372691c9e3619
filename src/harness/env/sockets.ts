/**
 * Devices talking to the harness servers over real sockets: the courier over TLS, check-ins, pings and
 * heartbeats over HTTPS. Used by `simulate --speed X` and by devices added through the admin API.
 * Only the issuing of device tokens (which real devices get from APNs and FCM) is done in process.
 *
 * With an MDM server of the user's own (`ownMdm`, `--mdm-url`), iOS devices check in and exchange commands there
 * instead, and send it nothing else: the hourly status ping is the harness's own route, not Apple's protocol.
 * Android devices stay with the harness's server (Apple's protocol has no Android).
 */
import { hostPort } from '../../host-port.js';
import { deviceTrustingContext } from '../../trust.js';
import { Agent, Pool, request, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { ApnsService } from '../services/apns.js';
import type { FcmService } from '../services/fcm.js';
import { connectCourier } from '../services/courier.js';
import type { MdmCommand } from '../services/mdm.js';
import { CHECK_IN_CONTENT_TYPE, CONNECT_CONTENT_TYPE } from '../services/mdm-http.js';
import { decodePlistDict, encodePlistXml, type PlistDict } from '../plist.js';
import type { ChannelConnection, DeviceEnv, DeviceProfile, DeviceReport, ExchangeReply } from '../fleet/devices.js';
import type { HostPort } from '../endpoints.js';
import type { OwnMdmServer } from '../own-mdm.js';

export interface SocketEnvOptions {
  clock: Clock;
  ca: string;
  apns: ApnsService;
  fcm: FcmService;
  mdm: HostPort;
  courier5223: HostPort;
  courier443: HostPort;
  fcmDevice: HostPort;
  /** An MDM server of the user's own for the iOS devices (see the top of this file). */
  ownMdm?: OwnMdmServer;
  timeoutMs?: number;
}

type Route = 'checkin' | 'connect' | 'ping' | 'heartbeat';

/** Where a request goes: the harness's MDM server (pooled) or the user's own. */
interface Target {
  url: string;
  dispatcher: Dispatcher;
}

const CONTENT_TYPES: Record<Route, string> = {
  checkin: CHECK_IN_CONTENT_TYPE,
  connect: CONNECT_CONTENT_TYPE,
  ping: 'application/json',
  heartbeat: 'application/json',
};

/** A command as a device reads it: a dictionary with a CommandUUID; anything else is no command at all. */
function readCommand(body: Buffer): MdmCommand | null {
  if (body.length === 0) return null;
  const dict = decodePlistDict(body);
  if (typeof dict.CommandUUID !== 'string' || dict.CommandUUID === '') throw new Error('a command without CommandUUID');
  return dict as unknown as MdmCommand;
}

export class SocketEnv implements DeviceEnv {
  readonly clock: Clock;
  readonly fullAnswers = true;
  private readonly pool: Pool;
  private readonly own: Agent | undefined;
  private readonly timeoutMs: number;
  private readonly harnessOrigin: string;

  constructor(private readonly o: SocketEnvOptions) {
    this.clock = o.clock;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.harnessOrigin = `https://${hostPort(o.mdm.host, o.mdm.port)}`;
    this.pool = new Pool(this.harnessOrigin, {
      connections: 16,
      connect: { ca: o.ca, servername: 'mdm.pushcheck.test' },
    });
    // The user's server may present a certificate from a public CA, from the harness's CA, or from one of its own
    // (--mdm-ca); not from one only this machine trusts (NODE_EXTRA_CA_CERTS): see deviceTrustingContext.
    if (o.ownMdm) this.own = new Agent({ connections: 16, connect: { secureContext: deviceTrustingContext([o.ca, ...(o.ownMdm.ca ?? [])]) } });
  }

  /**
   * Called once the devices have stopped, so no answer still to come would be used: destroy() aborts requests in
   * flight (their devices read a failed exchange and, stopped, do nothing more), where close() would wait for each,
   * up to timeoutMs for a silent MDM server of the user's own. Exchanges already answered are untouched.
   */
  async close(): Promise<void> {
    await Promise.all([this.pool.destroy(), this.own?.destroy()]);
  }

  private target(device: DeviceProfile, route: Route): Target | undefined {
    const own = this.o.ownMdm;
    if (!own || !this.own || device.platform !== 'ios') return { url: `${this.harnessOrigin}/${route === 'checkin' || route === 'connect' ? `mdm/${route}` : route}`, dispatcher: this.pool };
    if (route === 'checkin') return { url: own.checkInUrl, dispatcher: this.own };
    if (route === 'connect') return { url: own.serverUrl, dispatcher: this.own };
    return undefined;
  }

  /** Check-in and command exchange speak Apple's protocol (XML plists); ping and heartbeat the harness's JSON. */
  private send(device: DeviceProfile, route: Route, body: PlistDict): Promise<{ status: number; body: Buffer }> {
    const target = this.target(device, route);
    if (!target) return Promise.resolve({ status: 204, body: Buffer.alloc(0) });
    const contentType = CONTENT_TYPES[route];
    return request(target.url, {
      method: route === 'checkin' || route === 'connect' ? 'PUT' : 'POST',
      dispatcher: target.dispatcher,
      headers: { 'content-type': contentType },
      body: contentType === 'application/json' ? JSON.stringify(body) : encodePlistXml(body),
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    }).then(async (res) => ({ status: res.statusCode, body: Buffer.from(await res.body.arrayBuffer()) }));
  }

  /** A 200 with an empty body (nothing to do) or a command; anything else fails the exchange and the device retries. */
  private reply(p: Promise<{ status: number; body: Buffer }>, done: (r: ExchangeReply) => void): void {
    const failed: ExchangeReply = { ok: false, command: null };
    // `done` is called once, outside the catch: a bug in the device shows up instead of passing for a network failure.
    p.then(({ status, body }) => (status === 200 ? { ok: true, command: readCommand(body) } : failed))
      .catch(() => failed)
      .then(done);
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
    this.send(device, 'checkin', { ...who, MessageType: 'Authenticate' })
      .then((r) => (r.status === 200 ? this.send(device, 'checkin', update) : r))
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

  checkIn(device: DeviceProfile, report: DeviceReport, done: (r: ExchangeReply) => void): void {
    // The answer's own keys first: UDID, Status and CommandUUID are the protocol's and cannot be overridden by them.
    const body: PlistDict = {
      ...report.keys,
      UDID: device.udid,
      Status: report.status,
      ...(report.commandUUID ? { CommandUUID: report.commandUUID } : {}),
    };
    this.reply(this.send(device, 'connect', body), done);
  }

  ping(device: DeviceProfile, bytes: number, done: (ok: boolean) => void): void {
    this.send(device, 'ping', statusBody(device.udid, bytes))
      .then((r) => done(r.status === 204))
      .catch(() => done(false));
  }

  heartbeat(device: DeviceProfile, bytes: number, done: (r: ExchangeReply) => void): void {
    this.reply(this.send(device, 'heartbeat', statusBody(device.udid, bytes)), done);
  }
}

/** A status report padded to `bytes` of JSON, as the 2–3 KB ping is. */
export function statusBody(udid: string, bytes: number): Record<string, string> {
  const base = JSON.stringify({ UDID: udid, Status: '' });
  return { UDID: udid, Status: 'x'.repeat(Math.max(0, bytes - Buffer.byteLength(base))) };
}
