/**
 * The mock FCM: HTTP v1 `POST /v1/projects/<project>/messages:send` with the documented error codes, as
 * plain state (`FcmService`) and behind HTTPS (`startFcmServer` in fcm-http.ts, HTTP/1.1 and HTTP/2). Android devices with
 * Google Play services hold a connection to it (in process, or over the courier line protocol) and are
 * woken by data messages. For a device that is away FCM keeps, as its docs on collapsible and non-collapsible
 * messages say, up to 100 non-collapsible messages (the 101st discards those stored, and the device is told with a
 * `deleted_messages` notice when it comes back) and one message for each of at most 4 collapse keys.
 */
import type { Clock } from '../clock.js';
import type { FaultBoard } from '../faults.js';
import { createRng, randomHex, type Rng } from '../random.js';
import { AnswerScript, recordedHeaders, type TrafficLog } from './traffic.js';
import { violations, type FieldViolation } from './fcm-schema.js';
import type { AccessCheck } from './google-oauth.js';

/** FCM v1 error codes the mock produces, with HTTP status and canonical status. */
export const FCM_ERRORS = {
  INVALID_ARGUMENT: { code: 400, status: 'INVALID_ARGUMENT' },
  UNREGISTERED: { code: 404, status: 'NOT_FOUND' },
  SENDER_ID_MISMATCH: { code: 403, status: 'PERMISSION_DENIED' },
  QUOTA_EXCEEDED: { code: 429, status: 'RESOURCE_EXHAUSTED' },
  UNAVAILABLE: { code: 503, status: 'UNAVAILABLE' },
  INTERNAL: { code: 500, status: 'INTERNAL' },
  THIRD_PARTY_AUTH_ERROR: { code: 401, status: 'UNAUTHENTICATED' },
} as const;
export type FcmErrorCode = keyof typeof FCM_ERRORS;

/** The harness's Firebase project. */
export const FCM_DEFAULT_PROJECT = 'pushcheck-harness';
/** Largest data payload of a message to a token, in bytes (keys and values). */
export const FCM_MAX_DATA_BYTES = 4096;
/** Non-collapsible messages FCM stores for a device that is away; one more discards them all. */
export const FCM_MAX_STORED_MESSAGES = 100;
/** Collapse keys FCM keeps messages for, per device that is away. */
export const FCM_MAX_COLLAPSE_KEYS = 4;
/** `Retry-After` of a 503 while FCM is down (the fcm-down fault), in seconds. */
export const FCM_UNAVAILABLE_RETRY_AFTER_S = 10;
/** `Retry-After` of a scripted 429 or 503 when the script names none, in seconds. */
export const FCM_SCRIPTED_RETRY_AFTER_S = 1;
/** The name a `validate_only` request is answered with: FCM validates it and delivers nothing. */
export const FCM_VALIDATE_ONLY_ID = 'fake_message_id';
/** The collapse key of notification messages, which FCM always collapses (the app's package name, for FCM). */
const NOTIFICATION_COLLAPSE_KEY = '(notification)';

export interface FcmMessage {
  id: string;
  token: string;
  data: Record<string, string>;
  acceptedAtMs: number;
  /** Set for a collapsible message (`android.collapse_key`, or any notification message). */
  collapseKey?: string;
}

export interface FcmResponse {
  status: number;
  body: unknown;
  errorCode?: FcmErrorCode | 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
  /** Seconds, for the `Retry-After` header of a 429 or 503. */
  retryAfterSeconds?: number;
}

/** What an FCM registration token stands for: an Android app, or an Apple or web app FCM reaches through APNs or Web Push. */
export type FcmPlatform = 'android' | 'apple' | 'web';

export interface FcmRequest {
  method: string;
  path: string;
  authorization?: string;
  body: string;
}

export interface FcmServiceOptions {
  clock: Clock;
  faults?: FaultBoard;
  rng?: Rng;
  projectId?: string;
  /** The OAuth access token senders must present as `Authorization: Bearer …`. */
  accessToken?: string;
  /** Judges other bearer tokens: those the harness's OAuth token endpoint issued. */
  checkAccessToken?: (token: string) => AccessCheck;
  maxMessagesPerTokenPerMinute?: number;
}

export interface FcmStats {
  requests: number;
  accepted: number;
  /** `validate_only` requests that passed validation (and were not delivered). */
  validated: number;
  rejected: Record<string, number>;
  deliveredNow: number;
  stored: number;
  /** Stored messages replaced by a newer one with the same collapse key, or dropped beyond 4 collapse keys. */
  collapsed: number;
  /** Non-collapsible messages discarded because a device away had 100 stored. */
  discarded: number;
  deliveredFromStore: number;
}

