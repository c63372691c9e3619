/**
 * The scheduler: expands rule sets into targets, probes them concurrently (p-limit), bounds every probe in
 * time, retries failures, stops cleanly on Ctrl-C, and assembles the report.
 */
import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import type { AddressFamily, FamilyChoice, Failure, NumberedHosts, ProbeOutcome, Report, RuleSet, RunOptions, Target } from '../types.js';
import type { KeptConnection, ProbeContext, Proxy, ResolveHost, Resolution } from '../probes/types.js';
import { holdConnection } from '../probes/hold.js';
import { checkOf, probeFor } from '../probes/index.js';
import { failure, TIMEOUT_CODES } from '../probes/classify.js';
import { attemptDnsMs, onAbort, QuickController, timedOut } from '../probes/phases.js';
import { lastRan, stalledMs, stoodStillFor, untilLoopFree, watchStalls } from './stall.js';
import { Deadlines } from './deadlines.js';
import { createResolver, type DnsServer, type Pin } from '../probes/dns.js';
import { bypassesProxy, type NoProxyEntry } from '../probes/proxy-env.js';
import { familyOf } from '../rules/cidr.js';
import { findingsOf } from '../findings/index.js';
import { expandTargets } from '../rules/expand.js';
import { tlsModule } from '../v8-defaults.js';
import {
  applyCertificateExpiry,
  applyFallbacks,
  applyFamilyFallbacks,
  isoString,
  reportOf,
  resultOf,
  summariseRules,
  type ProbedTarget,
} from './outcome.js';

/** Everything a run needs, already parsed and loaded (the CLI does the parsing). */
export interface CheckSettings {
  timeoutMs: number;
  /** Server certificates expiring within this many days warn on the user's rules, note on built-in ones; absent: never. */
  warnDays?: number;
  concurrency: number;
  retries: number;
  strict: boolean;
  insecure: boolean;
  dnsServer?: DnsServer;
  pins: Pin[];
  /** Extra trusted CA certificates, PEM text. */
  caPems: string[];
  vars: Record<string, string>;
  numbered?: Partial<NumberedHosts>;
  /** --proxy, or the environment's proxy: probes connect through it (except the hosts noProxy exempts). */
  proxy?: Proxy;
  /** NO_PROXY, for a proxy from the environment: these hosts go direct. */
  noProxy?: NoProxyEntry[];
  /** --family: probe each family a name has (`both`, the default), or only one. */
  family?: FamilyChoice;
  /** --hold: keep the connections of `hold: true` rules open and idle this long after their checks pass, then prove them. */
  holdMs?: number;
  /** The options as they are recorded in the report (file names, not contents; no secrets). */
  recorded: RunOptions;
}

export interface RunHooks {
  /**
   * Ctrl-C or SIGTERM: pending targets are skipped as "interrupted", running probes are aborted. Aborted with an
   * {@link Interrupted} reason, the report's exit code names the signal (130 or 143).
   */
  signal?: AbortSignal;
  /** Called after each target finishes (done counts finished targets). */
  onProgress?: (done: number, total: number) => void;
  /**
   * --hold: called as held connections start and end; `holding` are idle now, and the last of them is proved at
   * `lastEndsAt` (epoch ms), for a countdown.
   */
  onHold?: (holding: number, lastEndsAt: number) => void;
  now?: () => Date;
}

/** Extra time a probe gets past its own timeout before the scheduler gives up on it (a probe bug, not a network state). */
const WATCHDOG_GRACE_MS = 1000;

export const INTERRUPTED = 'interrupted';

export async function runChecks(ruleSets: RuleSet[], settings: CheckSettings, hooks: RunHooks = {}): Promise<Report> {
  const { stopping, unfollow } = followedSignal(hooks.signal);
  try {
    return await checkAll(ruleSets, settings, hooks, stopping);
  } finally {
    // The caller's signal may outlive this run (a library user's, reused run after run): let go of it, whether the
    // run ended or threw (a rule's bad --var, a probe's bug).
    unfollow();
  }
}

