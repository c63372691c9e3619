/**
 * The mock APNs provider API: validation and delivery as plain state (`ApnsService`, used in process by the
 * simulation) and the HTTP/2-over-TLS server in front of it (`startApnsServer` in apns-http.ts, used by `pushcheck harness`,
 * `simulate --speed X` and the tests).
 *
 * Statuses and reasons follow Apple's "Handling notification responses from APNs": 200 with `apns-id` (and, in the
 * development environment only, `apns-unique-id`), or a JSON body `{"reason": …}` (plus `timestamp`, ms since the
 * epoch, for the 410s: Unregistered and ExpiredToken).
 *
 * The environment of a request (development = api.sandbox.push.apple.com, production = api.push.apple.com) is
 * decided by the HTTP layer from the host name the client asked for; certificates and keys can be limited to one.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { FaultBoard } from '../faults.js';
import { createRng, randomUuid, type Rng } from '../random.js';
import { verifyProviderToken } from '../jwt.js';
import { AnswerScript, recordedHeaders, type TrafficLog } from './traffic.js';

/** Every reason the mock produces, with its status code. */
export const APNS_REASONS = {
  BadCollapseId: 400,
  BadDeviceToken: 400,
  BadExpirationDate: 400,
  BadMessageId: 400,
  BadPriority: 400,
  BadTopic: 400,
  DeviceTokenNotForTopic: 400,
  DuplicateHeaders: 400,
  IdleTimeout: 400,
  InvalidPushType: 400,
  MissingDeviceToken: 400,
  MissingTopic: 400,
  PayloadEmpty: 400,
  TopicDisallowed: 400,
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  ExpiredProviderToken: 403,
  Forbidden: 403,
  InvalidProviderToken: 403,
  MissingProviderToken: 403,
  UnrelatedKeyIdInToken: 403,
  BadEnvironmentKeyIdInToken: 403,
  BadPath: 404,
  MethodNotAllowed: 405,
  ExpiredToken: 410,
  Unregistered: 410,
  PayloadTooLarge: 413,
  TooManyProviderTokenUpdates: 429,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
} as const;

export type ApnsReason = keyof typeof APNS_REASONS;

export const APNS_PUSH_TYPES = [
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'pushtotalk',
  'widgets',
] as const;
export type ApnsPushType = (typeof APNS_PUSH_TYPES)[number];

/** Largest payload APNs accepts for a regular notification, in bytes. */
export const APNS_MAX_PAYLOAD_BYTES = 4096;
/** Largest payload of a VoIP notification, in bytes. */
export const APNS_MAX_VOIP_PAYLOAD_BYTES = 5120;
/** A provider token older than this is refused with ExpiredProviderToken. */
export const PROVIDER_TOKEN_LIFETIME_MS = 3_600_000;
/** A provider token replaced sooner than this after the previous one is refused with TooManyProviderTokenUpdates. */
export const PROVIDER_TOKEN_MIN_REFRESH_MS = 20 * 60_000;
/** How long APNs keeps a notification for an offline device when `apns-expiration` is absent. */
export const DEFAULT_STORE_MS = 30 * 86_400_000;

export const MDM_TOPIC_PREFIX = 'com.apple.mgmt.External.';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX_TOKEN = /^(?:[0-9a-f]{2}){32,100}$/i;

/** APNs's two environments: development is api.sandbox.push.apple.com, production api.push.apple.com. */
export type ApnsEnvironment = 'development' | 'production';

/** What the server layer learned from the TLS client certificate, if one was presented. */
export interface ClientCertificate {
  /** Topics the certificate may push to (its subject UID). */
  topics: string[];
  /** False when the certificate is expired, not yet valid or not signed by the harness CA. */
  valid: boolean;
  /**
   * The environments Apple's extensions (1.2.840.113635.100.6.3.1 and .2) allow; absent or empty when the
   * certificate has neither, as one of your own CA's may not: then it is taken for both.
   */
  environments?: ApnsEnvironment[];
}

/**
 * What APNs remembers of one HTTP/2 connection: the provider token key of its first push (a later push with a
 * key unrelated to it is 403 UnrelatedKeyIdInToken). The HTTP layer keeps one per session.
 */
export interface ApnsConnection {
  firstKey?: ProviderKey;
}

