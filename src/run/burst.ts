/**
 * The rush after a publication: N clients, started evenly within a window, each on its own connection sending
 * HEAD then GET to one of the user's own URLs, as every IBI-aws MobileClient does after a push. The figures
 * (successes, status codes, time to the last byte, errors by failure code, bytes) are held against an SLO and
 * returned as an ordinary Report, one result per URL, so every output format shows them.
 *
 * Only the user's own servers are loaded: a url rule whose address comes from a --var, or any rule of the user's
 * own rule file. A vendor's fixed host is skipped with a note, whatever the rule set.
 */
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { ipVersion } from '../ip-version.js';
import { CERTIFICATE_ERRORS, classifyError, errorCodes, failure } from '../probes/classify.js';
import { createResolver, type DnsServer, type Pin } from '../probes/dns.js';
import { checkOf } from '../probes/index.js';
import { lookFirst, roundMs, timedOut } from '../probes/phases.js';
import { checkServerIdentity } from '../probes/server-identity.js';
import { runTrustingContext } from '../trust.js';
import { expandTargets, placeholderNames } from '../rules/expand.js';
import type { BurstSlo, BurstStats, Failure, FailureCode, ProbeOutcome, Report, Result, RuleSet, RunOptions, Target } from '../types.js';
import { reportOf, resultOf, type ProbedTarget } from './outcome.js';
import { stalledMs, stoodStillFor, watchStalls } from './stall.js';

/** The most clients one burst may start: enough to show whether a server copes, too few to be a flood. */
export const MAX_BURST_CLIENTS = 1000;
/** The longest window the clients may be spread over. */
export const MAX_BURST_WINDOW_MS = 60_000;
export const DEFAULT_BURST_CLIENTS = 200;
export const DEFAULT_BURST_WINDOW_MS = 2000;
export const DEFAULT_SLO: BurstSlo = { successPercent: 100, p99Ms: 5000 };

export interface BurstSettings {
  clients: number;
  withinMs: number;
  /** Bound for each client's HEAD and GET together. */
  timeoutMs: number;
  slo: BurstSlo;
  dnsServer?: DnsServer;
  pins: Pin[];
  /** Extra trusted CA certificates, PEM text. */
  caPems: string[];
  insecure: boolean;
  vars: Record<string, string>;
  recorded: RunOptions;
}

export const VENDOR_HOST = "a vendor's host: burst loads only your own servers (a rule address given with --var, or a rule of your own file)";

/** Whether a target's address is the user's own to load. */
function ownTarget(target: Target, set: RuleSet): boolean {
  if (!set.builtin) return true;
  return target.rule.url !== undefined && placeholderNames(target.rule.url).length > 0;
}

/**
 * The targets a burst loads, one per distinct URL (a HEAD rule and a GET rule of one file are one burst), and the
 * others with the reason they are skipped.
 */
export function planBurst(ruleSets: RuleSet[], vars: Record<string, string>): ProbedTarget[] {
  const planned: ProbedTarget[] = [];
  const urls = new Set<string>();
  for (const set of ruleSets) {
    for (const target of expandTargets(set, { vars })) {
      const skip = (reason: string): void => void planned.push({ target, attempts: 0, skipReason: reason });
      if (!checkOf(target.check).speaks.http) skip(`burst sends HTTP requests, and this rule checks ${target.check}`);
      else if (target.skipReason !== undefined) skip(target.skipReason);
      else if (!ownTarget(target, set)) skip(VENDOR_HOST);
      else if (target.url === undefined) skip('no URL to request');
      else if (!urls.has(target.url)) {
        urls.add(target.url);
        planned.push({ target, attempts: 0 });
      }
    }
  }
  return planned;
}

/** What one client saw. */
export interface ClientSample {
  /** ms from its start to the last byte of its GET; absent when it did not get that far. */
  lastByteMs?: number;
  statuses: string[];
  bytes: number;
  ok: boolean;
  failure?: FailureCode;
  /** ms from its start to its end (last byte or failure). */
  waitedMs: number;
  /** ms of that in which this process's event loop stood still (stall.ts): our own lateness, not the server's. */
  stalledMs: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

/** The failure code of a client's error: certificate problems as tls, the rest as the http exchange. */
function failureCodeOf(err: unknown): FailureCode {
  const codes = errorCodes(err);
  if (codes.some((code) => code in CERTIFICATE_ERRORS)) return classifyError(err, 'tls').code;
  if (codes.includes('UND_ERR_CONNECT_TIMEOUT')) return 'tcp_timeout';
  return classifyError(err, 'http').code;
}

interface Connection {
  url: URL;
  /** The address connected to (resolved once for the whole burst). */
  address: string;
  /** TLS options shared by all clients (https only). */
  tls?: tls.ConnectionOptions;
}

/** One request over the client's agent; resolves with the status and the body bytes once the last byte is in. */
function request(connection: Connection, agent: http.Agent, method: 'HEAD' | 'GET', signal: AbortSignal): Promise<{ status: number; bytes: number }> {
  const { url } = connection;
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: connection.address,
        port: url.port || (url.protocol === 'https:' ? 443 : 80),
        path: `${url.pathname}${url.search}`,
        method,
        agent,
        signal,
        headers: { host: url.host, 'user-agent': 'pushcheck-burst', accept: '*/*' },
        ...connection.tls,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end();
  });
}