/** runChecks on the run's own controller (see followedSignal). */
async function checkAll(ruleSets: RuleSet[], settings: CheckSettings, hooks: RunHooks, stopping: QuickController): Promise<Report> {
  const runSignal = stopping.signal;
  const now = hooks.now ?? (() => new Date());
  const startedAt = now();
  const started = performance.now();
  // Attempts follow its controller (adopted, see tryOnce); held connections (--hold: all at once), waits for a free
  // event loop (stall.ts) and credential checks through onAbort(), which adds no event listener; should a Node API be
  // handed it, no warning either.
  setMaxListeners(0, runSignal);
  const targets = ruleSets.flatMap((set) =>
    expandTargets(set, { vars: settings.vars, ...(settings.numbered && { numbered: settings.numbered }) }),
  );
  const resolve = memoiseResolver(
    createResolver({
      ...(settings.dnsServer && { dnsServer: settings.dnsServer }),
      pins: settings.pins,
      timeoutMs: settings.timeoutMs,
    }),
    runSignal,
  );
  const run: Run = { settings, resolve, stopping, now, deadlines: new Deadlines() };
  const limit = pLimit(Math.max(1, settings.concurrency));
  let done = 0;
  const counted = (results: Probes): Probes => {
    done += 1;
    hooks.onProgress?.(done, targets.length);
    return results;
  };
  /**
   * p-limit's task: one target probed, and counted as it ends when someone watches the count (a terminal's progress
   * line); otherwise no step of its own, once a target.
   */
  const probeCounted = hooks.onProgress
    ? (target: Target): Promise<Probes> => probeEachFamily(target, run).then(counted)
    : (target: Target): Promise<Probes> => probeEachFamily(target, run);
  const hold = holdTracker(settings, runSignal, hooks);

  const stopWatching = watchStalls();
  const probed = (
    await (settings.holdMs === undefined
      ? // Without --hold no connection is kept (see probeWithRetries): nothing to hold, no step per target for it.
        limit.map(targets, probeCounted)
      : // Held connections wait outside the concurrency limit: all holds run at once, so --hold 30m costs 30 minutes.
        Promise.all(targets.map((target) => limit(probeCounted, target).then((results) => Promise.all([results].flat().map(hold)))))
    ).finally(stopWatching)
  ).flat();

  return reportOfProbed(probed, ruleSets, settings, { signal: runSignal, now, startedAt, durationMs: () => performance.now() - started });
}

/** How a run went, for its report's end: its signal and clock, when it started, and how long it has taken when asked. */
export interface RunSpan {
  signal: AbortSignal;
  now: () => Date;
  startedAt: Date;
  durationMs: () => number;
}

/**
 * A run's report of its probed targets: each target's result, then what needs them all (fallbacks, certificate
 * expiry, the rules' facts, the findings). Exported for test/run/report-bytes.test.ts, which holds its output byte
 * for byte.
 */
export async function reportOfProbed(probed: ProbedTarget[], ruleSets: RuleSet[], settings: CheckSettings, span: RunSpan): Promise<Report> {
  const checked = applyFallbacks(applyFamilyFallbacks(probed.map(resultOf)), ruleSets);
  const results = settings.warnDays === undefined ? checked : applyCertificateExpiry(checked, ruleSets, settings.warnDays);
  // A rule file's credentials: (the server's push certificate), checked once the network probes are done.
  if (ruleSets.some((set) => (set.credentials ?? []).length > 0) && !span.signal.aborted) {
    // Their modules load node:crypto and node:tls as they load: first under V8's default flags (src/v8-defaults.ts).
    tlsModule();
    const { checkRuleSetCredentials } = await import('./credentials.js');
    results.push(...(await checkRuleSetCredentials(ruleSets, settings, span.signal, span.now)));
  }
  return reportOf({
    strict: settings.strict,
    ruleSets,
    results,
    rules: summariseRules(ruleSets, probed, { proxied: settings.proxy !== undefined }),
    findings: findingsOf(results, { startedAt: isoString(span.startedAt) }),
    recorded: settings.recorded,
    startedAt: span.startedAt,
    durationMs: span.durationMs(),
    interrupted: span.signal.aborted,
    interruptReason: span.signal.reason,
  });
}

/** A probed target, with the connection its passed check kept for --hold. */
type Probed = ProbedTarget & { kept?: KeptConnection };
/** A target's results: one, or one per address family (flat() takes either; the common case makes no array). */
type Probes = Probed | Probed[];

/** Whether --hold applies to a target: its rule is a long-lived channel and its check's kind can hold. */
function holdWanted(target: Target, settings: CheckSettings): boolean {
  return settings.holdMs !== undefined && target.rule.hold === true && probeFor(target.check).hold !== undefined;
}

/**
 * --hold: turns a probed target's kept connection into its hold result (idle, then proved), telling the hooks as
 * holds start and end. A target whose check passed without leaving a connection (a server that asks for a client
 * certificate, a broker that refuses an anonymous client) says so rather than passing in silence.
 */