export interface ApnsRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Readonly<Record<string, string | undefined>>;
  body: string;
  certificate?: ClientCertificate;
  /** True when a header appeared more than once. */
  duplicateHeaders?: boolean;
  /**
   * The environment the client addressed by host name; absent when it named none of Apple's hosts (and in the
   * in-process simulation): then no rule about environments applies.
   */
  environment?: ApnsEnvironment;
  /** The connection the request came on, when it came over one. */
  connection?: ApnsConnection;
}

export interface ApnsResponse {
  status: number;
  apnsId: string;
  reason?: ApnsReason;
  /** For a 410 (Unregistered, ExpiredToken): when the token stopped being valid, ms since the epoch. */
  timestamp?: number;
  /** On a 200 in the development environment only: the id Apple's Push Notifications Console knows it by. */
  uniqueId?: string;
}

/** A notification APNs accepted. */
export interface ApnsNotification {
  apnsId: string;
  token: string;
  topic: string;
  pushType: ApnsPushType;
  priority: number;
  payload: string;
  /** When APNs stops trying; null for `apns-expiration: 0` (deliver now or never). */
  expiresAtMs: number | null;
  collapseId?: string;
  acceptedAtMs: number;
}

/** Where APNs hands a notification for a connected device (the courier connection). */
export type NotificationSink = (notification: ApnsNotification) => void;

export interface ProviderKey {
  keyId: string;
  teamId: string;
  publicKey: KeyObject;
  /** Topics the key may push to (a topic-specific key); empty means any of the team's (a team-scoped key). */
  topics: string[];
  /** The one environment the key is restricted to; absent: both ("Sandbox & Production"). */
  environment?: ApnsEnvironment;
  /** Push types the key is allowed to send (anything else is 403 Forbidden); absent or empty: all. */
  pushTypes?: ApnsPushType[];
}

export interface ApnsStats {
  requests: number;
  accepted: number;
  rejected: Partial<Record<ApnsReason, number>>;
  deliveredNow: number;
  stored: number;
  /** Stored notifications replaced by a newer one for the same device and topic. */
  coalesced: number;
  deliveredFromStore: number;
  /** Stored notifications whose `apns-expiration` passed before the device came back. */
  expired: number;
  /** `apns-expiration: 0` notifications for devices not connected at the time. */
  discarded: number;
}

export interface ApnsServiceOptions {
  clock: Clock;
  faults?: FaultBoard;
  rng?: Rng;
  /** Pushes allowed per device token per minute before 429 TooManyRequests. */
  maxPushesPerTokenPerMinute?: number;
}

interface TokenRecord {
  topic: string;
  unregisteredAtMs?: number;
  /** When the device token expired (410 ExpiredToken from then on). */
  expiredAtMs?: number;
}

/** APNs as plain state: device tokens, provider keys, connected devices and stored notifications. */
export class ApnsService {
  readonly clock: Clock;
  readonly faults: FaultBoard | undefined;
  private readonly rng: Rng;
  private readonly maxPerMinute: number;
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly keys = new Map<string, ProviderKey>();
  private readonly keyIat = new Map<string, { iat: number; changedAtMs: number }>();
  private readonly verified = new Map<string, { keyId: string; teamId: string; iat: number }>();
  private readonly sinks = new Map<string, NotificationSink>();
  private readonly store = new Map<string, Map<string, ApnsNotification>>();
  private readonly rate = new Map<string, { windowStart: number; count: number }>();
  private shuttingDown = false;
  readonly stats: ApnsStats = {
    requests: 0,
    accepted: 0,
    rejected: {},
    deliveredNow: 0,
    stored: 0,
    coalesced: 0,
    deliveredFromStore: 0,
    expired: 0,
    discarded: 0,
  };

  constructor(options: ApnsServiceOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.rng = options.rng ?? createRng(1);
    this.maxPerMinute = options.maxPushesPerTokenPerMinute ?? 600;
  }

  /** Makes a device token known to APNs, issued for `topic` (what a device does when it registers). */
  registerToken(token: string, topic: string): void {
    this.tokens.set(token.toLowerCase(), { topic });
  }

