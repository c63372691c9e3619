/**
 * The fleet engine behind `pushcheck simulate`: devices, actions spread over the run, fault windows, and a
 * report of what reached whom, how fast, and what is still pending and why.
 *
 * `speed: 'max'` runs everything in process on a virtual clock (deterministic for a seed; 100,000 devices).
 * A number runs the same devices over real sockets against `startHarness`, on the wall clock sped up by it.
 */
import { type Clock, HOUR_MS, MINUTE_MS, ScaledClock, VirtualClock } from './clock.js';
import { actionView, type Action, type DeliveryPath, DELIVERY_PATHS, type MdmService, DEFAULT_PUSH_RETRY_DELAYS_MS, type MdmCounters } from './mdm.js';
import type { ApnsService } from './apns.js';
import { inProcessPusher, type ProviderAuth } from './pushers.js';
import { createPushServices } from './services.js';
import { describeWindow, FaultBoard, FAULTS, type FaultSpec } from './faults.js';
import { createRng, randomUuid } from './random.js';
import { generateProviderKey } from './jwt.js';
import { DEFAULT_TIMING, newDeviceCounters, SimDevice, type DeviceCounters, type DeviceTiming } from './devices.js';
import { InProcessEnv } from './env-in-process.js';
import { androidWithoutGcm, makeProfiles } from './fleet.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';
import { startHarness, type Harness } from './harness.js';

export const REQUEST_TYPES = ['DeviceInformation', 'InstallProfile', 'InstallApplication', 'DeviceLock', 'ProfileList'] as const;
/** Largest fleet run over real sockets: each device holds a courier connection. */
export const MAX_SOCKET_DEVICES = 2000;
/** Virtual start of a `--speed max` run, so that runs are identical whatever the day. */
export const SIMULATION_EPOCH_MS = Date.UTC(2025, 0, 6);

export interface SimulationOptions {
  ios: number;
  android: number;
  /** Fraction of Android devices without Google Play services. */
  noGcm?: number;
  hours: number;
  speed: number | 'max';
  /** Actions to send, spread at random over the run; default one per device. */
  actions?: number;
  faults?: FaultSpec[];
  seed?: number;
  /** Virtual clock to run on (tests); only with speed 'max'. */
  clock?: VirtualClock;
  /** How the MDM server authenticates to APNs; default certificate, or token when an expired-token fault is given. */
  auth?: 'certificate' | 'token';
  timing?: Partial<DeviceTiming>;
  commandTtlMs?: number;
  pushRetryDelaysMs?: number[];
  /** Time after the last hour for the fleet to finish; default one heartbeat plus the push retries plus 5 minutes. */
  drainMs?: number;
  /** Put every action with its history into the report (`actions`); off by default (large fleets). */
  includeActions?: boolean;
}

export interface FaultEffect {
  fault: string;
  window: string;
  description: string;
  /** Actions queued while the fault was on. */
  actions: number;
  acknowledged: number;
  failed: number;
  pending: number;
  latency: LatencySummary;
  latencyByPath: Record<DeliveryPath, LatencySummary>;
  /** What the fault did, in counts. */
  effects: Record<string, number>;
}

export interface SimulationSummary {
  devices: number;
  ios: number;
  android: number;
  androidWithoutGcm: number;
  actionsSent: number;
  actionsDelivered: number;
  actionsAcknowledged: number;
  /** Device said Error/CommandFormatError, or the command expired. */
  actionsFailed: number;
  actionsErrored: number;
  actionsExpired: number;
  actionsPending: number;
  /** Actions the harness lost track of (or that broke an invariant); always 0. */
  actionsLost: number;
  /** Actions acknowledged more than once; always 0. */
  actionsAcknowledgedTwice: number;
  pings: number;
  pingBytes: number;
  pingsPerDeviceHour: number;
  bytesPerDeviceHour: number;
  bytesPerPing: number;
  /** Round trip (queued → answered) per path, simulated ms. */
  latency: Record<DeliveryPath, LatencySummary>;
}