function holdTracker(settings: CheckSettings, runSignal: AbortSignal, hooks: RunHooks): (probed: Probed) => Promise<ProbedTarget> {
  /** Hold id → when it ends (epoch ms). */
  const endings = new Map<number, number>();
  let holds = 0;
  const tell = (): void => hooks.onHold?.(endings.size, Math.max(0, ...endings.values()));
  return async ({ kept, ...probed }) => {
    const idleMs = settings.holdMs;
    const step = probeFor(probed.target.check).hold;
    if (idleMs === undefined || !step || !holdWanted(probed.target, settings) || !probed.outcome?.ok) {
      kept?.close();
      return probed;
    }
    if (!kept) {
      if (runSignal.aborted) return probed;
      const detail = "nothing to hold: the check's connection ended with the check (see the note)";
      return { ...probed, hold: { result: { requestedMs: idleMs, idleMs: 0, end: 'closed', proof: step.proof, detail } } };
    }
    const id = holds++;
    endings.set(id, Date.now() + idleMs);
    tell();
    try {
      const held = await holdConnection(kept, { idleMs, timeoutMs: settings.timeoutMs, signal: runSignal, proof: step.proof });
      return { ...probed, hold: held };
    } finally {
      endings.delete(id);
      tell();
    }
  };
}

const FAMILY_NAMES: Record<AddressFamily, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };
const CHOSEN: Record<FamilyChoice, AddressFamily[]> = { '4': ['ipv4'], '6': ['ipv6'], both: ['ipv4', 'ipv6'] };

/**
 * `target` for one address family: a copy with `family` added last, as `{ ...target, family }` would make it. Not that
 * spread: V8 11 (Node 20) gives each object a spread makes and a further property extends a hidden class of its own,
 * so 1,000 targets had 1,000 classes and every later read of one (the probe's, resultOf's, summariseRules') missed
 * V8's caches: a copy by Object.assign shares its class with the other targets of the same shape (docs/contributing.md,
 * "Last connect → exit").
 */
export function withFamily(target: Target, family: AddressFamily | undefined): Target {
  const copy: Target = Object.assign({}, target);
  copy.family = family;
  return copy;
}

/**
 * What the run reads from a lookup, read once per lookup rather than once per target (the targets of a name share
 * it, as they share the lookup): its address families, each once in the order found, and its addresses of one
 * family only, made for a family when first asked.
 */
interface LookupFamilies {
  families: ReadonlyArray<AddressFamily | undefined>;
  only: Partial<Record<AddressFamily, Resolution>>;
}
const lookupFamilies = new WeakMap<Resolution, LookupFamilies>();
function familiesFound(resolution: Resolution): LookupFamilies {
  let found = lookupFamilies.get(resolution);
  if (!found) lookupFamilies.set(resolution, (found = { families: [...new Set(resolution.addresses.map(familyOf))], only: {} }));
  return found;
}

function familiesOf(resolution: Resolution): ReadonlyArray<AddressFamily | undefined> {
  return familiesFound(resolution).families;
}

function ofFamily(resolution: Resolution, family: AddressFamily): Resolution {
  const { only } = familiesFound(resolution);
  return (only[family] ??= { ...resolution, addresses: resolution.addresses.filter((address) => familyOf(address) === family) });
}

/** A resolver that hands on only the addresses of one family (the shared lookup is still made once). */
function familyResolver(resolve: ResolveHost, family: AddressFamily): ResolveHost {
  return async (host, signal, options) => ofFamily(await resolve(host, signal, options), family);
}

/** What every probe of one run shares; made once a run. */
interface Run {
  settings: CheckSettings;
  /** The run's resolver: one lookup per host, shared by its targets (memoiseResolver). */
  resolve: MemoisedResolver;
  /**
   * The run's controller, which the attempts follow (QuickController.adopt); `stopping.aborted` is what a probe asks
   * (a getter of ours: an AbortSignal's runs Node's receiver check each time), `stopping.signal` the run's AbortSignal.
   */
  stopping: QuickController;
  now: () => Date;
  /** The attempts' deadlines and watchdogs, on one timer. */
  deadlines: Deadlines;
}

/**
 * A (rule, host, port) whose name has addresses of both families is probed once per family (concurrently: an
 * IPv6 blackhole costs its timeout once, beside IPv4), each result saying which. Through a proxy, which resolves
 * the names itself, and when DNS fails every try, there is one probe as before.
 */
function probeEachFamily(target: Target, run: Run): Promise<Probes> {
  const { settings } = run;
  const proxy = proxyFor(settings, target.host);
  if (target.skipReason !== undefined) return Promise.resolve({ target, attempts: 0, via: viaOf(settings, proxy) });
  if (proxy) return probeWithRetries(target, run, proxy, run.resolve).then((probed) => throughProxy(probed, settings.family ?? 'both'));
  // This lookup is part of the first attempt: its time counts against that attempt's --timeout (docs/timeouts.md).
  const firstTry = tryClock();
  // The run's lookup of this name has mostly ended already (a --resolve pin, a name shared by many targets).
  const known = run.resolve.settled(target.host);
  if (known) return probeFamilies(target, run, known, firstTry);
  return run.resolve(target.host, run.stopping).then((resolution) =>
    probeFamilies(target, run, resolution, resolution.durationMs > 0 ? lookupEnded(firstTry) : firstTry),
  );
}