  /** Marks a token no longer valid (app removed, device unenrolled): pushes get 410 Unregistered. */
  unregisterToken(token: string, atMs = this.clock.now()): void {
    const record = this.tokens.get(token.toLowerCase());
    if (record) record.unregisteredAtMs = atMs;
  }

  /** Marks a device token expired: pushes to it get 410 ExpiredToken (a token replaced by a newer one, say). */
  expireToken(token: string, atMs = this.clock.now()): void {
    const record = this.tokens.get(token.toLowerCase());
    if (record) record.expiredAtMs = atMs;
  }

  addProviderKey(key: ProviderKey): void {
    this.keys.set(key.keyId, key);
  }

  /** Marks the service as closing: further requests get 503 Shutdown. */
  shutdown(): void {
    this.shuttingDown = true;
  }

  /**
   * A device's courier connection: APNs delivers to `sink` from now on, starting with what it stored while
   * the device was away. Returns the function that ends the connection.
   */
  connect(token: string, sink: NotificationSink): () => void {
    const key = token.toLowerCase();
    this.sinks.set(key, sink);
    const stored = this.store.get(key);
    if (stored) {
      this.store.delete(key);
      const now = this.clock.now();
      for (const n of stored.values()) {
        if (n.expiresAtMs !== null && n.expiresAtMs <= now) {
          this.stats.expired += 1;
          continue;
        }
        this.stats.deliveredFromStore += 1;
        sink(n);
      }
    }
    return () => {
      if (this.sinks.get(key) === sink) this.sinks.delete(key);
    };
  }

  isConnected(token: string): boolean {
    return this.sinks.has(token.toLowerCase());
  }

  /** Notifications stored for a device that is not connected, newest per topic. */
  storedFor(token: string): ApnsNotification[] {
    return [...(this.store.get(token.toLowerCase())?.values() ?? [])];
  }

  /** What the mock received (set by the harness; the in-process simulation keeps no log). */
  traffic: TrafficLog | undefined;
  /** Answers scripted for the next requests that match a token or topic. */
  readonly script = new AnswerScript<ApnsReason>();

  /** Handles one provider API request, exactly as APNs would answer it (or as a scripted answer says). */
  handle(req: ApnsRequest): ApnsResponse {
    const token = /^\/3\/device\/([^/?]+)$/.exec(req.path)?.[1];
    const topic = req.headers['apns-topic'];
    const scripted = this.script.take(token, topic);
    const res = scripted ? this.scriptedAnswer(req, scripted) : this.answer(req);
    if (this.traffic) {
      const now = this.clock.now();
      const { status, reason, apnsId, timestamp, uniqueId } = res;
      this.traffic.record({
        service: 'apns',
        atMs: now,
        at: new Date(now).toISOString(),
        token: token?.toLowerCase() ?? null,
        topic: topic ?? null,
        headers: recordedHeaders(req.headers),
        payload: req.body,
        answer: {
          status,
          apnsId,
          ...(uniqueId ? { uniqueId } : {}),
          ...(reason ? { reason } : {}),
          ...(timestamp !== undefined ? { timestamp } : {}),
          ...(scripted ? { scripted: true } : {}),
        },
      });
    }
    return res;
  }

  private scriptedAnswer(req: ApnsRequest, reason: ApnsReason): ApnsResponse {
    this.stats.requests += 1;
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    const apnsId = this.apnsIdFor(req);
    const status = APNS_REASONS[reason];
    return status === 410 ? { status, apnsId, reason, timestamp: this.clock.now() } : { status, apnsId, reason };
  }

  /** The request's `apns-id` exactly as sent (Apple echoes "the same value"), or a new lower-case UUID. */
  private apnsIdFor(req: ApnsRequest): string {
    const requestedId = req.headers['apns-id'];
    return requestedId && UUID.test(requestedId) ? requestedId : randomUuid(this.rng).toLowerCase();
  }

