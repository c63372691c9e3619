/**
 * How the harness's MDM server reaches APNs and FCM: directly in process (the simulation at scale) or as
 * a real client over HTTP/2 and HTTPS (the `harness` command and `simulate --speed X`). Both send the same
 * request: `apns-push-type: mdm`, the MDM topic, `{"mdm": <PushMagic>}`.
 */
import { hostPort } from '../../host-port.js';
import http2 from 'node:http2';
import type { KeyObject } from 'node:crypto';
import { Agent, request } from 'undici';
import type { Clock } from '../clock.js';
import { MDM_TOPIC_PREFIX, type ApnsService } from './apns.js';
import type { FaultBoard } from '../faults.js';
import type { FcmService } from './fcm.js';
import type { MdmDevice, Pusher, PushResult } from './mdm.js';
import { signProviderToken } from '../jwt.js';

/** How the MDM server authenticates to APNs. */
export type ProviderAuth =
  | { kind: 'certificate'; topic: string; cert?: string; key?: string }
  | { kind: 'token'; topic: string; keyId: string; teamId: string; privateKey: KeyObject };

/** A notification's lifetime at APNs when the device is away. */
export const MDM_PUSH_EXPIRATION_S = 86_400;
/** A provider token is re-signed after this long (APNs wants 20–60 minutes). */
const TOKEN_REFRESH_MS = 50 * 60_000;

/**
 * The topic a push goes out on: the MDM topic, or under the wrong-topic fault another MDM topic, which APNs
 * answers as it would (TopicDisallowed for a certificate, DeviceTokenNotForTopic for a token).
 */
function topicNow(auth: ProviderAuth, clock: Clock, faults: FaultBoard | undefined): string {
  return faults?.isOn('wrong-topic', clock.now()) ? `${MDM_TOPIC_PREFIX}${WRONG_TOPIC_UUID}` : auth.topic;
}
const WRONG_TOPIC_UUID = '00000000-0000-4000-8000-00000000dead';

const retryable = (status: number): boolean => status === 429 || status >= 500 || status === 0;

function tokenSource(auth: ProviderAuth, clock: Clock): () => string | undefined {
  if (auth.kind !== 'token') return () => undefined;
  let jwt = '';
  let signedAt = -Infinity;
  return () => {
    const now = clock.now();
    if (now - signedAt >= TOKEN_REFRESH_MS) {
      jwt = signProviderToken({ keyId: auth.keyId, teamId: auth.teamId, iat: Math.floor(now / 1000) }, auth.privateKey);
      signedAt = now;
    }
    return jwt;
  };
}

function apnsHeaders(topic: string, now: number, jwt: string | undefined): Record<string, string> {
  return {
    'apns-topic': topic,
    'apns-push-type': 'mdm',
    'apns-priority': '10',
    'apns-expiration': String(Math.floor(now / 1000) + MDM_PUSH_EXPIRATION_S),
    ...(jwt ? { authorization: `bearer ${jwt}` } : {}),
  };
}

const mdmPayload = (device: MdmDevice): string => JSON.stringify({ mdm: device.pushMagic ?? '' });
const fcmBody = (device: MdmDevice): string =>
  // A wake is collapsible (one waiting per device is enough), as FCM's docs advise for a "ping" to sync.
  JSON.stringify({ message: { token: device.fcmToken, data: { mdm: 'wake' }, android: { priority: 'high', collapse_key: 'mdm-wake' } } });

export interface InProcessPusherOptions {
  clock: Clock;
  faults?: FaultBoard;
  apns: ApnsService;
  fcm: FcmService;
  auth: ProviderAuth;
}

