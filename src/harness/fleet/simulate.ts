/**
 * The fleet engine behind `pushcheck simulate`: devices, actions spread over the run, fault windows; the
 * report of what reached whom is built from its counters by simulation-report.ts.
 *
 * `speed: 'max'` runs everything in process on a virtual clock (deterministic for a seed; 100,000 devices).
 * A number runs the same devices over real sockets against `startHarness`, on the wall clock sped up by it.
 */
import { type Clock, HOUR_MS, MINUTE_MS, ScaledClock, VirtualClock } from '../clock.js';
import { type MdmService, DEFAULT_PUSH_RETRY_DELAYS_MS } from '../services/mdm.js';
import type { ApnsService } from '../services/apns.js';
import { inProcessPusher, type ProviderAuth } from '../services/pushers.js';
import { createPushServices } from '../services/push-services.js';
import { FaultBoard, FAULTS, type FaultSpec } from '../faults.js';
import { createRng, randomUuid } from '../random.js';
import { generateProviderKey } from '../jwt.js';
import { DEFAULT_TIMING, newDeviceCounters, SimDevice, type DeviceCounters, type DeviceTiming } from './devices.js';
import { InProcessEnv } from '../env/in-process.js';
import { makeProfiles } from './profiles.js';
import { buildReport, type SimulationReport } from './simulation-report.js';
import { startHarness, type Harness } from '../harness.js';
import { interruptedExitCode } from '../../signals.js';

export const REQUEST_TYPES = ['DeviceInformation', 'InstallProfile', 'InstallApplication', 'DeviceLock', 'ProfileList'] as const;
/** Largest fleet run over real sockets: each device holds a courier connection. */
export const MAX_SOCKET_DEVICES = 2000;
/**
 * Fastest wall clock over real sockets: an hour a second. Faster, a loopback TLS handshake of 50 ms is minutes of
 * simulated time, so heartbeats and retries overtake real traffic and actions end "pending" for no fault at all.
 */
export const MAX_SOCKET_SPEED = 3600;
/** Virtual start of a `--speed max` run, so that runs are identical whatever the day. */
export const SIMULATION_EPOCH_MS = Date.UTC(2025, 0, 6);

export interface SimulationOptions {
  ios: number;
  android: number;
  /** Fraction of Android devices without Google Play services. */
  withoutPlayServices?: number;
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
  /** Stops the run early (Ctrl-C, SIGTERM): the report holds what was simulated until then, `interrupted: true`. */
  signal?: AbortSignal;
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
  mdm.pusher = inProcessPusher({ clock, apns, fcm, auth, faults });
  const counters = newDeviceCounters();
  const env = new InProcessEnv({ clock, mdm, apns, fcm, faults, rng: rng.fork('net'), timing });
  const ctx = { env, faults, rng: rng.fork('devices'), timing, counters };
  const profiles = makeProfiles({ ios: o.ios, android: o.android, withoutPlayServices: o.withoutPlayServices ?? 0, topic, rng: rng.fork('profiles') });
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
  const devices = harness.addDevices({ ios: o.ios, android: o.android, withoutPlayServices: o.withoutPlayServices ?? 0 });
  // Enrollment goes over HTTPS: the run (and its clock origin) starts once every device is enrolled.
  const deadline = Date.now() + 30_000;
  while (harness.mdm.devices.size < devices.length && !o.signal?.aborted) {
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

  // Fault windows that act on the devices themselves (each fault says what it does: see FAULTS).
  for (const spec of specs) {
    const onDevices = FAULTS[spec.name].onDevices;
    if (!onDevices) continue;
    const pick = rng.fork(`${spec.name}:${spec.text}`);
    let release: (() => void) | void;
    clock.setTimer(spec.startMs, () => {
      release = onDevices(devices, spec.value, pick, spec.startMs === 0);
    });
    if (spec.endMs !== Infinity) clock.setTimer(spec.endMs, () => release?.());
  }

  let events: number | undefined;
  if (virtual) {
    // A simulated hour at a time, yielding in between so that a signal is heard; the events and their order are
    // those of one long run.
    events = 0;
    for (let until = origin; until < origin + endMs && !o.signal?.aborted; ) {
      until = Math.min(origin + endMs, until + HOUR_MS);
      events += virtual.runUntil(until);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } else if (!o.signal?.aborted) {
    await new Promise<void>((resolve) => {
      clock.setTimer(endMs, resolve);
      o.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  for (const d of devices) d.stop();
  mdm.stop();
  const interrupted = o.signal?.aborted === true;
  const simulatedMs = interrupted ? Math.min(endMs, clock.now() - origin) : endMs;
  const report = buildReport({ o, seed, fleet, ledger, specs, origin, endMs: simulatedMs, wallStart, events });
  await fleet.close();
  return interrupted ? { ...report, interrupted: true, exitCode: interruptedExitCode(o.signal?.reason) } : report;
}

