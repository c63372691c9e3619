/**
 * What the mock APNs and FCM received, and answers scripted ahead of time: a test asserts on the first and
 * uses the second to drive a client's error handling ("answer 410 Unregistered for token X").
 */

/** One request a mock received and the answer it gave. */
export interface RecordedRequest {
  service: 'apns' | 'fcm';
  /** When it arrived (the harness clock), ms since the epoch, and as ISO text. */
  atMs: number;
  at: string;
  token: string | null;
  topic: string | null;
  /** Request headers, lower-case; credentials (authorization) elided. */
  headers: Record<string, string>;
  payload: string;
  answer: { status: number; reason?: string; apnsId?: string; uniqueId?: string; timestamp?: number; retryAfterSeconds?: number; scripted?: boolean };
}

export interface TrafficFilter {
  token?: string;
  topic?: string;
}

/** Requests kept for the admin API (the newest `limit`), each also handed to `sink` (e.g. `--record FILE`). */
export class TrafficLog {
  private entries: RecordedRequest[] = [];

  constructor(
    private readonly limit = 10_000,
    private readonly sink?: (entry: RecordedRequest) => void,
  ) {}

  record(entry: RecordedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    this.sink?.(entry);
  }

  list(service: RecordedRequest['service'], filter: TrafficFilter = {}): RecordedRequest[] {
    return this.entries.filter(
      (e) =>
        e.service === service &&
        (filter.token === undefined || e.token === filter.token.toLowerCase() || e.token === filter.token) &&
        (filter.topic === undefined || e.topic === filter.topic),
    );
  }

  clear(service: RecordedRequest['service']): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.service !== service);
    return before - this.entries.length;
  }
}

/** An answer to give, in place of the real one, to the next `remaining` requests that match. */
export interface ScriptedAnswer<Reason extends string = string> {
  token?: string;
  topic?: string;
  reason: Reason;
  remaining: number;
}

/** Scripted answers, first added first used; a rule is dropped when used up. */
export class AnswerScript<Reason extends string = string> {
  private rules: Array<ScriptedAnswer<Reason>> = [];

  add(rule: ScriptedAnswer<Reason>): void {
    this.rules.push({ ...rule, ...(rule.token ? { token: rule.token.toLowerCase() } : {}) });
  }

  /** The reason to answer a request for `token` on `topic` with, if a rule matches (and uses it up once). */
  take(token: string | undefined, topic: string | undefined): Reason | undefined {
    if (this.rules.length === 0) return undefined;
    const t = token?.toLowerCase();
    const i = this.rules.findIndex((r) => (r.token === undefined || r.token === t) && (r.topic === undefined || r.topic === topic));
    if (i < 0) return undefined;
    const rule = this.rules[i]!;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules.splice(i, 1);
    return rule.reason;
  }

  list(): Array<ScriptedAnswer<Reason>> {
    return this.rules.map((r) => ({ ...r }));
  }

  clear(): void {
    this.rules = [];
  }
}

/** Headers as recorded: authorization elided (a provider token or an OAuth token is a credential). */
export function recordedHeaders(headers: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = k === 'authorization' ? `${v.split(' ')[0]} …` : v;
  return out;
}
