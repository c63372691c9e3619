/**
 * The simulation's report, built from what the fleet's MDM server, devices and APNs counted: what reached
 * whom, how fast, what is still pending and why, and what each fault window did.
 */
import type { StopExitCode } from '../../signals.js';
import { HOUR_MS } from '../clock.js';
import { describeWindow, FAULTS, type FaultSpec } from '../faults.js';
import type { ApnsService } from '../services/apns.js';
import { actionView, type Action, type DeliveryPath, DELIVERY_PATHS, type MdmCounters, type MdmService } from '../services/mdm.js';
import type { DeviceCounters, SimDevice } from './devices.js';
import { androidWithoutPlayServices } from './profiles.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';

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
  /** Present when a signal stopped the run: the report holds the first `simulatedHours` only. */
  interrupted?: true;
  exitCode: 0 | 1 | StopExitCode;
}

/** What the report repeats from the options of the run (`SimulationOptions` has them all). */
export interface RunSettings {
  speed: number | 'max';
  hours: number;
  android: number;
  withoutPlayServices?: number;
  includeActions?: boolean;
}

/** What the engine hands over at the end of a run. */
export interface FleetState {
  mdm: MdmService;
  apns: ApnsService;
  devices: SimDevice[];
  counters: DeviceCounters;
}

export interface BuildInput {
  o: RunSettings;
  seed: number;
  fleet: FleetState;
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

export function buildReport(input: BuildInput): SimulationReport {
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
    return effectRow(s.text, describeWindow(s), FAULTS[s.name].description, during, FAULTS[s.name].effects({ mdm: mdm.counters, devices: counters, apns: fleet.apns.stats, fleetSize: devices.length }, s.value));
  });
  const windowed = specs.some((s) => s.startMs > 0 || s.endMs !== Infinity);
  const baseline = windowed
    ? effectRow('(none)', 'outside every fault window', 'actions queued while no fault was on', actions.filter((a) => !specs.some((s) => inWindow(a, s))), {})
    : undefined;

  const summary: SimulationSummary = {
    devices: devices.length,
    ios,
    android,
    androidWithoutGcm: androidWithoutPlayServices(o.android, o.withoutPlayServices ?? 0),
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

export const DELIVERY_PATH_LABELS: Record<DeliveryPath, string> = {
  apns: 'APNs push',
  fcm: 'FCM push',
  heartbeat: 'heartbeat pickup',
};
export { DELIVERY_PATHS };