/** What FCM keeps for a device that is away. */
interface DeviceStore {
  /** Non-collapsible and collapsible messages in the order they came; at most 4 collapse keys among them. */
  messages: FcmMessage[];
  /** Set when stored messages were discarded: the device gets a `deleted_messages` notice first. */
  deleted: boolean;
}

export class FcmService {
  readonly clock: Clock;
  readonly projectId: string;
  readonly accessToken: string;
  private readonly faults: FaultBoard | undefined;
  private readonly rng: Rng;
  private readonly maxPerMinute: number;
  /** token → project it was issued for; `unregistered` once the app instance is gone. */
  private readonly tokens = new Map<string, { projectId: string; unregistered: boolean; platform: FcmPlatform }>();
  private readonly sinks = new Map<string, (m: FcmMessage) => void>();
  private readonly store = new Map<string, DeviceStore>();
  private readonly rate = new Map<string, { windowStart: number; count: number }>();
  /** Projects whose APNs or Web Push credentials (uploaded to Firebase) are missing or invalid. */
  private readonly badThirdPartyAuth = new Set<string>();
  private readonly checkAccessToken: ((token: string) => AccessCheck) | undefined;
  readonly stats: FcmStats = {
    requests: 0,
    accepted: 0,
    validated: 0,
    rejected: {},
    deliveredNow: 0,
    stored: 0,
    collapsed: 0,
    discarded: 0,
    deliveredFromStore: 0,
  };

  constructor(options: FcmServiceOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.rng = options.rng ?? createRng(3);
    this.projectId = options.projectId ?? FCM_DEFAULT_PROJECT;
    this.accessToken = options.accessToken ?? 'harness-access-token';
    this.maxPerMinute = options.maxMessagesPerTokenPerMinute ?? 600;
    this.checkAccessToken = options.checkAccessToken;
  }

  registerToken(token: string, projectId = this.projectId, platform: FcmPlatform = 'android'): void {
    this.tokens.set(token, { projectId, unregistered: false, platform });
  }

  /**
   * Whether the APNs (or Web Push) credentials of a project, which FCM uses to reach Apple and web app instances,
   * are good: when not, messages to those tokens are 401 THIRD_PARTY_AUTH_ERROR.
   */
  setThirdPartyAuth(valid: boolean, projectId = this.projectId): void {
    if (valid) this.badThirdPartyAuth.delete(projectId);
    else this.badThirdPartyAuth.add(projectId);
  }

  /** What FCM keeps for a device that is away, in delivery order. */
  storedFor(token: string): FcmMessage[] {
    return [...(this.store.get(token)?.messages ?? [])];
  }

  unregisterToken(token: string): void {
    const t = this.tokens.get(token);
    if (t) t.unregistered = true;
  }

  /** A device's FCM connection; delivers what was kept for it first. Returns the disconnect function. */
  connect(token: string, sink: (m: FcmMessage) => void): () => void {
    this.sinks.set(token, sink);
    const kept = this.store.get(token);
    if (kept) {
      this.store.delete(token);
      // As Android's onDeletedMessages(): the app learns that messages were lost and can ask for a full sync.
      if (kept.deleted) sink({ id: `0:${this.clock.now()}%deleted`, token, data: { message_type: 'deleted_messages' }, acceptedAtMs: this.clock.now() });
      for (const m of kept.messages) {
        this.stats.deliveredFromStore += 1;
        sink(m);
      }
    }
    return () => {
      if (this.sinks.get(token) === sink) this.sinks.delete(token);
    };
  }

  /** What the mock received (set by the harness; the in-process simulation keeps no log). */
  traffic: TrafficLog | undefined;
  /** Errors scripted for the next messages to a token. */
  readonly script = new AnswerScript<FcmErrorCode>();
  /** `Retry-After` seconds of scripted 429s and 503s. */
  scriptedRetryAfterSeconds = FCM_SCRIPTED_RETRY_AFTER_S;