/**
 * One client: HEAD then GET over one keep-alive connection of its own, as a device does, body read to the end.
 * node:http rather than undici, which closes the connection after every HEAD (undici#258) and so would open two
 * connections per client. Never throws.
 */
async function runClient(connection: Connection, accept: (status: number) => boolean, timeoutMs: number, stop: AbortSignal): Promise<ClientSample> {
  const sample: ClientSample = { statuses: [], bytes: 0, ok: false, waitedMs: 0, stalledMs: 0 };
  // Its timeout through lookFirst, as a probe's: an answer that came while the loop stood still across it is read first.
  const timeout = new AbortController();
  const disarm = lookFirst(() => timeout.abort(timedOut(timeoutMs)), timeoutMs);
  const signal = AbortSignal.any([stop, timeout.signal]);
  const agent = new (connection.url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 1 });
  const start = performance.now();
  const stalledBefore = stalledMs(start);
  try {
    for (const method of ['HEAD', 'GET'] as const) {
      const { status, bytes } = await request(connection, agent, method, signal);
      sample.statuses.push(`${method} ${status}`);
      sample.bytes += bytes;
      if (!accept(status)) sample.failure = 'http_status';
    }
    sample.lastByteMs = roundMs(performance.now() - start);
    sample.ok = sample.failure === undefined;
  } catch (err) {
    sample.failure = signal.aborted && !stop.aborted ? 'http_timeout' : failureCodeOf(err);
  } finally {
    disarm();
    agent.destroy();
  }
  const end = performance.now();
  sample.waitedMs = end - start;
  sample.stalledMs = stalledMs(end) - stalledBefore;
  return sample;
}

function countBy(items: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

/** The figures of one burst from its clients' samples, and whether they meet the SLO. */
export function burstStats(samples: ClientSample[], settings: Pick<BurstSettings, 'clients' | 'withinMs' | 'slo'>): BurstStats {
  const times = samples.flatMap((s) => (s.lastByteMs === undefined ? [] : [s.lastByteMs])).sort((a, b) => a - b);
  const succeeded = samples.filter((s) => s.ok).length;
  const slowest = times.at(-1);
  const p50Ms = percentile(times, 50);
  const p95Ms = percentile(times, 95);
  const p99Ms = percentile(times, 99);
  const successPercent = samples.length === 0 ? 0 : roundMs((100 * succeeded) / samples.length);
  return {
    clients: settings.clients,
    withinMs: settings.withinMs,
    started: samples.length,
    succeeded,
    statusCodes: countBy(samples.flatMap((s) => s.statuses)),
    errors: countBy(samples.flatMap((s) => (s.failure ? [s.failure] : []))),
    ...(p50Ms !== undefined && { p50Ms }),
    ...(p95Ms !== undefined && { p95Ms }),
    ...(p99Ms !== undefined && { p99Ms }),
    ...(slowest !== undefined && { slowestMs: slowest }),
    bytes: samples.reduce((sum, s) => sum + s.bytes, 0),
    slo: settings.slo,
    sloMet: successPercent >= settings.slo.successPercent && p99Ms !== undefined && p99Ms < settings.slo.p99Ms,
  };
}

function ms(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

function bytesText(bytes: number): string {
  return bytes >= 1_048_576 ? `${(bytes / 1_048_576).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} B`;
}

function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => `${key} ×${n}`)
    .join(', ');
}

/** `SLO: every request succeeds and p99 < 5 s`. */
export function sloText(slo: BurstSlo): string {
  const success = slo.successPercent >= 100 ? 'every client succeeds' : `at least ${slo.successPercent}% of clients succeed`;
  return `${success} and p99 < ${ms(slo.p99Ms)}`;
}

