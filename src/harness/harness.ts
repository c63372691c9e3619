/**
 * Starts the whole harness on loopback: mock APNs (HTTP/2), the two courier listeners (standing for 5223 and
 * 443), FCM and its device channel, the MDM server and the admin API; writes the CA file clients trust.
 * One `close()` stops everything.
 */
import http from 'node:http';
import { appendFileSync, closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { TrafficLog } from './services/traffic.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateAuthority, CertificatePem } from './certs.js';
import { createHarnessCredentials, type HarnessCredentials } from './services/credentials.js';
import { type Clock, ScaledClock } from './clock.js';
import type { ApnsEnvironment, ApnsService } from './services/apns.js';
import { startApnsServer } from './services/apns-http.js';
import { apnsChannel, fcmChannel, startCourierServer } from './services/courier.js';
import type { FcmService } from './services/fcm.js';
import { startFcmServer } from './services/fcm-http.js';
import { OAuthTokenService } from './services/google-oauth.js';
import { hostPort } from '../host-port.js';
import type { MdmService } from './services/mdm.js';
import { startMdmServer } from './services/mdm-http.js';
import { createPushServices } from './services/push-services.js';
import { httpPusher, type ProviderAuth } from './services/pushers.js';
import { FaultBoard, FAULTS, type FaultName } from './faults.js';
import { createRng } from './random.js';
import { listen, startTlsEndpoint, type Endpoint, type HostPort, type TlsEndpointOptions } from './endpoints.js';
import { SocketEnv } from './env/sockets.js';
import { DEFAULT_TIMING, newDeviceCounters, SimDevice, type DeviceContext, type DeviceCounters, type DeviceTiming } from './fleet/devices.js';
import { makeProfiles } from './fleet/profiles.js';
import { handleAdminRequest, type AdminTarget } from './services/admin.js';
import type { DeviceCounts } from './device-counts.js';
import { serve } from './http.js';
import { parseMdmUrl, type OwnMdmServer } from './own-mdm.js';

export { HARNESS_NAMES } from './services/credentials.js';

export interface HarnessOptions {
  host?: string;
  /** Fixed ports (0 or absent: any free port). */
  ports?: Partial<Record<keyof HarnessEndpoints, number>>;
  /** Where to write the CA certificate (PEM); default a temporary file removed on close. */
  caOut?: string;
  ca?: CertificateAuthority;
  clock?: Clock;
  faults?: FaultBoard;
  seed?: number;
  /** How the MDM server authenticates to APNs. */
  auth?: 'certificate' | 'token';
  /** Delays before the MDM server re-sends a push that failed with 429/5xx. */
  pushRetryDelaysMs?: number[];
  commandTtlMs?: number;
  timing?: Partial<DeviceTiming>;
  /** Per-token push limit of the mock APNs, per minute. */
  maxPushesPerTokenPerMinute?: number;
  /** Also append every request the mock APNs and FCM receive to this file, one JSON object a line. */
  recordFile?: string;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of the mock APNs (default 1,000, as Apple's). */
  apnsMaxConcurrentStreams?: number;
  /** The mock APNs closes a connection without requests for this long with GOAWAY IdleTimeout (default an hour). */
  apnsIdleTimeoutMs?: number;
  /** The APNs environment of requests to a host name that is not Apple's (default: none, no environment rules). */
  apnsEnvironment?: ApnsEnvironment;
  /**
   * An MDM server of your own: the simulated iOS devices check in and fetch commands there (its ServerURL and
   * CheckInURL), and wake on the pushes it sends through the mock APNs, instead of using the harness's MDM server.
   */
  ownMdm?: OwnMdmServer;
}

export interface HarnessEndpoints {
  apns: HostPort;
  courier5223: HostPort;
  courier443: HostPort;
  mdm: HostPort;
  fcm: HostPort;
  /** The FCM device channel (what gcm.googleapis.com:5228 is to a real device). */
  fcmDevice: HostPort;
  admin: HostPort;
}

export interface Harness {
  endpoints: HarnessEndpoints;
  /** The CA file written at start. */
  caFile: string;
  caPem: string;
  ca: CertificateAuthority;
  clock: Clock;
  faults: FaultBoard;
  apns: ApnsService;
  mdm: MdmService;
  fcm: FcmService;
  /** The MDM topic of the harness's provider certificate (com.apple.mgmt.External.<uuid>). */
  mdmTopic: string;
  /** The MDM push certificate (subject UID = mdmTopic) and the token-auth key the harness registered. */
  provider: { certificate: CertificatePem; keyId: string; teamId: string; privateKeyPem: string };
  /** Every credential the harness made: CA, MDM push and app provider certificates, token key. */
  credentials: HarnessCredentials;
  fcmProject: string;
  fcmAccessToken: string;
  /** The MDM server of your own the iOS devices use (`HarnessOptions.ownMdm`), if any. */
  ownMdm: OwnMdmServer | undefined;
  /** Simulated devices added so far (over real sockets), and their counters. */
  devices: SimDevice[];
  deviceCounters: DeviceCounters;
  /** Adds simulated devices that connect over real sockets; returns them once started. */
  addDevices(counts: Partial<DeviceCounts>): SimDevice[];
  /** A further TLS endpoint (e.g. standing in for a vendor host), closed with the harness. */
  startTlsEndpoint(options: Omit<TlsEndpointOptions, 'ca'>): Promise<Endpoint>;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? {};
  const ownMdm: OwnMdmServer | undefined = options.ownMdm && {
    ...options.ownMdm,
    serverUrl: parseMdmUrl(options.ownMdm.serverUrl).href,
    checkInUrl: parseMdmUrl(options.ownMdm.checkInUrl).href,
  };
  const clock = options.clock ?? new ScaledClock(1);
  const faults = options.faults ?? new FaultBoard([], clock.now());
  const rng = createRng(options.seed ?? 1);
  const credentials = await createHarnessCredentials(rng, options.ca);
  const { ca, server: serverCert, token } = credentials;
  const mdmTopic = credentials.mdmPush.topic;
  const providerCertificate = credentials.mdmPush.certificate;
  const { keyId, teamId } = token;

  // The OAuth endpoint of the FCM listener: the service account's assertions name it (or Google's URL) as audience.
  let fcmTokenUrl = '';
  const oauth = new OAuthTokenService(clock, () => [fcmTokenUrl]);
  oauth.addServiceAccount(credentials.fcmServiceAccount);
  const { apns, fcm, mdm } = createPushServices(clock, faults, rng, { ...options, fcmAccessCheck: (t) => oauth.check(t) });
  // The record file is opened before any server listens: a path that cannot be written fails the start.
  const recordFd = options.recordFile === undefined ? undefined : openSync(options.recordFile, 'a');
  const traffic = new TrafficLog(10_000, recordFd === undefined ? undefined : (entry) => appendFileSync(recordFd, `${JSON.stringify(entry)}\n`));
  apns.traffic = traffic;
  fcm.traffic = traffic;
  apns.addProviderKey({ keyId, teamId, publicKey: token.publicKey, topics: [] });

  const opened: Endpoint[] = [];
  let caDir: string | undefined;
  const removeCaDir = (): void => {
    if (caDir) rmSync(caDir, { recursive: true, force: true });
    process.off('exit', removeCaDir);
  };
  const closeAll = async (): Promise<void> => {
    await Promise.all(opened.map((e) => e.close()));
  };
  try {
    const tls = { cert: serverCert.cert, key: serverCert.key };
    const apnsEp = await startApnsServer({
      service: apns,
      host,
      port: ports.apns ?? 0,
      ...tls,
      ca: ca.cert,
      ...(options.apnsMaxConcurrentStreams ? { maxConcurrentStreams: options.apnsMaxConcurrentStreams } : {}),
      ...(options.apnsIdleTimeoutMs ? { idleTimeoutMs: options.apnsIdleTimeoutMs } : {}),
      ...(options.apnsEnvironment ? { defaultEnvironment: options.apnsEnvironment } : {}),
    });
    opened.push(apnsEp);
    const c5223 = await startCourierServer({ channel: apnsChannel(apns), faults, host, stands: 5223, port: ports.courier5223 ?? 0, ...tls });
    opened.push(c5223);
    const c443 = await startCourierServer({ channel: apnsChannel(apns), faults, host, stands: 443, port: ports.courier443 ?? 0, ...tls });
    opened.push(c443);
    const fcmEp = await startFcmServer({ service: fcm, oauth, host, port: ports.fcm ?? 0, ...tls });
    opened.push(fcmEp);
    fcmTokenUrl = `https://${hostPort(host, fcmEp.port)}/token`;
    const fcmDevice = await startCourierServer({ channel: fcmChannel(fcm), host, stands: 5228, port: ports.fcmDevice ?? 0, ...tls });
    opened.push(fcmDevice);
    const mdmEp = await startMdmServer({ service: mdm, host, port: ports.mdm ?? 0, ...tls });
    opened.push(mdmEp);

    const auth: ProviderAuth =
      options.auth === 'token'
        ? { kind: 'token', topic: mdmTopic, keyId, teamId, privateKey: token.privateKey }
        : { kind: 'certificate', topic: mdmTopic, cert: providerCertificate.cert, key: providerCertificate.key };
    const pusher = httpPusher({
      clock,
      faults,
      auth,
      ca: ca.cert,
      apns: { host, port: apnsEp.port },
      fcm: { host, port: fcmEp.port, projectId: fcm.projectId, accessToken: fcm.accessToken },
    });
    mdm.pusher = pusher;

    let caFile = options.caOut;
    if (!caFile) {
      caDir = mkdtempSync(join(tmpdir(), 'pushcheck-harness-'));
      // Also when a second Ctrl-C or SIGTERM exits at once, without waiting for close().
      process.once('exit', removeCaDir);
      caFile = join(caDir, 'ca.pem');
    }
    writeFileSync(caFile, ca.cert);

    const hp = (e: Endpoint): HostPort => ({ host: e.host, port: e.port });
    const endpoints: Omit<HarnessEndpoints, 'admin'> = {
      apns: hp(apnsEp),
      courier5223: hp(c5223),
      courier443: hp(c443),
      mdm: hp(mdmEp),
      fcm: hp(fcmEp),
      fcmDevice: hp(fcmDevice),
    };
    const env = new SocketEnv({
      clock,
      ca: ca.cert,
      apns,
      fcm,
      mdm: endpoints.mdm,
      courier5223: endpoints.courier5223,
      courier443: endpoints.courier443,
      fcmDevice: endpoints.fcmDevice,
      ...(ownMdm ? { ownMdm } : {}),
    });
    const deviceCtx: DeviceContext = {
      env,
      faults,
      rng: rng.fork('devices'),
      timing: { ...DEFAULT_TIMING, ...options.timing },
      counters: newDeviceCounters(),
    };
    const devices: SimDevice[] = [];
    const byUdid = new Map<string, SimDevice>();
    let profileSeq = 0;
    const addDevices = (counts: Partial<DeviceCounts>): SimDevice[] => {
      const profiles = makeProfiles({
        ios: counts.ios ?? 0,
        android: counts.android ?? 0,
        withoutPlayServices: counts.withoutPlayServices ?? 0,
        topic: mdmTopic,
        rng: rng.fork(`profiles-${profileSeq}`),
        firstIndex: profileSeq,
      });
      profileSeq += profiles.length;
      const added = profiles.map((p) => new SimDevice(p, deviceCtx));
      devices.push(...added);
      for (const d of added) byUdid.set(d.profile.udid, d);
      for (const d of added) d.start();
      return added;
    };
    // A fault switched on through the admin API acts on the harness's devices as a window of it does in a simulation.
    const releases = new Map<FaultName, () => void>();
    const unsubscribe = faults.onChange((name, value) => {
      const onDevices = FAULTS[name].onDevices;
      if (!onDevices) return;
      releases.get(name)?.();
      releases.delete(name);
      if (value === undefined) return;
      const release = onDevices(devices, value, rng.fork(`${name}-${clock.now()}`), false);
      if (release) releases.set(name, release);
    });

    let adminEndpoint: HostPort = { host, port: 0 };
    const adminTarget: AdminTarget = {
      apns,
      fcm,
      mdm,
      faults,
      mdmTopic,
      fcmProject: fcm.projectId,
      describe: () => ({
        endpoints: { ...endpoints, admin: adminEndpoint },
        caFile,
        mdmTopic,
        fcmProject: fcm.projectId,
        ...(ownMdm ? { ownMdm: { serverUrl: ownMdm.serverUrl, checkInUrl: ownMdm.checkInUrl } } : {}),
      }),
      addDevices: (counts) => addDevices(counts).map((d) => d.profile),
      simulated: (udid) => {
        const d = byUdid.get(udid);
        return d ? { online: d.online, courierPort: d.courierPort ?? null } : undefined;
      },
      deviceCounters: () => ({ ...deviceCtx.counters }),
      trustClientCa: (pem) => apnsEp.trustClientCa(pem),
      traffic,
    };
    const admin = http.createServer(serve('admin', (req: http.IncomingMessage, res: http.ServerResponse) => handleAdminRequest(adminTarget, req, res)));
    const adminEp = await listen(admin, host, ports.admin ?? 0, 'admin');
    opened.push(adminEp);
    adminEndpoint = hp(adminEp);

    const extra: Endpoint[] = [];
    let closed: Promise<void> | undefined;
    const harness: Harness = {
      endpoints: { ...endpoints, admin: adminEndpoint },
      caFile,
      caPem: ca.cert,
      ca,
      clock,
      faults,
      apns,
      mdm,
      fcm,
      mdmTopic,
      provider: { certificate: providerCertificate, keyId, teamId, privateKeyPem: token.privateKeyPem },
      credentials,
      fcmProject: fcm.projectId,
      fcmAccessToken: fcm.accessToken,
      ownMdm,
      devices,
      deviceCounters: deviceCtx.counters,
      addDevices,
      async startTlsEndpoint(o: Omit<TlsEndpointOptions, 'ca'>) {
        const ep = await startTlsEndpoint({ host, ...o, ca });
        extra.push(ep);
        return ep;
      },
      close() {
        closed ??= (async () => {
          unsubscribe();
          for (const d of devices) d.stop();
          mdm.stop();
          await pusher.close();
          await env.close();
          await Promise.all(extra.map((e) => e.close()));
          await closeAll();
          if (clock instanceof ScaledClock && !options.clock) clock.clearAll();
          removeCaDir();
          if (recordFd !== undefined) closeSync(recordFd);
        })();
        return closed;
      },
    };
    return harness;
  } catch (err) {
    await closeAll();
    removeCaDir();
    if (recordFd !== undefined) closeSync(recordFd);
    throw err;
  }
}