export interface SimulationReport {
  schemaVersion: 1;
  seed: number;
  speed: number | 'max';
  /** Virtual time the run started at (ISO). */
  startedAt: string;
  hours: number;
  /** Hours simulated including the drain after the last hour. */
  simulatedHours: number;
  wallMs: number;
  peakRssBytes: number;
  events?: number;
  summary: SimulationSummary;
  pending: Array<{ reason: string; count: number }>;
  pushes: { sent: number; accepted: number; rejected: Record<string, number>; retries: number };
  mdm: MdmCounters;
  devices: DeviceCounters & { offlineAtEnd: number };
  faults: FaultEffect[];
  /** Actions queued while no fault window was open (only when some fault had a window). */
  baseline?: FaultEffect;
  /** Every action (with `includeActions`), times relative to the start of the run. */
  actions?: Array<ReturnType<typeof actionView> & { platform: 'ios' | 'android'; gcm: boolean; pendingReason?: string }>;
  exitCode: 0 | 1;
}

interface Fleet {
  clock: Clock;
  mdm: MdmService;
  apns: ApnsService;
  devices: SimDevice[];
  counters: DeviceCounters;
  close(): Promise<void>;
}

function defaultDrainMs(timing: DeviceTiming, retries: number[]): number {
  return timing.heartbeatMs + retries.reduce((a, b) => a + b, 0) + 5 * MINUTE_MS;
}

function inProcessFleet(o: SimulationOptions, faults: FaultBoard, clock: VirtualClock, timing: DeviceTiming, seed: number): Fleet {
  const rng = createRng(seed);
  const { apns, fcm, mdm } = createPushServices(clock, faults, rng, {
    ...(o.pushRetryDelaysMs && { pushRetryDelaysMs: o.pushRetryDelaysMs }),
    ...(o.commandTtlMs && { commandTtlMs: o.commandTtlMs }),
  });
  const topic = `com.apple.mgmt.External.${randomUuid(rng.fork('topic')).toLowerCase()}`;
  let auth: ProviderAuth = { kind: 'certificate', topic };
  if (chooseAuth(o) === 'token') {
    const key = generateProviderKey();
    apns.addProviderKey({ keyId: 'SIMKEY', teamId: 'SIMTEAM', publicKey: key.publicKey, topics: [] });
    auth = { kind: 'token', topic, keyId: 'SIMKEY', teamId: 'SIMTEAM', privateKey: key.privateKey };
  }
  mdm.pusher = inProcessPusher({ clock, apns, fcm, auth });
  const counters = newDeviceCounters();
  const env = new InProcessEnv({ clock, mdm, apns, fcm, faults, rng: rng.fork('net'), timing });
  const ctx = { env, faults, rng: rng.fork('devices'), timing, counters };
  const profiles = makeProfiles({ ios: o.ios, android: o.android, noGcm: o.noGcm ?? 0, topic, rng: rng.fork('profiles') });
  const devices = profiles.map((p) => new SimDevice(p, ctx));
  for (const d of devices) d.start();
  return { clock, mdm, apns, devices, counters, close: async () => undefined };
}

function chooseAuth(o: SimulationOptions): 'certificate' | 'token' {
  return o.auth ?? ((o.faults ?? []).some((f) => f.name === 'expired-token') ? 'token' : 'certificate');
}