/** One line with every figure, for the report's note. */
export function burstSummary(stats: BurstStats): string {
  const errors = Object.keys(stats.errors).length > 0 ? `; errors: ${countsText(stats.errors)}` : '';
  const lag = stats.clientLagMs !== undefined && stats.clientLagMs >= 100 ? `; this machine was busy (event loop p99 late by ${ms(stats.clientLagMs)}), and the times include that` : '';
  return (
    `${stats.succeeded} of ${stats.started} clients succeeded (HEAD then GET, started within ${ms(stats.withinMs)}); ` +
    `${countsText(stats.statusCodes) || 'no responses'}${errors}; to the last byte p50 ${ms(stats.p50Ms)}, ` +
    `p95 ${ms(stats.p95Ms)}, p99 ${ms(stats.p99Ms)}, slowest ${ms(stats.slowestMs)}; ${bytesText(stats.bytes)} served; ` +
    `SLO: ${sloText(stats.slo)}${lag}`
  );
}

/** Why the SLO was missed, for the failure's detail. */
function sloMiss(stats: BurstStats): string {
  const misses: string[] = [];
  const failed = stats.started - stats.succeeded;
  if (failed > 0) misses.push(`${failed} of ${stats.started} clients failed`);
  if (stats.p99Ms === undefined) misses.push('no client got to the last byte');
  else if (stats.p99Ms >= stats.slo.p99Ms) misses.push(`p99 ${ms(stats.p99Ms)} is not under ${ms(stats.slo.p99Ms)}`);
  if (stats.started < stats.clients) misses.push(`only ${stats.started} of ${stats.clients} clients started (interrupted)`);
  return misses.join('; ');
}

/**
 * local_overload for a missed SLO that this process's own lateness explains, as docs/burst.md ("A busy machine")
 * says: a client's time includes every stall of our event loop during its life, in which no answer it was sent
 * could be seen. A client whose loop stood still for OVERLOAD_SHARE of its time (stall.ts's rule for a probe) measured
 * this machine: with each such finished client's time less its stalls, and each such client that timed out not
 * judged, the SLO would have been met. Any other failure (a status, a reset, a refusal, a certificate, a timeout on
 * a loop that ran freely) is the server's, and so is a miss that remains: those stay burst_slo. A short stall does
 * not excuse a client, as it does not a probe: it would turn a p99 just over the bound into a warning.
 */
export function burstOverloadOf(samples: ClientSample[], stats: BurstStats, burst: { waitedMs: number; stalledMs: number }): Failure | undefined {
  if (stats.sloMet || stats.started < stats.clients) return undefined;
  const starved = (sample: ClientSample): boolean => stoodStillFor(sample.waitedMs, sample.stalledMs);
  let unjudged = 0;
  for (const sample of samples) {
    if (sample.ok) continue;
    if (sample.failure !== 'http_timeout' || !starved(sample)) return undefined;
    unjudged += 1;
  }
  const ownTimes = samples
    .flatMap((s) => (s.lastByteMs === undefined ? [] : [starved(s) ? Math.max(0, s.lastByteMs - s.stalledMs) : s.lastByteMs]))
    .sort((a, b) => a - b);
  const ownP99Ms = percentile(ownTimes, 99);
  const successPercent = (100 * (stats.succeeded + unjudged)) / stats.started;
  const wouldMeet = successPercent >= stats.slo.successPercent && (ownP99Ms === undefined ? unjudged > 0 : ownP99Ms < stats.slo.p99Ms);
  if (!wouldMeet) return undefined;
  const timedOut = unjudged > 0 ? `; ${unjudged} of ${stats.started} clients timed out while it stood still for at least half their wait` : '';
  const ownP99 = ownP99Ms === undefined ? '' : `; less each client's own share of it, p99 is ${ms(ownP99Ms)}, under the SLO's ${ms(stats.slo.p99Ms)}`;
  return failure(
    'local_overload',
    'http',
    `pushcheck stood still for ${Math.round(burst.stalledMs)} of the ${Math.round(burst.waitedMs)} ms the burst took${timedOut}${ownP99} (it would have read burst_slo: ${sloMiss(stats)})`,
  );
}