  private answer(req: ApnsRequest): ApnsResponse {
    this.stats.requests += 1;
    const requestedId = req.headers['apns-id'];
    const apnsId = this.apnsIdFor(req);
    const environment = req.environment;
    const reject = (reason: ApnsReason, timestamp?: number): ApnsResponse => {
      this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
      return timestamp === undefined
        ? { status: APNS_REASONS[reason], apnsId, reason }
        : { status: APNS_REASONS[reason], apnsId, reason, timestamp };
    };
    const now = this.clock.now();

    if (req.method !== 'POST') return reject('MethodNotAllowed');
    const pathMatch = /^\/3\/device\/([^/?]*)$/.exec(req.path);
    if (!pathMatch) return reject('BadPath');
    if (this.shuttingDown) return reject('Shutdown');
    if (this.faults?.isOn('apns-down', now)) return reject('ServiceUnavailable');
    const errorRate = this.faults?.value('apns-error', now);
    if (errorRate !== undefined && this.rng.chance(errorRate)) return reject('InternalServerError');
    if (req.duplicateHeaders) return reject('DuplicateHeaders');

    // Authentication: a provider token in `authorization`, else the TLS client certificate.
    const h = req.headers;
    let allowedTopics: string[] | undefined;
    let providerKey: ProviderKey | undefined;
    const authorization = h.authorization;
    if (authorization !== undefined) {
      const m = /^bearer\s+(\S+)$/i.exec(authorization.trim());
      if (!m) return reject('InvalidProviderToken');
      const claims = this.checkToken(m[1]!, environment, req.connection);
      if (typeof claims === 'string') return reject(claims);
      if (this.faults?.isOn('expired-token', now)) return reject('ExpiredProviderToken');
      providerKey = this.keys.get(claims.keyId);
      const topics = providerKey?.topics ?? [];
      allowedTopics = topics.length > 0 ? topics : undefined;
    } else if (req.certificate) {
      if (!req.certificate.valid || this.faults?.isOn('expired-cert', now)) return reject('BadCertificate');
      const environments = req.certificate.environments ?? [];
      if (environment && environments.length > 0 && !environments.includes(environment)) return reject('BadCertificateEnvironment');
      allowedTopics = req.certificate.topics;
    } else {
      return reject('MissingProviderToken');
    }

    // Headers.
    const token = pathMatch[1]!;
    if (token === '') return reject('MissingDeviceToken');
    if (!HEX_TOKEN.test(token)) return reject('BadDeviceToken');
    if (requestedId !== undefined && !UUID.test(requestedId)) return reject('BadMessageId');
    let expiresAtMs: number | null = now + DEFAULT_STORE_MS;
    const expiration = h['apns-expiration'];
    if (expiration !== undefined) {
      if (!/^\d{1,12}$/.test(expiration.trim())) return reject('BadExpirationDate');
      const seconds = Number(expiration);
      expiresAtMs = seconds === 0 ? null : seconds * 1000;
    }
    const priorityText = h['apns-priority'];
    const priority = priorityText === undefined ? 10 : Number(priorityText);
    if (![10, 5, 1].includes(priority) || (priorityText !== undefined && !/^\d+$/.test(priorityText))) {
      return reject('BadPriority');
    }
    const pushTypeText = h['apns-push-type'] ?? 'alert';
    if (!(APNS_PUSH_TYPES as readonly string[]).includes(pushTypeText)) return reject('InvalidPushType');
    const pushType = pushTypeText as ApnsPushType;
    if (providerKey?.pushTypes?.length && !providerKey.pushTypes.includes(pushType)) return reject('Forbidden');
    const collapseId = h['apns-collapse-id'];
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return reject('BadCollapseId');

    // Topic: defaults to the certificate's only topic; must be one the credentials allow.
    let topic = h['apns-topic'];
    if (topic === undefined) {
      if (req.certificate && allowedTopics?.length === 1 && authorization === undefined) topic = allowedTopics[0]!;
      else return reject('MissingTopic');
    }
    topic = topic.trim();
    if (topic === '' || /\s/.test(topic)) return reject('BadTopic');
    if (pushType === 'mdm' && !topic.startsWith(MDM_TOPIC_PREFIX)) return reject('BadTopic');
    if (allowedTopics && !allowedTopics.includes(topic)) return reject('TopicDisallowed');

    // Payload.
    const size = Buffer.byteLength(req.body);
    if (size === 0) return reject('PayloadEmpty');
    if (size > (pushType === 'voip' ? APNS_MAX_VOIP_PAYLOAD_BYTES : APNS_MAX_PAYLOAD_BYTES)) return reject('PayloadTooLarge');

    // The device token itself.
    const record = this.tokens.get(token.toLowerCase());
    if (!record) return reject('BadDeviceToken');
    if (record.unregisteredAtMs !== undefined) return reject('Unregistered', record.unregisteredAtMs);
    if (record.expiredAtMs !== undefined) return reject('ExpiredToken', record.expiredAtMs);
    if (record.topic !== topic) return reject('DeviceTokenNotForTopic');

    // Rate limits: per device token, then the throttle fault.
    const key = token.toLowerCase();
    const window = this.rate.get(key);
    if (!window || now - window.windowStart >= 60_000) this.rate.set(key, { windowStart: now, count: 1 });
    else if (++window.count > this.maxPerMinute) return reject('TooManyRequests');
    const throttle = this.faults?.value('apns-throttle', now);
    if (throttle !== undefined && this.rng.chance(throttle)) return reject('TooManyRequests');

    this.stats.accepted += 1;
    const notification: ApnsNotification = {
      apnsId,
      token: key,
      topic,
      pushType,
      priority,
      payload: req.body,
      expiresAtMs,
      acceptedAtMs: now,
      ...(collapseId !== undefined ? { collapseId } : {}),
    };
    this.route(notification);
    // A UUID of node:crypto, not of the seeded source: the simulation's draws stay as they were.
    return environment === 'development' ? { status: 200, apnsId, uniqueId: randomUUID() } : { status: 200, apnsId };
  }