/**
 * A target's tries made before its name's lookup answered (probeAfterFailedLookup): they count in each of its
 * results, and take from its --retries and its one overload retry.
 */
interface TriesBefore {
  attempts: number;
  retriesLeft: number;
  overloadRetried: boolean;
}

/** probeEachFamily once the name's lookup has ended (direct, not through a proxy). */
function probeFamilies(target: Target, run: Run, resolution: Resolution, firstTry: TryClock, before?: TriesBefore): Promise<Probes> {
  const { settings } = run;
  if (resolution.failure || resolution.addresses.length === 0) return probeAfterFailedLookup(target, run, resolution, firstTry, before);
  const present = familiesOf(resolution);
  const chosen = CHOSEN[settings.family ?? 'both'];
  const only = present.length === 1 ? present[0] : undefined;
  // A name of one family that the run probes (the common case) needs no filter on its addresses. A success stays the
  // run's answer for this name (see memoiseResolver), so every attempt of the target is handed it as `resolved`, as
  // its resolver would give it.
  if (only !== undefined && chosen.includes(only)) return probeWithRetries(withFamily(target, only), run, undefined, run.resolve, firstTry, resolution, before);
  const families = chosen.filter((family) => present.includes(family));
  if (families.length === 0) {
    // --family 4 or 6 and the name has only the other family: nothing to probe, and the result says why.
    const family = chosen[0] as AddressFamily;
    const other = FAMILY_NAMES[family === 'ipv4' ? 'ipv6' : 'ipv4'];
    const detail = `${target.host} has no ${FAMILY_NAMES[family]} address (--family ${settings.family}), only ${other}: ${resolution.addresses.join(', ')}`;
    const dnsMs = attemptDnsMs(resolution, resolution.durationMs, firstTry.startedAt);
    const outcome: ProbeOutcome = {
      ok: false,
      addresses: [],
      pinned: resolution.pinned,
      timings: { dnsMs, totalMs: dnsMs },
      failure: failure('dns_no_address', 'dns', detail),
    };
    return Promise.resolve({ target: withFamily(target, family), attempts: (before?.attempts ?? 0) + 1, outcome, via: viaOf(settings, undefined) });
  }
  // A name of more than one family (one of a single family was probed above, or has none the run probes): each
  // family the run probes, with that family's addresses only.
  const probeFamily = (family: AddressFamily): Promise<Probed> =>
    probeWithRetries(withFamily(target, family), run, undefined, familyResolver(run.resolve, family), firstTry, ofFamily(resolution, family), before);
  return families.length === 1 ? probeFamily(families[0] as AddressFamily) : Promise.all(families.map(probeFamily));
}

/**
 * A target whose name's lookup failed: the attempt reports that lookup rather than asking again. A retry (--retries,
 * or the overload retry of a starved attempt) looks the name up anew, and where it answers, the target is probed as
 * if that had been its first answer, each family on its own with the tries left (docs/networks.md): a lookup that
 * failed once, on a busy machine or a flaky resolver, must not leave one probe of whichever address connects first,
 * hiding the other family's verdict.
 */
async function probeAfterFailedLookup(target: Target, run: Run, failed: Resolution, clock: TryClock, before?: TriesBefore): Promise<Probes> {
  const { settings, stopping } = run;
  let answered = false;
  const reportFailed: ResolveHost = (host, signal, options) => {
    if (answered || host !== target.host) return run.resolve(host, signal, options);
    answered = true;
    return Promise.resolve(failed);
  };
  const attempt = await tryOnce(target, run, reportFailed, undefined, clock);
  const tries: TriesBefore = {
    attempts: (before?.attempts ?? 0) + 1,
    retriesLeft: before?.retriesLeft ?? settings.retries,
    overloadRetried: before?.overloadRetried ?? false,
  };
  if (attempt.overload) {
    // Tried again as probeUntilDone tries a starved attempt: once, if its lookup can start in time (the place among
    // the overload retries held for the lookup only); else local_overload.
    const next = tries.overloadRetried || stopping.aborted ? undefined : await afterOverload(run, () => lookUp(target, run));
    if (!next) return probedOf(target, run, undefined, tries.attempts, { ...attempt.outcome, failure: attempt.overload });
    return probeFamilies(target, run, next.resolution, next.clock, { ...tries, overloadRetried: true });
  }
  if (tries.retriesLeft === 0 || stopping.aborted) return probedOf(target, run, undefined, tries.attempts, attempt.outcome);
  const next = await lookUp(target, run);
  return probeFamilies(target, run, next.resolution, next.clock, { ...tries, retriesLeft: tries.retriesLeft - 1 });
}