/** Calls the services directly; answers synchronously. */
export function inProcessPusher(options: InProcessPusherOptions): Pusher {
  const { apns, fcm, auth, clock } = options;
  const jwt = tokenSource(auth, clock);
  const certificate = auth.kind === 'certificate' ? { topics: [auth.topic], valid: true } : undefined;
  return {
    push(device, done) {
      if (device.platform === 'ios') {
        const r = apns.handle({
          method: 'POST',
          path: `/3/device/${device.token}`,
          headers: apnsHeaders(topicNow(auth, clock, options.faults), clock.now(), jwt()),
          body: mdmPayload(device),
          ...(certificate ? { certificate } : {}),
        });
        done({ ok: r.status === 200, status: r.status, ...(r.reason ? { reason: r.reason } : {}), retryable: retryable(r.status) });
        return;
      }
      const r = fcm.handle({
        method: 'POST',
        path: `/v1/projects/${fcm.projectId}/messages:send`,
        authorization: `Bearer ${fcm.accessToken}`,
        body: fcmBody(device),
      });
      done({ ok: r.status === 200, status: r.status, ...(r.errorCode ? { reason: r.errorCode } : {}), retryable: retryable(r.status) });
    },
  };
}

export interface HttpPusherOptions {
  clock: Clock;
  faults?: FaultBoard;
  auth: ProviderAuth;
  /** CA that signed the APNs and FCM server certificates. */
  ca: string;
  apns: { host: string; port: number; servername?: string };
  fcm: { host: string; port: number; projectId: string; accessToken: string; servername?: string };
  timeoutMs?: number;
}

/** A real APNs (HTTP/2, one reused session) and FCM (HTTPS via undici) client. */
export function httpPusher(options: HttpPusherOptions): Pusher & { close(): Promise<void> } {
  const { auth, clock } = options;
  const jwt = tokenSource(auth, clock);
  const timeoutMs = options.timeoutMs ?? 10_000;
  let session: http2.ClientHttp2Session | undefined;
  const connect = (): http2.ClientHttp2Session => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(`https://${hostPort(options.apns.host, options.apns.port)}`, {
      ca: options.ca,
      servername: options.apns.servername ?? 'api.push.apple.com',
      ...(auth.kind === 'certificate' && auth.cert && auth.key ? { cert: auth.cert, key: auth.key } : {}),
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (session === s) session = undefined;
    });
    s.unref();
    session = s;
    return s;
  };
  const agent = new Agent({ connect: { ca: options.ca, servername: options.fcm.servername ?? 'fcm.googleapis.com' } });
  const fail = (done: (r: PushResult) => void, err: unknown): void =>
    done({ ok: false, status: 0, reason: err instanceof Error ? err.message : String(err), retryable: true });

  return {
    push(device, done) {
      if (device.platform === 'ios') {
        let finished = false;
        const once = (r: PushResult): void => {
          if (!finished) {
            finished = true;
            done(r);
          }
        };
        try {
          const stream = connect().request({
            ':method': 'POST',
            ':path': `/3/device/${device.token}`,
            ...apnsHeaders(topicNow(auth, clock, options.faults), clock.now(), jwt()),
          });
          stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
          let status = 0;
          const chunks: Buffer[] = [];
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', (err) => fail(once, err));
          stream.on('close', () => {
            if (status === 0) return fail(once, new Error('APNs stream closed without a response'));
            let reason: string | undefined;
            try {
              reason = (JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { reason?: string }).reason;
            } catch {
              reason = undefined;
            }
            once({ ok: status === 200, status, ...(reason ? { reason } : {}), retryable: retryable(status) });
          });
          stream.end(mdmPayload(device));
        } catch (err) {
          fail(once, err);
        }
        return;
      }
      request(`https://${hostPort(options.fcm.host, options.fcm.port)}/v1/projects/${options.fcm.projectId}/messages:send`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${options.fcm.accessToken}`, 'content-type': 'application/json' },
        body: fcmBody(device),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
        .then(async (res) => {
          const body = (await res.body.json().catch(() => ({}))) as { error?: { details?: Array<{ errorCode?: string }> } };
          const reason = body.error?.details?.find((d) => d.errorCode)?.errorCode;
          done({ ok: res.statusCode === 200, status: res.statusCode, ...(reason ? { reason } : {}), retryable: retryable(res.statusCode) });
        })
        .catch((err: unknown) => fail(done, err));
    },
    async close() {
      session?.destroy();
      await agent.close();
    },
  };
}