/** Resolves the target once, then starts the clients evenly over the window and waits for them all. */
async function burstOne(target: Target, settings: BurstSettings, stop: AbortSignal): Promise<{ outcome: ProbeOutcome; stats?: BurstStats }> {
  const started = performance.now();
  const resolve = createResolver({ ...(settings.dnsServer && { dnsServer: settings.dnsServer }), pins: settings.pins, timeoutMs: settings.timeoutMs });
  const resolution = await resolve(target.host, stop);
  const dnsMs = roundMs(resolution.durationMs);
  const address = resolution.addresses[0];
  if (resolution.failure || address === undefined) {
    const problem = resolution.failure ?? failure('dns_no_address', 'dns', target.host);
    return { outcome: { ok: false, addresses: resolution.addresses, pinned: resolution.pinned, timings: { dnsMs, totalMs: dnsMs }, failure: problem } };
  }
  const url = new URL(target.url as string);
  // One secure context for all clients and targets of the burst, with or without --ca: Node builds one per
  // connection when given none (0.45 ms of CPU each, ~100 ms each on a busy machine the old way with --ca), which
  // would measure pushcheck instead of the server.
  const secureContext = runTrustingContext(settings.caPems);
  const connection: Connection = {
    url,
    address,
    tls: {
      secureContext,
      rejectUnauthorized: !settings.insecure,
      // Only for an IP literal: on Node 22 a checkServerIdentity option stops the agent from reusing the
      // connection (each client would open two), and names need nothing but Node's own check.
      ...(ipVersion(target.host) === 0 ? { servername: target.host } : { checkServerIdentity }),
    },
  };
  const expected = target.rule.http?.status ?? [];
  const accept = (status: number): boolean => (expected.length > 0 ? expected.includes(status) : status >= 200 && status < 300);

  // How late this process ran its callbacks during the burst: the times measured include that much of our own delay.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  // How long the loop stood still, overall and within each client's time: what burstOverloadOf allows for.
  const stopWatching = watchStalls();
  const stalledBefore = stalledMs();
  const spacingMs = settings.clients > 1 ? settings.withinMs / (settings.clients - 1) : 0;
  const clients: Array<Promise<ClientSample>> = [];
  const burstStart = performance.now();
  for (let i = 0; i < settings.clients && !stop.aborted; i += 1) {
    // Each start is scheduled against the burst's start, so a slow event loop does not stretch the window.
    const due = burstStart + i * spacingMs - performance.now();
    if (due > 1) await new Promise((wake) => setTimeout(wake, due));
    if (stop.aborted) break;
    clients.push(runClient(connection, accept, settings.timeoutMs, stop));
  }
  const samples = await Promise.all(clients);
  const burstEnd = performance.now();
  const burstStalledMs = stalledMs(burstEnd) - stalledBefore;
  stopWatching();
  lag.disable();
  const stats = { ...burstStats(samples, settings), clientLagMs: roundMs(lag.percentile(99) / 1e6) };
  const outcome: ProbeOutcome = {
    ok: stats.sloMet && stats.started === stats.clients,
    address,
    addresses: resolution.addresses,
    pinned: resolution.pinned,
    timings: { dnsMs, totalMs: roundMs(performance.now() - started) },
    note: burstSummary(stats),
  };
  if (!outcome.ok) {
    const overload = burstOverloadOf(samples, stats, { waitedMs: burstEnd - burstStart, stalledMs: burstStalledMs });
    outcome.failure = overload ?? failure('burst_slo', 'http', sloMiss(stats));
  }
  return { outcome, stats };
}

export interface BurstHooks {
  /** Ctrl-C: clients not yet started are not started, running ones are aborted. */
  signal?: AbortSignal;
  /** Before each URL's burst begins. */
  onStart?: (target: Target) => void;
  now?: () => Date;
}

/** Runs the bursts one URL after another (never two servers loaded at once) and assembles the report. */
export async function runBursts(ruleSets: RuleSet[], settings: BurstSettings, hooks: BurstHooks = {}): Promise<Report> {
  const now = hooks.now ?? (() => new Date());
  const startedAt = now();
  const started = performance.now();
  const stop = hooks.signal ?? new AbortController().signal;
  setMaxListeners(0, stop);
  const planned = planBurst(ruleSets, settings.vars);
  const results: Result[] = [];
  for (const probed of planned) {
    if (probed.skipReason !== undefined || stop.aborted) {
      results.push(resultOf(stop.aborted && probed.skipReason === undefined ? { ...probed, skipReason: 'interrupted' } : probed));
      continue;
    }
    hooks.onStart?.(probed.target);
    const { outcome, stats } = await burstOne(probed.target, settings, stop);
    // The figures go in the note whether the SLO was met or not (resultOf keeps a note only on a pass).
    const result = resultOf({ ...probed, outcome, attempts: 1 });
    results.push({ ...result, ...(outcome.note !== undefined && { note: outcome.note }), ...(stats && { burst: stats }) });
  }
  return reportOf({
    strict: false,
    ruleSets,
    results,
    rules: [],
    findings: [],
    recorded: settings.recorded,
    startedAt,
    durationMs: performance.now() - started,
    interrupted: stop.aborted,
    interruptReason: stop.reason,
  });
}
