/**
 * The mock FCM: HTTP v1 `POST /v1/projects/<project>/messages:send` with the documented error codes, as
 * plain state (`FcmService`) and behind HTTPS (`startFcmServer` in fcm-http.ts, HTTP/1.1 and HTTP/2). Android devices with
 * Google Play services hold a connection to it (in process, or over the courier line protocol) and are
 * woken by data messages; messages for a device that is away are kept, newest only (collapsed).
 */
import type { Clock } from '../clock.js';
import type { FaultBoard } from '../faults.js';
import { createRng, randomHex, type Rng } from '../random.js';
import { AnswerScript, recordedHeaders, type TrafficLog } from './traffic.js';

/** FCM v1 error codes the mock produces, with HTTP status and canonical status. */
export const FCM_ERRORS = {
  INVALID_ARGUMENT: { code: 400, status: 'INVALID_ARGUMENT' },
  UNREGISTERED: { code: 404, status: 'NOT_FOUND' },
  SENDER_ID_MISMATCH: { code: 403, status: 'PERMISSION_DENIED' },
  QUOTA_EXCEEDED: { code: 429, status: 'RESOURCE_EXHAUSTED' },
  UNAVAILABLE: { code: 503, status: 'UNAVAILABLE' },
} as const;
export type FcmErrorCode = keyof typeof FCM_ERRORS;

/** Largest data payload of a message to a token, in bytes (keys and values). */
export const FCM_MAX_DATA_BYTES = 4096;

export interface FcmMessage {
  id: string;
  token: string;
  data: Record<string, string>;
  acceptedAtMs: number;
}

export interface FcmResponse {
  status: number;
  body: unknown;
  errorCode?: FcmErrorCode | 'UNAUTHENTICATED';
}

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
  maxMessagesPerTokenPerMinute?: number;
}

export interface FcmStats {
  requests: number;
  accepted: number;
  rejected: Record<string, number>;
  deliveredNow: number;
  stored: number;
  deliveredFromStore: number;
}

export class FcmService {
  readonly clock: Clock;
  readonly projectId: string;
  readonly accessToken: string;
  private readonly faults: FaultBoard | undefined;
  private readonly rng: Rng;
  private readonly maxPerMinute: number;
  /** token → project it was issued for; `unregistered` once the app instance is gone. */
  private readonly tokens = new Map<string, { projectId: string; unregistered: boolean }>();
  private readonly sinks = new Map<string, (m: FcmMessage) => void>();
  private readonly store = new Map<string, FcmMessage>();
  private readonly rate = new Map<string, { windowStart: number; count: number }>();
  readonly stats: FcmStats = { requests: 0, accepted: 0, rejected: {}, deliveredNow: 0, stored: 0, deliveredFromStore: 0 };

  constructor(options: FcmServiceOptions) {
    this.clock = options.clock;
    this.faults = options.faults;
    this.rng = options.rng ?? createRng(3);
    this.projectId = options.projectId ?? 'pushcheck-harness';
    this.accessToken = options.accessToken ?? 'harness-access-token';
    this.maxPerMinute = options.maxMessagesPerTokenPerMinute ?? 600;
  }

  registerToken(token: string, projectId = this.projectId): void {
    this.tokens.set(token, { projectId, unregistered: false });
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
      this.stats.deliveredFromStore += 1;
      sink(kept);
    }
    return () => {
      if (this.sinks.get(token) === sink) this.sinks.delete(token);
    };
  }

  /** What the mock received (set by the harness; the in-process simulation keeps no log). */
  traffic: TrafficLog | undefined;
  /** Errors scripted for the next messages to a token. */
  readonly script = new AnswerScript<FcmErrorCode>();

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
        answer: { status: res.status, ...(res.errorCode ? { reason: res.errorCode } : {}), ...(scripted ? { scripted: true } : {}) },
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

  private answer(req: FcmRequest): FcmResponse {
    this.stats.requests += 1;
    const fail = (code: FcmErrorCode, message: string, violation?: string): FcmResponse => this.failure(code, message, violation);
    const m = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.path);
    if (!m) return { status: 404, body: { error: { code: 404, message: 'Not Found', status: 'NOT_FOUND' } } };
    if (req.method !== 'POST') {
      return { status: 405, body: { error: { code: 405, message: 'Method Not Allowed', status: 'METHOD_NOT_ALLOWED' } } };
    }
    if (req.authorization !== `Bearer ${this.accessToken}`) {
      this.stats.rejected.UNAUTHENTICATED = (this.stats.rejected.UNAUTHENTICATED ?? 0) + 1;
      return {
        status: 401,
        errorCode: 'UNAUTHENTICATED',
        body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } },
      };
    }
    const now = this.clock.now();
    if (this.faults?.isOn('fcm-down', now)) return fail('UNAVAILABLE', 'The service is currently unavailable.');
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch {
      return fail('INVALID_ARGUMENT', 'Invalid JSON payload received.', 'message');
    }
    const message = (parsed as { message?: { token?: unknown; data?: unknown } } | null)?.message;
    if (!message || typeof message !== 'object') return fail('INVALID_ARGUMENT', 'Recipient of the message is not set.', 'message');
    if (typeof message.token !== 'string' || message.token === '') {
      return fail('INVALID_ARGUMENT', 'Recipient of the message is not set.', 'message');
    }
    const data: Record<string, string> = {};
    if (message.data !== undefined) {
      if (typeof message.data !== 'object' || message.data === null) return fail('INVALID_ARGUMENT', 'Invalid data.', 'message.data');
      for (const [k, v] of Object.entries(message.data)) {
        if (typeof v !== 'string') return fail('INVALID_ARGUMENT', `Invalid value at 'message.data[${k}]'`, `message.data[${k}]`);
        if (k === 'from' || k === 'gcm' || k.startsWith('google')) return fail('INVALID_ARGUMENT', `Invalid data key ${k}`, 'message.data');
        data[k] = v;
      }
    }
    const dataBytes = Object.entries(data).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
    if (dataBytes > FCM_MAX_DATA_BYTES) return fail('INVALID_ARGUMENT', 'Message is too big.', 'message');
    if (!/^[\w:-]{20,}$/.test(message.token)) {
      return fail('INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'message.token');
    }
    const token = this.tokens.get(message.token);
    if (!token || token.unregistered) return fail('UNREGISTERED', 'Requested entity was not found.');
    if (token.projectId !== m[1]) return fail('SENDER_ID_MISMATCH', 'SenderId mismatch');
    const window = this.rate.get(message.token);
    if (!window || now - window.windowStart >= 60_000) this.rate.set(message.token, { windowStart: now, count: 1 });
    else if (++window.count > this.maxPerMinute) return fail('QUOTA_EXCEEDED', 'Quota exceeded for this device.');

    const id = `0:${now}%${randomHex(this.rng, 8)}`;
    this.stats.accepted += 1;
    const msg: FcmMessage = { id, token: message.token, data, acceptedAtMs: now };
    const sink = this.sinks.get(message.token);
    if (sink) {
      this.stats.deliveredNow += 1;
      sink(msg);
    } else {
      this.stats.stored += 1;
      this.store.set(message.token, msg);
    }
    return { status: 200, body: { name: `projects/${m[1]}/messages/${id}` } };
  }
}