/** A retry's lookup of the target's name, which begins the attempt: its answer, and the attempt's clock. */
async function lookUp(target: Target, run: Run): Promise<{ resolution: Resolution; clock: TryClock }> {
  const clock = tryClock();
  const resolution = await run.resolve(target.host, run.stopping);
  return { resolution, clock: resolution.durationMs > 0 ? lookupEnded(clock) : clock };
}

/**
 * A target probed through a proxy. Sent a name, the proxy resolves it and picks the family itself: one result,
 * marked resolvedByProxy, with no family (so no IPv4/IPv6 judgement is made of it), and a --family 4 or 6 that
 * could not be honoured says so. Sent an address (an IP literal, a --resolve pin), the family is that address's.
 */
function throughProxy(probed: Probed, family: FamilyChoice): Probed {
  const { outcome } = probed;
  if (!outcome) return probed;
  if (outcome.address !== undefined) return { ...probed, target: withFamily(probed.target, familyOf(outcome.address)) };
  const unhonoured =
    family === 'both' ? undefined : `--family ${family} does not apply here: the proxy resolved the name and chose the family itself`;
  return {
    ...probed,
    resolvedByProxy: true,
    ...(unhonoured && outcome.ok && { outcome: { ...outcome, note: [outcome.note, unhonoured].filter(Boolean).join('; ') } }),
  };
}

/** The proxy a target goes through: --proxy, or the environment's unless NO_PROXY exempts the host. */
function proxyFor(settings: CheckSettings, host: string): Proxy | undefined {
  if (!settings.proxy) return undefined;
  return settings.noProxy && bypassesProxy(host, settings.noProxy) ? undefined : settings.proxy;
}

/** How a result says it was probed: the proxy in the report's form (password masked, as recorded), or direct. */
function viaOf(settings: CheckSettings, proxy: Proxy | undefined): string {
  return proxy ? (settings.recorded.proxy ?? 'proxy') : 'direct';
}

/**
 * Probes a target until it passes or --retries are spent, through `proxy` or direct; `resolve` is the target's
 * (a family's addresses only, see probeEachFamily). A first attempt whose time began with the scheduler's lookup
 * gets that moment as `firstTry`.
 */
function probeWithRetries(
  target: Target,
  run: Run,
  proxy: Proxy | undefined,
  resolve: ResolveHost,
  firstTry?: TryClock,
  resolved?: Resolution,
  before?: TriesBefore,
): Promise<Probed> {
  if (run.stopping.aborted || holdWanted(target, run.settings)) return probeUntilDone(target, run, proxy, resolve, firstTry, resolved, undefined, before);
  // The common case, a first attempt that passes, without probeUntilDone's async steps around it (once a target), and
  // judged as the attempt settles (tryOnce's `then`) rather than in a step of its own.
  return tryOnce(target, run, resolve, proxy, firstTry ?? tryClock(), undefined, resolved, (first) =>
    first.outcome.ok
      ? probedOf(target, run, proxy, (before?.attempts ?? 0) + 1, first.outcome)
      : probeUntilDone(target, run, proxy, resolve, firstTry, resolved, first, before),
  );
}

/**
 * probeWithRetries's tries, from the first (or after `first`, a first attempt already made: not one that passed);
 * after `before`, those made before the name's lookup answered.
 */
async function probeUntilDone(
  target: Target,
  run: Run,
  proxy: Proxy | undefined,
  resolve: ResolveHost,
  firstTry?: TryClock,
  resolved?: Resolution,
  first?: Tried,
  before?: TriesBefore,
): Promise<Probed> {
  const { settings, stopping } = run;
  // Only a passed check keeps a connection, and a pass ends the tries: the last one kept is the one to hold.
  let kept: KeptConnection | undefined;
  const keep = holdWanted(target, settings)
    ? (connection: KeptConnection): void => {
        kept?.close();
        kept = connection;
      }
    : undefined;
  let outcome: ProbeOutcome | undefined;
  let attempts = before?.attempts ?? 0;
  let overloadRetried = before?.overloadRetried ?? false;
  const retries = before?.retriesLeft ?? settings.retries;
  // A first attempt already made was started before the run's signal aborted, as the loop's test would have asked.
  for (let tries = 0; tries <= retries && ((tries === 0 && first !== undefined) || !stopping.aborted); tries += 1) {
    let attempt = tries === 0 && first !== undefined ? first : await tryOnce(target, run, resolve, proxy, (tries === 0 && firstTry) || tryClock(), keep, resolved);
    attempts += 1;
    if (attempt.overload && !overloadRetried && !stopping.aborted) {
      // Tried again once the loop runs freely, and few at a time: the probes a busy machine starved together would
      // otherwise all try again together. This try does not count against --retries. Once per target, and only if
      // it starts within OVERLOAD_WAIT_MS, so that a run stays within its documented bound (docs/timeouts.md):
      // one that waited longer behind other starved probes is reported as local_overload.
      overloadRetried = true;
      const retried = await afterOverload(run, () => tryOnce(target, run, resolve, proxy, tryClock(), keep, resolved));
      if (retried) {
        attempt = retried;
        attempts += 1;
      }
    }
    outcome = attempt.overload ? { ...attempt.outcome, failure: attempt.overload } : attempt.outcome;
    if (outcome.ok || attempt.overload) break;
  }
  if (kept && (!outcome?.ok || stopping.aborted)) {
    kept.close();
    kept = undefined;
  }
  return probedOf(target, run, proxy, attempts, outcome, kept);
}