async function socketFleet(o: SimulationOptions, faults: FaultBoard, clock: ScaledClock, timing: DeviceTiming, seed: number): Promise<Fleet & { harness: Harness }> {
  const harness = await startHarness({
    clock,
    faults,
    seed,
    auth: chooseAuth(o),
    timing,
    ...(o.pushRetryDelaysMs ? { pushRetryDelaysMs: o.pushRetryDelaysMs } : {}),
    ...(o.commandTtlMs ? { commandTtlMs: o.commandTtlMs } : {}),
  });
  const devices = harness.addDevices({ ios: o.ios, android: o.android, noGcm: o.noGcm ?? 0 });
  // Enrollment goes over HTTPS: the run (and its clock origin) starts once every device is enrolled.
  const deadline = Date.now() + 30_000;
  while (harness.mdm.devices.size < devices.length) {
    if (Date.now() > deadline) {
      await harness.close();
      throw new Error(`simulate: only ${harness.mdm.devices.size} of ${devices.length} devices enrolled within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    clock,
    mdm: harness.mdm,
    apns: harness.apns,
    devices,
    counters: harness.deviceCounters,
    harness,
    close: () => harness.close(),
  };
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationReport> {
  const wallStart = performance.now();
  const seed = o.seed ?? 1;
  const rng = createRng(seed).fork('engine');
  const timing: DeviceTiming = { ...DEFAULT_TIMING, ...o.timing };
  const retries = o.pushRetryDelaysMs ?? DEFAULT_PUSH_RETRY_DELAYS_MS;
  const hoursMs = Math.round(o.hours * HOUR_MS);
  const endMs = hoursMs + (o.drainMs ?? defaultDrainMs(timing, retries));
  const specs = o.faults ?? [];

  let fleet: Fleet;
  let virtual: VirtualClock | undefined;
  if (o.speed === 'max') {
    virtual = o.clock ?? new VirtualClock(SIMULATION_EPOCH_MS);
    const faults = new FaultBoard(specs, virtual.now());
    fleet = inProcessFleet(o, faults, virtual, timing, seed);
  } else {
    const clock = new ScaledClock(o.speed, Date.now());
    const faults = new FaultBoard(specs, clock.now());
    fleet = await socketFleet(o, faults, clock, timing, seed);
  }
  const { clock, mdm, devices } = fleet;
  const origin = clock.now();

  // Actions, spread at random over the run; drawn up front, played from one timer chain in time order.
  const ledger: string[] = [];
  const total = o.actions ?? devices.length;
  const plan: Array<{ at: number; device: SimDevice; type: string }> = [];
  if (devices.length > 0) {
    for (let i = 0; i < total; i += 1) {
      const at = Math.floor(rng.next() * hoursMs);
      const device = devices[rng.int(0, devices.length - 1)]!;
      const type = REQUEST_TYPES[rng.int(0, REQUEST_TYPES.length - 1)]!;
      plan.push({ at, device, type });
    }
  }
  plan.sort((a, b) => a.at - b.at);
  let next = 0;
  const playNext = (): void => {
    const now = clock.now() - origin;
    while (next < plan.length && plan[next]!.at <= now) {
      const p = plan[next++]!;
      ledger.push(mdm.enqueue(p.device.profile.udid, p.type).id);
    }
    if (next < plan.length) clock.setTimer(plan[next]!.at - now, playNext);
  };
  if (plan.length > 0) clock.setTimer(plan[0]!.at, playNext);

  // Fault windows that act on devices: offline takes a fraction away; a blocked 5223 cuts its connections.
  const offlineDepth = new Map<SimDevice, number>();
  for (const spec of specs) {
    if (spec.name === 'offline') {
      const pick = rng.fork(`offline:${spec.text}`);
      const chosen = sample(devices, Math.round(spec.value * devices.length), pick);
      clock.setTimer(spec.startMs, () => {
        for (const d of chosen) {
          offlineDepth.set(d, (offlineDepth.get(d) ?? 0) + 1);
          d.goOffline();
        }
      });
      if (spec.endMs !== Infinity) {
        clock.setTimer(spec.endMs, () => {
          for (const d of chosen) {
            const depth = (offlineDepth.get(d) ?? 1) - 1;
            offlineDepth.set(d, depth);
            if (depth === 0) d.goOnline();
          }
        });
      }
    } else if (spec.name === 'block-5223' && spec.startMs > 0) {
      clock.setTimer(spec.startMs, () => {
        for (const d of devices) if (d.courierPort === 5223) d.reconnectCourier();
      });
    }
  }

  let events: number | undefined;
  if (virtual) {
    events = virtual.runUntil(origin + endMs);
  } else {
    await new Promise<void>((resolve) => clock.setTimer(endMs, resolve));
  }
  for (const d of devices) d.stop();
  mdm.stop();
  const report = buildReport({ o, seed, fleet, ledger, specs, origin, endMs, wallStart, events });
  await fleet.close();
  return report;
}

function sample<T>(items: readonly T[], n: number, rng: ReturnType<typeof createRng>): T[] {
  const copy = items.slice();
  const k = Math.min(n, copy.length);
  for (let i = 0; i < k; i += 1) {
    const j = rng.int(i, copy.length - 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, k);
}

interface BuildInput {
  o: SimulationOptions;
  seed: number;
  fleet: Fleet;
  ledger: string[];
  specs: FaultSpec[];
  origin: number;
  endMs: number;
  wallStart: number;
  events: number | undefined;
}

const isFinal = (a: Action): boolean => a.state === 'acknowledged' || a.state === 'error' || a.state === 'expired';

function latencyByPath(actions: readonly Action[]): Record<DeliveryPath, LatencySummary> {
  const by: Record<DeliveryPath, number[]> = { apns: [], fcm: [], heartbeat: [] };
  for (const a of actions) {
    if ((a.state === 'acknowledged' || a.state === 'error') && a.path && a.finishedAtMs !== undefined) {
      by[a.path].push(a.finishedAtMs - a.queuedAtMs);
    }
  }
  return { apns: summarizeLatencies(by.apns), fcm: summarizeLatencies(by.fcm), heartbeat: summarizeLatencies(by.heartbeat) };
}

function effectRow(fault: string, window: string, description: string, actions: Action[], effects: Record<string, number>): FaultEffect {
  const answered = actions.filter((a) => a.state === 'acknowledged' || a.state === 'error').map((a) => a.finishedAtMs! - a.queuedAtMs);
  return {
    fault,
    window,
    description,
    actions: actions.length,
    acknowledged: actions.filter((a) => a.state === 'acknowledged').length,
    failed: actions.filter((a) => a.state === 'error' || a.state === 'expired').length,
    pending: actions.filter((a) => !isFinal(a)).length,
    latency: summarizeLatencies(answered),
    latencyByPath: latencyByPath(actions),
    effects,
  };
}

function buildReport(input: BuildInput): SimulationReport {
  const { o, fleet, ledger, specs, origin, endMs } = input;
  const { mdm, devices, counters } = fleet;
  const sims = new Map(devices.map((d) => [d.profile.udid, d]));
  const actions: Action[] = [];
  let lost = 0;
  let twice = 0;
  const seen = new Set<string>();
  for (const id of ledger) {
    const a = mdm.actions.get(id);
    if (!a || seen.has(id)) {
      lost += 1;
      continue;
    }
    seen.add(id);
    const acks = a.history.reduce((n, h) => n + (h.event === 'acknowledged' ? 1 : 0), 0);
    if (acks > 1) twice += 1;
    const final = isFinal(a);
    const consistent =
      final === (a.finishedAtMs !== undefined) && (a.state !== 'acknowledged' || acks === 1) && (a.state !== 'delivered' || a.deliveries > 0);
    if (!consistent || acks > 1) {
      lost += 1;
      continue;
    }
    actions.push(a);
  }
  // Actions the MDM server holds that the engine never sent would also mean lost track.
  lost += [...mdm.actions.keys()].filter((id) => !seen.has(id)).length;

  const pendingReasons = new Map<string, number>();
  for (const a of actions) {
    if (isFinal(a)) continue;
    const sim = sims.get(a.udid);
    const reason = sim && !sim.online ? 'device offline' : mdm.pendingReason(a);
    pendingReasons.set(reason, (pendingReasons.get(reason) ?? 0) + 1);
  }

  const acknowledged = actions.filter((a) => a.state === 'acknowledged').length;
  const errored = actions.filter((a) => a.state === 'error').length;
  const expired = actions.filter((a) => a.state === 'expired').length;
  const pending = actions.filter((a) => !isFinal(a)).length;
  const deviceHours = (devices.length * endMs) / HOUR_MS;
  const ios = devices.filter((d) => d.profile.platform === 'ios').length;
  const android = devices.length - ios;
  const c = mdm.counters;

  const inWindow = (a: Action, s: FaultSpec): boolean => a.queuedAtMs - origin >= s.startMs && a.queuedAtMs - origin < s.endMs;
  const faults = specs.map((s) => {
    const during = actions.filter((a) => inWindow(a, s));
    return effectRow(s.text, describeWindow(s), FAULTS[s.name].description, during, faultEffects(s, fleet));
  });
  const windowed = specs.some((s) => s.startMs > 0 || s.endMs !== Infinity);
  const baseline = windowed
    ? effectRow('(none)', 'outside every fault window', 'actions queued while no fault was on', actions.filter((a) => !specs.some((s) => inWindow(a, s))), {})
    : undefined;

  const summary: SimulationSummary = {
    devices: devices.length,
    ios,
    android,
    androidWithoutGcm: androidWithoutGcm(o.android, o.noGcm ?? 0),
    actionsSent: ledger.length,
    actionsDelivered: actions.filter((a) => a.deliveries > 0).length,
    actionsAcknowledged: acknowledged,
    actionsFailed: errored + expired,
    actionsErrored: errored,
    actionsExpired: expired,
    actionsPending: pending,
    actionsLost: lost,
    actionsAcknowledgedTwice: twice,
    pings: c.pings,
    pingBytes: c.pingBytes,
    pingsPerDeviceHour: deviceHours > 0 ? round(c.pings / deviceHours, 4) : 0,
    bytesPerDeviceHour: deviceHours > 0 ? Math.round(c.pingBytes / deviceHours) : 0,
    bytesPerPing: c.pings > 0 ? Math.round(c.pingBytes / c.pings) : 0,
    latency: latencyByPath(actions),
  };
  return {
    schemaVersion: 1,
    seed: input.seed,
    speed: o.speed,
    startedAt: new Date(origin).toISOString(),
    hours: o.hours,
    simulatedHours: round(endMs / HOUR_MS, 3),
    wallMs: Math.round(performance.now() - input.wallStart),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    ...(input.events !== undefined ? { events: input.events } : {}),
    summary,
    pending: [...pendingReasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    pushes: { sent: c.pushesSent, accepted: c.pushesAccepted, rejected: { ...c.pushesRejected }, retries: c.pushRetries },
    mdm: { ...c, pushesRejected: { ...c.pushesRejected } },
    devices: { ...counters, offlineAtEnd: devices.filter((d) => !d.online).length },
    faults,
    ...(baseline ? { baseline } : {}),
    ...(o.includeActions
      ? {
          actions: actions.map((a) => {
            const view = actionView(a);
            const profile = sims.get(a.udid)?.profile;
            const rel = (t: number): number => t - origin;
            return {
              ...view,
              queuedAtMs: rel(a.queuedAtMs),
              expiresAtMs: rel(a.expiresAtMs),
              ...(a.finishedAtMs !== undefined ? { finishedAtMs: rel(a.finishedAtMs) } : {}),
              history: a.history.map((h) => ({ ...h, atMs: rel(h.atMs) })),
              platform: profile?.platform ?? 'ios',
              gcm: profile?.gcm ?? false,
              ...(isFinal(a) ? {} : { pendingReason: sims.get(a.udid)?.online === false ? 'device offline' : mdm.pendingReason(a) }),
            };
          }),
        }
      : {}),
    exitCode: pending > 0 || lost > 0 ? 1 : 0,
  };
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

/** Counts that show what one fault did. */
function faultEffects(spec: FaultSpec, fleet: Fleet): Record<string, number> {
  const c = fleet.mdm.counters;
  const d = fleet.counters;
  const rejected = (prefix: string): number =>
    Object.entries(c.pushesRejected).reduce((n, [k, v]) => (k.startsWith(prefix) ? n + v : n), 0);
  switch (spec.name) {
    case 'apns-down':
      return { pushesRejected503: rejected('503'), pushRetries: c.pushRetries };
    case 'apns-error':
      return { pushesRejected500: rejected('500'), pushRetries: c.pushRetries };
    case 'apns-throttle':
      return { pushesRejected429: rejected('429'), pushRetries: c.pushRetries };
    case 'expired-cert':
    case 'expired-token':
      return { pushesRejected403: rejected('403') };
    case 'fcm-down':
      return { fcmRejected503: rejected('503'), pushRetries: c.pushRetries };
    case 'block-5223':
      return { fallbacksTo443: d.fallbacksTo443, courier443: d.courier443, courier5223: d.courier5223 };
    case 'wrong-topic':
      return { pushesIgnoredByDevices: d.pushesIgnored };
    case 'offline':
      return { devicesOffline: Math.round(spec.value * fleet.devices.length), apnsStored: fleet.apns.stats.stored, apnsCoalesced: fleet.apns.stats.coalesced };
    case 'notnow':
      return { notNows: c.notNows };
    case 'drop':
      return { exchangesDropped: d.exchangesDropped, redeliveries: c.redeliveries, ignoredAnswers: c.ignoredAnswers };
    case 'command-error':
      return { errorsAnswered: d.errorsSent };
  }
}

export const DELIVERY_PATH_LABELS: Record<DeliveryPath, string> = {
  apns: 'APNs push',
  fcm: 'FCM push',
  heartbeat: 'heartbeat pickup',
};
export { DELIVERY_PATHS };
