/**
 * Faults: what can go wrong on the way from the MDM server to a device, parsed from
 * `NAME[=VALUE][@START-END]` (the value and the window may come in either order), and a board that says
 * which faults are on at a given time: scheduled windows from the command line plus switches flipped
 * through the admin API.
 */
import { UsageError } from '../errors.js';
import { HOUR_MS } from './clock.js';
import type { Rng } from './random.js';

/** Every fault the harness knows. */
export type FaultName =
  | 'apns-down'
  | 'apns-error'
  | 'apns-throttle'
  | 'block-5223'
  | 'offline'
  | 'expired-cert'
  | 'expired-token'
  | 'wrong-topic'
  | 'fcm-down'
  | 'fcm-error'
  | 'notnow'
  | 'drop'
  | 'command-error';

type ValueKind = 'none' | 'fraction' | 'count';

/** Most a counted fault may repeat (NotNow answers per action): past it a run would only spin. */
export const MAX_FAULT_COUNT = 1000;

/** What is wrong with `value` for a fault taking `kind`, or undefined; the CLI and the admin API share it. */
export function faultValueProblem(kind: ValueKind, value: number): string | undefined {
  if (!Number.isFinite(value)) return 'must be a number';
  if (kind === 'fraction' && (value < 0 || value > 1)) return 'must be a fraction between 0 and 1';
  if (kind === 'count' && (!Number.isInteger(value) || value < 1 || value > MAX_FAULT_COUNT)) return `must be a whole number from 1 to ${MAX_FAULT_COUNT}`;
  return undefined;
}

/**
 * The counters a fault's effects are read from, named by what they hold (the MDM server's, the devices'
 * and APNs's counters match it as they are; kept structural so that this registry depends on no service).
 */
export interface FaultEvidence {
  mdm: { pushesRejected: Record<string, number>; pushRetries: number; notNows: number; redeliveries: number; ignoredAnswers: number };
  devices: {
    fallbacksTo443: number;
    courier443: number;
    courier5223: number;
    pushesIgnored: number;
    exchangesDropped: number;
    errorsSent: number;
  };
  apns: { stored: number; coalesced: number };
  /** Devices in the fleet. */
  fleetSize: number;
}

/** What a fault window does to the devices of a fleet, beyond what the services read from the board. */
export interface FaultDevice {
  readonly courierPort: 5223 | 443 | undefined;
  goOffline(): void;
  goOnline(): void;
  reconnectCourier(): void;
}

export interface FaultInfo {
  value: ValueKind;
  /** Value when none is given. */
  defaultValue: number;
  description: string;
  /** What the fault did, in counts, for the simulation report. */
  effects(evidence: FaultEvidence, value: number): Record<string, number>;
  /**
   * Acts on the fleet when a window opens (`value`, the devices, and a random pick); returns what to do when it
   * closes. Absent for faults that the services and devices read from the board themselves.
   */
  onDevices?(devices: readonly FaultDevice[], value: number, pick: Rng, atRunStart: boolean): (() => void) | void;
}

const rejected = (e: FaultEvidence, prefix: string): number =>
  Object.entries(e.mdm.pushesRejected).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);