  /** Handles one send request as FCM would (or as a scripted answer says). */
  handle(req: FcmRequest): FcmResponse {
    let token: string | undefined;
    try {
      const t = (JSON.parse(req.body) as { message?: { token?: unknown } } | null)?.message?.token;
      token = typeof t === 'string' ? t : undefined;
    } catch {
      token = undefined;
    }
    const scripted = token === undefined ? undefined : this.script.take(token, undefined);
    let res: FcmResponse;
    if (scripted) {
      this.stats.requests += 1;
      res = this.failure(scripted, 'Scripted answer (pushcheck harness).');
      if (res.status === 429 || res.status === 503) res = { ...res, retryAfterSeconds: this.scriptedRetryAfterSeconds };
    } else {
      res = this.answer(req);
    }
    if (this.traffic) {
      const now = this.clock.now();
      this.traffic.record({
        service: 'fcm',
        atMs: now,
        at: new Date(now).toISOString(),
        token: token ?? null,
        topic: null,
        headers: recordedHeaders(req.authorization === undefined ? {} : { authorization: req.authorization }),
        payload: req.body,
        answer: {
          status: res.status,
          ...(res.errorCode ? { reason: res.errorCode } : {}),
          ...(res.retryAfterSeconds !== undefined ? { retryAfterSeconds: res.retryAfterSeconds } : {}),
          ...(scripted ? { scripted: true } : {}),
        },
      });
    }
    return res;
  }