/**
 * A starved attempt's one try more (`retry`), once the loop runs freely and among OVERLOAD_RETRY_CONCURRENCY at a
 * time; undefined where it could not start within OVERLOAD_WAIT_MS (or the timeout, if shorter) of the call.
 */
function afterOverload<T>(run: Run, retry: () => Promise<T>): Promise<T | undefined> {
  const starvedAt = performance.now();
  return overloadRetries(async () => {
    const queuedMs = performance.now() - starvedAt;
    if (queuedMs >= OVERLOAD_WAIT_MS) return undefined;
    await untilLoopFree(Math.min(run.settings.timeoutMs, OVERLOAD_WAIT_MS - queuedMs), run.stopping.signal);
    return retry();
  });
}

/** A target's probed result after its tries: interrupted if the run's signal has aborted. */
function probedOf(target: Target, run: Run, proxy: Proxy | undefined, attempts: number, outcome?: ProbeOutcome, kept?: KeptConnection): Probed {
  const probed: Probed = { target, attempts };
  if (run.stopping.aborted) probed.skipReason = INTERRUPTED;
  if (outcome) probed.outcome = outcome;
  if (kept) probed.kept = kept;
  probed.via = viaOf(run.settings, proxy);
  return probed;
}

/** When an attempt's time began, and how long the event loop had stood still by then. */
interface TryClock {
  startedAt: number;
  stalledBefore: number;
  /**
   * A first attempt's clock from its lookup's answer, once that lookup answered: when the answer could first be read
   * (how late the loop read it taken off) and how long the loop had stood still by then (see judged).
   */
  answered?: TryClock;
}

function tryClock(): TryClock {
  const startedAt = performance.now();
  return { startedAt, stalledBefore: stalledMs(startedAt) };
}

/**
 * A first attempt's clock once the lookup it waited for has answered. A stall the answer may have waited out (lastRan:
 * one going on as it is read, or one that has just ended) took its time from the phases that follow, and counts as
 * theirs; an earlier stall of the lookup delayed nothing of them (see judged).
 */
function lookupEnded(clock: TryClock): TryClock {
  const ran = lastRan();
  // A stall going on since before the attempt began leaves it nothing to judge apart: the whole attempt is judged.
  if (ran.at <= clock.startedAt) return clock;
  return { ...clock, answered: { startedAt: ran.at, stalledBefore: ran.stalledMs } };
}

/** An attempt's outcome, and the local_overload it reads as when it measured this machine rather than the network. */
interface Tried {
  outcome: ProbeOutcome;
  overload?: Failure | undefined;
}

/**
 * One attempt. Its time runs from `clock`: for a first attempt, from the lookup the scheduler made for it, which the
 * attempt's timeout covers. The probe gets the attempt's own signal, which aborts with a TimeoutError at the
 * deadline (lent to the probe's budget, see phases.ts) and follows the run's controller (adopted by it, see
 * followedSignal). One deadline of the run's (deadlines.ts) serves the deadline and, WATCHDOG_GRACE_MS later, the watchdog, so that even a probe
 * that forgets its timeout cannot hold up the run: the watchdog settles the attempt as overdueOutcome, and a
 * connection the probe hands over after that is closed, not kept. The probe and the watchdog settle one promise,
 * whichever comes first: no race between promises of their own, as this runs once per target. The attempt's promise
 * settles with `then` of its judged outcome (the caller's next step, taken without a promise of its own), or with
 * that outcome itself.
 */
