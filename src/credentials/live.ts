/**
 * `--live`: proves a credential works without reaching any device. One HTTP/2 request to the APNs provider API,
 * authenticated with the certificate (as TLS client certificate) or with a JWT signed by the token key, for a
 * device token of 64 zero hex digits. APNs checks the credential and the topic before the token, so its
 * `BadDeviceToken` means "credential accepted"; any other reason names what is wrong with the credential.
 * The server's certificate is verified (Node's roots plus --ca): a live check through an interception proxy fails
 * as an untrusted TLS connection, not as a credential problem.
 */
import { sign, type KeyObject } from 'node:crypto';
import http2 from 'node:http2';
import tls from 'node:tls';
import { classifyError, failure } from '../probes/classify.js';
import { Budget, onAbort, QuickController } from '../probes/phases.js';
import type { AbortSignalLike } from '../probes/types.js';
import { trustingContext } from '../trust.js';
import type { CredentialInfo, Failure } from '../types.js';
import { APNS_REASON_HINTS, apnsUrlFor, MDM_TOPIC_PREFIX } from './apple.js';

/** A device token no device has: APNs answers BadDeviceToken once the credential and topic passed. */
export const ZERO_DEVICE_TOKEN = '0'.repeat(64);
/** Answers that prove APNs accepted the credential. */
const ACCEPTED = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'Unregistered']);

export interface LiveOptions {
  /** The provider endpoint; default Apple's for the credential's environment. */
  url?: string;
  topic: string;
  /** Extra trusted CA certificates (PEM) for the endpoint. */
  ca: readonly string[];
  timeoutMs: number;
  signal?: AbortSignal;
  now: () => Date;
}

export type LiveAuth =
  | { kind: 'certificate'; certificatePem: string; key: KeyObject }
  | { kind: 'token'; key: KeyObject; keyId: string; teamId: string };

export interface LiveOutcome {
  live: NonNullable<CredentialInfo['live']>;
  failure?: Failure;
  note?: string;
}

/** An APNs provider token: ES256 JWT with the key id in its header, team id and issue time in its claims. */
export function providerToken(auth: Extract<LiveAuth, { kind: 'token' }>, now: Date): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signed = `${part({ alg: 'ES256', kid: auth.keyId })}.${part({ iss: auth.teamId, iat: Math.floor(now.getTime() / 1000) })}`;
  const signature = sign('sha256', Buffer.from(signed), { key: auth.key, dsaEncoding: 'ieee-p1363' });
  return `${signed}.${signature.toString('base64url')}`;
}

/** TLS to the endpoint, with the client certificate if the credential is one; rejects with a classified failure. */
function connectTls(url: URL, auth: LiveAuth, options: LiveOptions, stop: AbortSignalLike): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // onAbort() calls nothing for a stop that has aborted already (Ctrl-C during an earlier credential's push): a
    // connect started now would have no bound at all.
    if (stop.aborted) {
      reject(failure('tcp_timeout', 'connect', `no answer within ${options.timeoutMs} ms`));
      return;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      ALPNProtocols: ['h2'],
      secureContext: trustingContext(
        options.ca,
        auth.kind === 'certificate' ? { cert: auth.certificatePem, key: auth.key.export({ type: 'pkcs8', format: 'pem' }) } : {},
      ),
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    let connected = false;
    const stopListening = onAbort(stop, () => {
      socket.destroy();
      reject(failure(connected ? 'tls_handshake_failed' : 'tcp_timeout', connected ? 'tls' : 'connect', `no answer within ${options.timeoutMs} ms`));
    });
    socket.once('connect', () => {
      connected = true;
    });
    socket.once('secureConnect', () => {
      stopListening();
      resolve(socket);
    });
    socket.once('error', (err) => {
      stopListening();
      socket.destroy();
      reject(classifyError(err, connected ? 'tls' : 'connect'));
    });
  });
}

interface Answer {
  status: number;
  reason?: string;
}