  private failure(code: FcmErrorCode, message: string, violation?: string): FcmResponse {
    this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
    const { code: http, status } = FCM_ERRORS[code];
    const details: unknown[] = [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: code }];
    if (violation) details.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: violation, description: message }] });
    return { status: http, errorCode: code, body: { error: { code: http, message, status, details } } };
  }

  /** A body Google's front end refuses before FCM reads it: 400 with the field violations, no FcmError detail. */
  private badRequest(found: FieldViolation[]): FcmResponse {
    this.stats.rejected.INVALID_ARGUMENT = (this.stats.rejected.INVALID_ARGUMENT ?? 0) + 1;
    const message = found.map((v) => v.description).join('\n');
    return {
      status: 400,
      errorCode: 'INVALID_ARGUMENT',
      body: { error: { code: 400, message, status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: found }] } },
    };
  }

  private authenticate(authorization: string | undefined): FcmResponse | undefined {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    const judged: AccessCheck = bearer === undefined ? 'unauthenticated' : bearer === this.accessToken ? 'ok' : (this.checkAccessToken?.(bearer) ?? 'unauthenticated');
    if (judged === 'ok') return undefined;
    if (judged === 'insufficient-scope') {
      this.stats.rejected.PERMISSION_DENIED = (this.stats.rejected.PERMISSION_DENIED ?? 0) + 1;
      return {
        status: 403,
        errorCode: 'PERMISSION_DENIED',
        body: { error: { code: 403, message: 'Request had insufficient authentication scopes.', status: 'PERMISSION_DENIED' } },
      };
    }
    this.stats.rejected.UNAUTHENTICATED = (this.stats.rejected.UNAUTHENTICATED ?? 0) + 1;
    return {
      status: 401,
      errorCode: 'UNAUTHENTICATED',
      body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } },
    };
  }

  private answer(req: FcmRequest): FcmResponse {
    this.stats.requests += 1;
    const fail = (code: FcmErrorCode, message: string, violation?: string): FcmResponse => this.failure(code, message, violation);
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.path);
    if (!m) return { status: 404, body: { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } } };
    if (req.method !== 'POST') {
      return { status: 405, body: { error: { code: 405, message: 'Method Not Allowed', status: 'METHOD_NOT_ALLOWED' } } };
    }
    const unauthenticated = this.authenticate(req.authorization);
    if (unauthenticated) return unauthenticated;
    const now = this.clock.now();
    if (this.faults?.isOn('fcm-down', now)) {
      return { ...fail('UNAVAILABLE', 'The service is currently unavailable.'), retryAfterSeconds: FCM_UNAVAILABLE_RETRY_AFTER_S };
    }
    const errorRate = this.faults?.value('fcm-error', now);
    if (errorRate !== undefined && this.rng.chance(errorRate)) return fail('INTERNAL', 'Internal error encountered.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch {
      return fail('INVALID_ARGUMENT', 'Invalid JSON payload received.', 'message');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return this.badRequest([{ description: 'Invalid JSON payload received. Expected an object.' }]);
    }
    const found = violations(parsed as Record<string, unknown>);
    if (found.length > 0) return this.badRequest(found);
    const request = parsed as { message?: FcmMessageBody; validate_only?: boolean; validateOnly?: boolean };
    const validateOnly = (request.validate_only ?? request.validateOnly) === true;
    const message = request.message;
    if (!message) return fail('INVALID_ARGUMENT', 'Recipient of the message is not set.', 'message');
    if (typeof message.token !== 'string' || message.token === '') {
      return fail('INVALID_ARGUMENT', 'Recipient of the message is not set.', 'message');
    }
    const data: Record<string, string> = { ...(message.data ?? {}) };
    for (const k of Object.keys(data)) {
      if (k === 'from' || k === 'gcm' || k.startsWith('google')) return fail('INVALID_ARGUMENT', `Invalid data key ${k}`, 'message.data');
    }
    const dataBytes = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (dataBytes > FCM_MAX_DATA_BYTES) return fail('INVALID_ARGUMENT', 'Message is too big.', 'message');
    if (!/^[\w:-]{20,}$/.test(message.token)) {
      return fail('INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'message.token');
    }
    const token = this.tokens.get(message.token);
    if (!token || token.unregistered) return fail('UNREGISTERED', 'Requested entity was not found.');
    if (token.projectId !== m[1]) return fail('SENDER_ID_MISMATCH', 'SenderId mismatch');
    if (token.platform !== 'android' && this.badThirdPartyAuth.has(token.projectId)) {
      return fail('THIRD_PARTY_AUTH_ERROR', 'Auth error from APNS or Web Push Service');
    }
    // Validated: a validate_only request stops here, delivers nothing and counts against no limit.
    if (validateOnly) {
      this.stats.validated += 1;
      return { status: 200, body: { name: `projects/${m[1]}/messages/${FCM_VALIDATE_ONLY_ID}` } };
    }
    const window = this.rate.get(message.token);
    if (!window || now - window.windowStart >= 60_000) this.rate.set(message.token, { windowStart: now, count: 1 });
    else if (++window.count > this.maxPerMinute) {
      return { ...fail('QUOTA_EXCEEDED', 'Quota exceeded for this device.'), retryAfterSeconds: Math.max(1, Math.ceil((window.windowStart + 60_000 - now) / 1000)) };
    }

    const id = `0:${now}%${randomHex(this.rng, 8)}`;
    this.stats.accepted += 1;
    const collapseKey = message.notification !== undefined || message.android?.notification !== undefined ? NOTIFICATION_COLLAPSE_KEY : message.android?.collapse_key ?? message.android?.collapseKey;
    const msg: FcmMessage = { id, token: message.token, data, acceptedAtMs: now, ...(collapseKey !== undefined ? { collapseKey } : {}) };
    const sink = this.sinks.get(message.token);
    if (sink) {
      this.stats.deliveredNow += 1;
      sink(msg);
    } else {
      this.keep(msg);
    }
    return { status: 200, body: { name: `projects/${m[1]}/messages/${id}` } };
  }

  /** Stores a message for a device that is away, within FCM's limits. */
  private keep(msg: FcmMessage): void {
    let kept = this.store.get(msg.token);
    if (!kept) {
      kept = { messages: [], deleted: false };
      this.store.set(msg.token, kept);
    }
    this.stats.stored += 1;
    if (msg.collapseKey !== undefined) {
      const same = kept.messages.findIndex((s) => s.collapseKey === msg.collapseKey);
      if (same >= 0) {
        kept.messages.splice(same, 1);
        this.stats.collapsed += 1;
      } else {
        const keys = kept.messages.filter((s) => s.collapseKey !== undefined);
        // FCM keeps 4 collapse keys "with no guarantees about which ones": the mock drops the oldest.
        if (keys.length >= FCM_MAX_COLLAPSE_KEYS) {
          kept.messages.splice(kept.messages.indexOf(keys[0]!), 1);
          this.stats.collapsed += 1;
        }
      }
      kept.messages.push(msg);
      return;
    }
    const plain = kept.messages.filter((s) => s.collapseKey === undefined).length;
    if (plain >= FCM_MAX_STORED_MESSAGES) {
      // "If the limit is reached, all stored messages are discarded": the device is told when it comes back.
      kept.messages = kept.messages.filter((s) => s.collapseKey !== undefined);
      kept.deleted = true;
      this.stats.discarded += plain;
    }
    kept.messages.push(msg);
  }
}

/** The parts of a Message the mock acts on (the schema has checked their types). */
interface FcmMessageBody {
  token?: string;
  data?: Record<string, string>;
  notification?: unknown;
  android?: { collapse_key?: string; collapseKey?: string; notification?: unknown };
}