function tryOnce<T = Tried>(
  target: Target,
  run: Run,
  resolve: ResolveHost,
  proxy: Proxy | undefined,
  clock: TryClock,
  keep?: (connection: KeptConnection) => void,
  resolved?: Resolution,
  then?: (tried: Tried) => T | Promise<T>,
): Promise<T> {
  const { settings } = run;
  const { timeoutMs } = settings;
  const controller = new QuickController();
  const deadline = clock.startedAt + timeoutMs;
  let overran = false;
  const ctx: ProbeContext = {
    timeoutMs,
    startedAt: clock.startedAt,
    // The controller itself: its AbortSignal is made only if the probe needs one (see QuickController).
    signal: controller,
    deadline,
    resolve,
    ca: settings.caPems,
    insecure: settings.insecure,
    now: run.now,
  };
  if (proxy) ctx.proxy = proxy;
  if (resolved) ctx.resolved = resolved;
  const idleMs = settings.holdMs;
  if (keep && idleMs !== undefined) ctx.hold = { idleMs, keep: (connection) => (overran ? connection.close() : keep(connection)) };
  const { deadlines, stopping } = run;
  return new Promise<T>((resolveAttempt, fail) => {
    const end = (): void => {
      deadlines.cancel(timer);
      stopping.release(controller);
    };
    let timer = deadlines.add(deadline, () => {
      controller.abort(timedOut(timeoutMs));
      // The signal has aborted by now (here or on Ctrl-C): the watchdog only gives up on the probe.
      timer = deadlines.add(performance.now() + WATCHDOG_GRACE_MS, () => {
        overran = true;
        end();
        settleAttempt(judged(overdueOutcome(target, timeoutMs), timeoutMs, clock, controller), then, resolveAttempt, fail);
      });
    });
    if (stopping.aborted) controller.abort(stopping.reason);
    else stopping.adopt(controller);
    let probing: Promise<ProbeOutcome>;
    try {
      probing = probeFor(target.check).run(target, ctx);
    } catch (err) {
      end();
      fail(err);
      return;
    }
    probing.then(
      (outcome) => {
        if (overran) return;
        end();
        settleAttempt(judged(outcome, timeoutMs, clock, controller), then, resolveAttempt, fail);
      },
      (err: unknown) => {
        if (overran) return;
        end();
        fail(err);
      },
    );
  });
}

/** Settles an attempt's promise with `then` of its judged outcome (or the outcome itself); `then` throwing rejects it. */
function settleAttempt<T>(
  tried: Tried,
  then: ((tried: Tried) => T | Promise<T>) | undefined,
  resolve: (value: T | Promise<T>) => void,
  reject: (err: unknown) => void,
): void {
  if (!then) return resolve(tried as T);
  try {
    resolve(then(tried));
  } catch (err) {
    reject(err);
  }
}

/**
 * An attempt's outcome, judged when it has just ended (see overloadOf). A phase after a lookup that answered is also
 * judged on the time from that answer, and a step the probe began with little time left (`controller.lateStepAt`, see
 * phases.ts lookFirst) on the time from the answer before it, read late if the loop had just stood still.
 */
function judged(outcome: ProbeOutcome, timeoutMs: number, clock: TryClock, controller: QuickController): Tried {
  // A pass measured nothing of the machine: no clock to read.
  if (!outcome.failure) return { outcome };
  const endedAt = performance.now();
  const stalled = stalledMs(endedAt);
  const waitedMs = endedAt - clock.startedAt;
  const stood = stalled - clock.stalledBefore;
  const afterDns = outcome.failure.phase !== 'dns';
  const answered = afterDns ? clock.answered : undefined;
  const afterLookup = answered && { lookupMs: answered.startedAt - clock.startedAt, stalledMs: stalled - answered.stalledBefore };
  let overload = overloadOf(outcome, timeoutMs, waitedMs, stood, afterLookup);
  const lateStepAt = controller.lateStepAt;
  if (overload === undefined && afterDns && lateStepAt !== undefined) {
    const ran = lastRan(lateStepAt);
    const afterAnswer = { lookupMs: ran.at - clock.startedAt, stalledMs: stalled - ran.stalledMs, late: true };
    if (ran.at > clock.startedAt) overload = overloadOf(outcome, timeoutMs, waitedMs, stood, afterAnswer);
  }
  return { outcome, overload };
}

/**
 * The run's controller: a QuickController that follows the caller's signal, so that the attempts in flight follow it
 * through its Set (QuickController.adopt) rather than one 'abort' event listener each: an EventTarget walks its whole
 * listener list on every add and remove, which with 256 probes in flight cost about 70 ms per 1,000 probes, more than
 * their connects.
 */
function followedSignal(caller: AbortSignal | undefined): { stopping: QuickController; unfollow: () => void } {
  const run = new QuickController();
  if (!caller) return { stopping: run, unfollow: () => undefined };
  if (caller.aborted) run.abort(caller.reason);
  return { stopping: run, unfollow: onAbort(caller, () => run.abort(caller.reason)) };
}

/**
 * What a probe that overran its time comes back as: the timeout of the phase its kind ends in, with the same code
 * a probe that notices its own timeout in that phase reports (classify.ts's TIMEOUT_CODES).
 */