/** What each fault does; the order is the order of `--help` and of the report. */
export const FAULTS: Readonly<Record<FaultName, FaultInfo>> = {
  'apns-down': {
    value: 'none',
    defaultValue: 1,
    description: 'APNs provider API answers 503 ServiceUnavailable',
    effects: (e) => ({ pushesRejected503: rejected(e, '503'), pushRetries: e.mdm.pushRetries }),
  },
  'apns-error': {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'APNs answers 500 InternalServerError to a fraction of pushes',
    effects: (e) => ({ pushesRejected500: rejected(e, '500'), pushRetries: e.mdm.pushRetries }),
  },
  'apns-throttle': {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'APNs answers 429 TooManyRequests to a fraction of pushes',
    effects: (e) => ({ pushesRejected429: rejected(e, '429'), pushRetries: e.mdm.pushRetries }),
  },
  'block-5223': {
    value: 'none',
    defaultValue: 1,
    description: 'port 5223 blocked: devices fall back to 443 (as on Wi-Fi)',
    effects: (e) => ({ fallbacksTo443: e.devices.fallbacksTo443, courier443: e.devices.courier443, courier5223: e.devices.courier5223 }),
    // Connections open when the block appears are cut (at the start of a run devices find it as they connect).
    onDevices: (devices, _value, _pick, atRunStart) => {
      if (atRunStart) return;
      for (const d of devices) if (d.courierPort === 5223) d.reconnectCourier();
    },
  },
  offline: {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'a fraction of devices loses its network',
    effects: (e, value) => ({ devicesOffline: Math.round(value * e.fleetSize), apnsStored: e.apns.stored, apnsCoalesced: e.apns.coalesced }),
    onDevices: (devices, value, pick) => {
      const chosen = sample(devices, Math.round(value * devices.length), pick);
      for (const d of chosen) d.goOffline();
      return () => {
        for (const d of chosen) d.goOnline();
      };
    },
  },
  'expired-cert': {
    value: 'none',
    defaultValue: 1,
    description: 'provider certificate expired: pushes rejected with 403 BadCertificate',
    effects: (e) => ({ pushesRejected403: rejected(e, '403') }),
  },
  'expired-token': {
    value: 'none',
    defaultValue: 1,
    description: 'provider token expired: pushes rejected with 403 ExpiredProviderToken',
    effects: (e) => ({ pushesRejected403: rejected(e, '403') }),
  },
  'wrong-topic': {
    value: 'none',
    defaultValue: 1,
    description: 'the MDM server pushes on a topic its certificate is not for: APNs answers 400 TopicDisallowed (DeviceTokenNotForTopic with token auth)',
    effects: (e) => ({ pushesRejected400: rejected(e, '400') }),
  },
  'fcm-down': {
    value: 'none',
    defaultValue: 1,
    description: 'FCM answers 503 UNAVAILABLE (Retry-After: 10)',
    effects: (e) => ({ fcmRejected503: rejected(e, '503'), pushRetries: e.mdm.pushRetries }),
  },
  'fcm-error': {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'FCM answers 500 INTERNAL to a fraction of messages',
    effects: (e) => ({ fcmRejected500: rejected(e, '500'), pushRetries: e.mdm.pushRetries }),
  },
  notnow: {
    value: 'count',
    defaultValue: 1,
    description: 'devices answer NotNow N times to each command before acting on it',
    effects: (e) => ({ notNows: e.mdm.notNows }),
  },
  drop: {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'a fraction of device connections drops mid-exchange',
    effects: (e) => ({ exchangesDropped: e.devices.exchangesDropped, redeliveries: e.mdm.redeliveries, ignoredAnswers: e.mdm.ignoredAnswers }),
  },
  'command-error': {
    value: 'fraction',
    defaultValue: 0.1,
    description: 'devices answer Error to a fraction of commands',
    effects: (e) => ({ errorsAnswered: e.devices.errorsSent }),
  },
};