  /** Delivers to the device now if it is connected, else stores (one per device and topic). */
  private route(n: ApnsNotification): void {
    const sink = this.sinks.get(n.token);
    if (sink) {
      this.stats.deliveredNow += 1;
      sink(n);
      return;
    }
    if (n.expiresAtMs === null || n.expiresAtMs <= n.acceptedAtMs) {
      this.stats.discarded += 1;
      return;
    }
    let perTopic = this.store.get(n.token);
    if (!perTopic) {
      perTopic = new Map();
      this.store.set(n.token, perTopic);
    }
    if (perTopic.has(n.topic)) this.stats.coalesced += 1;
    else this.stats.stored += 1;
    perTopic.set(n.topic, n);
  }

  /**
   * Verifies a provider token (cached per token string) and applies Apple's rules: its age, its key's environment,
   * its key against the first key of the connection, and how often it is refreshed.
   */
  private checkToken(jwt: string, environment: ApnsEnvironment | undefined, connection: ApnsConnection | undefined): { keyId: string; teamId: string; iat: number } | ApnsReason {
    let claims = this.verified.get(jwt);
    if (!claims) {
      const check = verifyProviderToken(jwt, (kid) => this.keys.get(kid));
      if (!check.ok) return check.reason;
      claims = check.claims;
      if (this.verified.size > 10_000) this.verified.clear();
      this.verified.set(jwt, claims);
    }
    const now = this.clock.now();
    if (now - claims.iat * 1000 > PROVIDER_TOKEN_LIFETIME_MS) return 'ExpiredProviderToken';
    const key = this.keys.get(claims.keyId)!;
    if (environment && key.environment !== undefined && key.environment !== environment) return 'BadEnvironmentKeyIdInToken';
    if (connection) {
      connection.firstKey ??= key;
      if (!relatedKeys(connection.firstKey, key)) return 'UnrelatedKeyIdInToken';
    }
    const last = this.keyIat.get(claims.keyId);
    if (!last) this.keyIat.set(claims.keyId, { iat: claims.iat, changedAtMs: now });
    else if (last.iat !== claims.iat) {
      if (claims.iat < last.iat) return 'ExpiredProviderToken';
      if (now - last.changedAtMs < PROVIDER_TOKEN_MIN_REFRESH_MS) return 'TooManyProviderTokenUpdates';
      this.keyIat.set(claims.keyId, { iat: claims.iat, changedAtMs: now });
    }
    return claims;
  }
}

/**
 * Whether a key may follow `first` on one connection. Apple binds a connection to the team and key of its first
 * push: the same key, or another team-scoped key of the same team for the same environments; a topic-specific key,
 * another team's key or a key of another environment needs a new connection.
 */
function relatedKeys(first: ProviderKey, next: ProviderKey): boolean {
  if (first.keyId === next.keyId) return true;
  return first.teamId === next.teamId && first.topics.length === 0 && next.topics.length === 0 && first.environment === next.environment;
}