function request(socket: tls.TLSSocket, url: URL, headers: http2.OutgoingHttpHeaders, body: string, stop: AbortSignalLike, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url.origin, { createConnection: () => socket });
    const done = (): void => {
      stopListening();
      session.close();
      session.destroy();
    };
    const stopListening = onAbort(stop, () => {
      done();
      reject(failure('http_timeout', 'http', `no answer from APNs within ${timeoutMs} ms`));
    });
    session.on('error', (err) => {
      done();
      reject(classifyError(err, 'http'));
    });
    const stream = session.request({ ':method': 'POST', ':path': `/3/device/${ZERO_DEVICE_TOKEN}`, ...headers });
    const chunks: Buffer[] = [];
    let status = 0;
    stream.on('response', (h) => {
      status = Number(h[':status'] ?? 0);
    });
    stream.on('data', (chunk: Buffer) => {
      if (chunks.length < 64) chunks.push(chunk);
    });
    stream.on('end', () => {
      done();
      let reason: string | undefined;
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { reason?: unknown };
        if (typeof parsed.reason === 'string') reason = parsed.reason;
      } catch {
        // 200 has no body; anything else unreadable is reported by its status alone.
      }
      resolve({ status, ...(reason !== undefined && { reason }) });
    });
    stream.on('error', (err) => {
      done();
      reject(classifyError(err, 'http'));
    });
    stream.end(body);
  });
}

/** Sends the one push and says what APNs made of the credential. Never throws for a network or APNs problem. */
export async function pushOnce(auth: LiveAuth, environment: CredentialInfo['environment'], options: LiveOptions): Promise<LiveOutcome> {
  const url = new URL(options.url ?? apnsUrlFor(environment));
  const live: LiveOutcome['live'] = { url: url.origin, topic: options.topic };
  // Ends at the timeout or with the run's signal (Ctrl-C); its timer and listener go when the push has an answer.
  const budget = new Budget(options.timeoutMs, options.signal ?? new QuickController());
  const mdm = options.topic.startsWith(MDM_TOPIC_PREFIX);
  const headers: http2.OutgoingHttpHeaders = {
    'apns-topic': options.topic,
    'apns-push-type': mdm ? 'mdm' : 'alert',
    'apns-priority': '10',
    // Deliver now or never: should a device have this token after all, nothing waits at APNs for it.
    'apns-expiration': '0',
    ...(auth.kind === 'token' && { authorization: `bearer ${providerToken(auth, options.now())}` }),
  };
  const body = JSON.stringify(mdm ? { mdm: 'pushcheck' } : { aps: { alert: 'pushcheck credential check' } });
  let answer: Answer;
  try {
    const socket = await connectTls(url, auth, options, budget.stop);
    answer = await request(socket, url, headers, body, budget.stop, options.timeoutMs);
  } catch (err) {
    if (!isFailure(err)) throw err;
    return { live, failure: err, note: `live push to ${url.origin} did not get an answer from APNs` };
  } finally {
    budget.dispose();
  }
  live.status = answer.status;
  if (answer.reason !== undefined) live.reason = answer.reason;
  if (answer.status === 200) {
    return { live, note: `live: APNs (${url.origin}) accepted a push for ${options.topic} (200), so the credential works` };
  }
  if (answer.reason !== undefined && ACCEPTED.has(answer.reason)) {
    return {
      live,
      note: `live: APNs (${url.origin}) accepted the credential for ${options.topic}: it answered ${answer.reason} for the all-zero device token, as expected`,
    };
  }
  const reason = answer.reason ?? 'no reason given';
  const rejected = failure('apns_rejected', 'http', `${answer.status} ${reason} from ${url.origin} for topic ${options.topic}`);
  const hint = answer.reason !== undefined ? APNS_REASON_HINTS[answer.reason] : undefined;
  return { live, failure: hint ? { ...rejected, hint } : rejected };
}

function isFailure(value: unknown): value is Failure {
  return typeof value === 'object' && value !== null && 'code' in value && 'hint' in value && !(value instanceof Error);
}