/** `n` items drawn at random without repetition (a partial Fisher–Yates shuffle). */
export function sample<T>(items: readonly T[], n: number, rng: Rng): T[] {
  const copy = items.slice();
  const k = Math.min(n, copy.length);
  for (let i = 0; i < k; i += 1) {
    const j = rng.int(i, copy.length - 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}

export const FAULT_NAMES = Object.keys(FAULTS) as FaultName[];

export function isFaultName(name: string): name is FaultName {
  return Object.prototype.hasOwnProperty.call(FAULTS, name);
}

/** One parsed `--fault`. Window times are offsets from the start of the run, in ms. */
export interface FaultSpec {
  name: FaultName;
  value: number;
  /** Start of the window (inclusive); 0 when no window was given. */
  startMs: number;
  /** End of the window (exclusive); Infinity when no window was given. */
  endMs: number;
  /** The text it was parsed from. */
  text: string;
}

const DURATION = /^(\d+(?:\.\d+)?)(h|m|s|ms)?$/;
const UNIT_MS: Record<string, number> = { h: HOUR_MS, m: 60_000, s: 1000, ms: 1 };

/** `2h`, `90m`, `30s`, `1.5` (hours) → ms; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 'h']!);
}

function fail(text: string, why: string): never {
  throw new UsageError(`--fault ${text}: ${why}`);
}

/** Parses one `--fault` argument; a malformed one is a one-line UsageError. */
export function parseFault(text: string): FaultSpec {
  const m = /^([a-z0-9-]+)(?:=([^@]*))?(?:@([^=]*))?(?:=(.*))?$/.exec(text.trim());
  if (!m) fail(text, 'expected NAME[=VALUE][@START-END]');
  const name = m[1]!;
  if (!isFaultName(name)) fail(text, `unknown fault "${name}" (known: ${FAULT_NAMES.join(', ')})`);
  if (m[2] !== undefined && m[4] !== undefined) fail(text, 'value given twice');
  const info = FAULTS[name];
  const rawValue = m[2] ?? m[4];
  let value = info.defaultValue;
  if (rawValue !== undefined) {
    if (info.value === 'none') fail(text, `${name} takes no value`);
    const n = Number(rawValue);
    if (rawValue.trim() === '' || !Number.isFinite(n)) fail(text, `value "${rawValue}" is not a number`);
    const problem = faultValueProblem(info.value, n);
    if (problem) fail(text, `value ${rawValue} ${problem}`);
    value = n;
  }
  let startMs = 0;
  let endMs = Infinity;
  if (m[3] !== undefined) {
    const w = /^([^-]+)-([^-]+)$/.exec(m[3]);
    if (!w) fail(text, `window "${m[3]}" must be START-END, e.g. 2h-4h`);
    const start = parseDuration(w[1]!);
    const end = parseDuration(w[2]!);
    if (start === undefined) fail(text, `window start "${w[1]}" is not a duration (e.g. 2h, 90m)`);
    if (end === undefined) fail(text, `window end "${w[2]}" is not a duration (e.g. 4h, 240m)`);
    if (end <= start) fail(text, `window end ${w[2]} is not after its start ${w[1]}`);
    startMs = start;
    endMs = end;
  }
  return { name, value, startMs, endMs, text };
}

/** Human form of a window, e.g. "2h-4h" or "whole run". */
export function describeWindow(spec: FaultSpec): string {
  if (spec.startMs === 0 && spec.endMs === Infinity) return 'whole run';
  const f = (ms: number): string => (ms === Infinity ? 'end' : `${+(ms / HOUR_MS).toFixed(3)}h`);
  return `${f(spec.startMs)}-${f(spec.endMs)}`;
}

export type FaultListener = (name: FaultName, value: number | undefined) => void;

/**
 * Which faults are on, when. Scheduled faults are windows relative to `originMs` (the start of the run);
 * switched faults (admin API) are on until switched off and win over scheduled ones.
 */
export class FaultBoard {
  private readonly switched = new Map<FaultName, number>();
  private readonly listeners = new Set<FaultListener>();

  constructor(
    readonly scheduled: readonly FaultSpec[] = [],
    public originMs = 0,
  ) {}

  /** The fault's value at `nowMs`, or undefined when it is off. */
  value(name: FaultName, nowMs: number): number | undefined {
    const manual = this.switched.get(name);
    if (manual !== undefined) return manual;
    const t = nowMs - this.originMs;
    for (const spec of this.scheduled) {
      if (spec.name === name && t >= spec.startMs && t < spec.endMs) return spec.value;
    }
    return undefined;
  }

  isOn(name: FaultName, nowMs: number): boolean {
    return this.value(name, nowMs) !== undefined;
  }

  /** Switches a fault on (with its default value unless given) until `clear`. */
  set(name: FaultName, value = FAULTS[name].defaultValue): void {
    this.switched.set(name, value);
    for (const l of this.listeners) l(name, value);
  }

  clear(name: FaultName): void {
    if (!this.switched.delete(name)) return;
    for (const l of this.listeners) l(name, undefined);
  }

  /** Faults switched on through `set`, with their values. */
  switchedOn(): Array<{ name: FaultName; value: number }> {
    return [...this.switched].map(([name, value]) => ({ name, value }));
  }

  onChange(listener: FaultListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