export function overdueOutcome(target: Target, timeoutMs: number): ProbeOutcome {
  const phase = checkOf(target.check).lastPhase;
  return {
    ok: false,
    addresses: [],
    pinned: false,
    timings: { totalMs: timeoutMs + WATCHDOG_GRACE_MS },
    failure: failure(TIMEOUT_CODES[phase], phase, `no answer within ${timeoutMs} ms`),
  };
}

/** Overloaded probes tried again at once. */
const OVERLOAD_RETRY_CONCURRENCY = 8;
/** Probes tried again because the machine, not the network, was slow: one machine, so one queue per process. */
const overloadRetries = pLimit(OVERLOAD_RETRY_CONCURRENCY);
/**
 * The longest an overloaded probe waits for its second try (for a place among the retries, then for a free loop):
 * a machine may stay busy. It waits at most its --timeout if that is shorter.
 */
export const OVERLOAD_WAIT_MS = 300;

/**
 * The least time from a lookup's answer that is judged on its own (overloadOf): in less, pushcheck's own work on the
 * answer for the name's targets (23-30 ms seen on an idle machine, 12 targets of one name) can be half of it, and
 * the stall watch counts no stall under 15 ms. A lookup that leaves less took the attempt's time itself.
 */
const JUDGED_AFTER_LOOKUP_MIN_MS = 100;

/**
 * local_overload for a failed attempt that ran out its whole time while this process's event loop stood still for
 * a large share of it (see stall.ts); undefined for any other outcome. A connect, handshake or request after a lookup
 * that answered had only the time from that answer (`afterLookup`: when it came, `lookupMs` into the attempt, and how
 * long the loop stood still since, the stall it was read late by included): where the loop stood still for that
 * share of that time, the attempt measured this machine too. So a 600 ms answer read 400 ms late, which left the
 * connect no time, is this machine's doing; a stall early in a slow lookup, which delayed neither its answer nor
 * the connect, is not. So with `late`: the time from an answer before a step the probe began with little time left
 * (a connect to a proxy read in a deadline's look, then the CONNECT it leaves no time), told apart in the message.
 */
export function overloadOf(
  outcome: ProbeOutcome,
  timeoutMs: number,
  waitedMs: number,
  stalledMs: number,
  afterLookup?: { lookupMs: number; stalledMs: number; late?: boolean },
): Failure | undefined {
  const failed = outcome.failure;
  if (!failed || waitedMs < timeoutMs * 0.95) return undefined;
  let stood = stalledMs;
  let waited = waitedMs;
  let after = '';
  if (!stoodStillFor(waitedMs, stalledMs)) {
    if (!afterLookup) return undefined;
    waited = waitedMs - afterLookup.lookupMs;
    stood = afterLookup.stalledMs;
    if (waited < JUDGED_AFTER_LOOKUP_MIN_MS || !stoodStillFor(waited, stood)) return undefined;
    const answeredMs = Math.round(afterLookup.lookupMs);
    after = afterLookup.late ? ` past its last answer, read late from ${answeredMs} ms` : ` past its DNS lookup, which answered in ${answeredMs} ms`;
  }
  return failure(
    'local_overload',
    failed.phase,
    `this machine was too busy to judge: pushcheck stood still for ${Math.round(stood)} of the ${Math.round(waited)} ms the probe waited${after} (it would have read ${failed.code}: ${failed.message})`,
  );
}

/**
 * Targets sharing a host share one lookup per run: consistent addresses, and no resolver flood.
 * The shared lookup is bound to the run, not to the first probe that asked (whose own timeout would cut it
 * short for the others); the resolver's timeout bounds it. A failed lookup is forgotten so a retry asks again.
 */
function memoiseResolver(resolve: ResolveHost, runSignal: AbortSignal): MemoisedResolver {
  const cache = new Map<string, Promise<Resolution>>();
  /** The lookups that have succeeded, kept for the run as their promises are: no wait for what is known. */
  const succeeded = new Map<string, Resolution>();
  const memoised: ResolveHost = (host, _signal, options) => {
    // Pins only: nothing to share, nothing that waits.
    if (options?.pinnedOnly) return resolve(host, runSignal, options);
    const key = host.toLowerCase();
    let pending = cache.get(key);
    if (!pending) {
      pending = resolve(host, runSignal).then((resolution) => {
        if (resolution.failure) cache.delete(key);
        else succeeded.set(key, resolution);
        return resolution;
      });
      cache.set(key, pending);
    }
    return pending;
  };
  return Object.assign(memoised, { settled: (host: string) => succeeded.get(host.toLowerCase()) });
}

/** The run's resolver, which also tells what a name's lookup gave once it has succeeded (undefined before). */
type MemoisedResolver = ResolveHost & { settled: (host: string) => Resolution | undefined };

// Other runs (credentials) describe the machine the same way.
export { reportEnvironment } from './outcome.js';
