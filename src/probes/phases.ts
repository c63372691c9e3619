/**
 * What every probe shares: the whole-probe time budget, ms rounding, the DNS phase and the outcome it starts from.
 */
import { performance } from 'node:perf_hooks';
import type { Failure, FailureCode, Phase, ProbeOutcome, Target, Timings } from '../types.js';
import type { ProbeContext, Resolution, SignalStandIn, AbortSignalLike } from './types.js';
import { failure, PhaseError, TIMEOUT_CODES, withContext } from './classify.js';

/** Durations are reported in ms rounded to 0.1. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** ms since `start` (a `performance.now()`), rounded. */
export function since(start: number): number {
  return roundMs(performance.now() - start);
}

/** Where each phase's duration goes in Timings. */
const PHASE_TIMINGS: Record<Phase, Exclude<keyof Timings, 'totalMs'>> = {
  dns: 'dnsMs',
  connect: 'connectMs',
  tls: 'tlsMs',
  http: 'httpMs',
};

/** The failure code a phase reports when it is interrupted (Ctrl-C, the run stopping). */
const INTERRUPT_CODES: Record<Phase, FailureCode> = {
  dns: 'dns_error',
  connect: 'tcp_error',
  tls: 'tls_handshake_failed',
  http: 'http_error',
};

function isTimeoutReason(reason: unknown): boolean {
  return reason instanceof Error && reason.name === 'TimeoutError';
}

/** Aborted for another reason than a timeout: Ctrl-C, the run stopping. */
export function isInterrupted(signal: AbortSignalLike | undefined): boolean {
  return signal?.aborted === true && !isTimeoutReason(signal.reason);
}

/** On an AbortSignal that a QuickController made: that controller, whose listeners onAbort() joins. */
const QUICK = Symbol('QuickController');
type QuickSignal = AbortSignal & { [QUICK]?: SignalStandIn };

/**
 * An AbortController for what is made once a target (run.ts's attempts), cheaper in two ways on Node 20:
 * - onAbort() listeners are kept in a Set that `abort` walks: adding a listener to an AbortSignal (an EventTarget)
 *   and removing it cost about 6 µs each;
 * - its AbortSignal is made only when something asks for `signal` (to hand to a Node API: the write check's node:http): making one
 *   costs about 8 µs, and no other check asks. Until then the controller stands in for its signal: it has
 *   `aborted` and `reason`, and onAbort(), isInterrupted(), stoppedFailure() and bounded() take either (AbortSignalLike).
 * Abort only through `abort`, so that the listeners are called.
 */
export class QuickController implements SignalStandIn {
  /**
   * When a step of the attempt last began with little time left (under LATE_STEP_MS: lookFirst notes it), as after an
   * answer read late; the scheduler judges what followed from the stall that answer may have waited out. Declared, not
   * initialised: set only on that rare path, so the controllers of other attempts keep their shape.
   */
  declare lateStepAt: number | undefined;
  #aborted = false;
  #reason: unknown;
  #controller: AbortController | undefined;
  /**
   * onAbort()'s listeners and the controllers that follow this one (adopt), in the order added: the first in a field
   * of its own, the others in a Set made for a second. An attempt has one (its connect's), and a Set a target was
   * about 130 bytes more to allocate and, with 64 attempts in flight, to copy at every scavenge.
   */
  #first: Follower | undefined;
  #more: Set<Follower> | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** The AbortSignal, made on first use (already aborted if the controller has been); onAbort() on it comes here. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      (this.#controller.signal as QuickSignal)[QUICK] = this;
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const first = this.#first;
    const more = this.#more === undefined ? [] : [...this.#more];
    this.#first = undefined;
    this.#more = undefined;
    for (const listener of first === undefined ? more : [first, ...more]) {
      if (listener instanceof QuickController) listener.abort(reason);
      else listener();
    }
  }

  /** onAbort() for this controller (use that). */
  listen(listener: () => void): () => void {
    this.#add(listener);
    return () => this.#remove(listener);
  }

  /**
   * `child` aborts with this controller, with its reason, until released: a run's attempts follow the run so, with
   * no listener and no remover made once an attempt. Adopt only a child that has not aborted yet.
   */
  adopt(child: QuickController): void {
    this.#add(child);
  }

  release(child: QuickController): void {
    this.#remove(child);
  }

  #add(follower: Follower): void {
    if (follower === this.#first) return;
    // The field only while no later one waits in the Set: they are called in the order added.
    if (this.#first === undefined && (this.#more === undefined || this.#more.size === 0)) this.#first = follower;
    else (this.#more ??= new Set()).add(follower);
  }

  #remove(follower: Follower): void {
    if (follower === this.#first) this.#first = undefined;
    else this.#more?.delete(follower);
  }
}

/** What a QuickController calls or aborts as it aborts. */
type Follower = (() => void) | QuickController;

/** An AbortSignal to hand to a Node API: a QuickController's is made now if it has not been. */
export function abortSignalOf(stop: AbortSignalLike): AbortSignal {
  return stop instanceof AbortSignal ? stop : stop.signal;
}

/**
 * Calls `listener` once when `stop` aborts (not if it already has); returns what removes it. A QuickController (or
 * the signal it made) keeps it in a Set, any other signal as an 'abort' event listener.
 */
export function onAbort(stop: AbortSignalLike, listener: () => void): () => void {
  if (!(stop instanceof AbortSignal)) return stop.listen(listener);
  const quick = (stop as QuickSignal)[QUICK];
  if (quick) return quick.listen(listener);
  stop.addEventListener('abort', listener, { once: true });
  return () => stop.removeEventListener('abort', listener);
}

/**
 * A step that begins with less than this left of its time (a wait armed for less) is noted on its attempt's controller
 * (QuickController.lateStepAt). Less than this from an answer is not judged on its own either (run.ts).
 */
export const LATE_STEP_MS = 100;

/**
 * A deadline's timer: calls `fire` `ms` from now, once the loop has then polled its input one more time, so that a
 * timeout is declared only after what came before it has been read. libuv runs the timers due before it polls again:
 * after the loop stood still (our own work in an I/O callback, or a machine too busy to run us), a timer that fell due
 * in the stall would fire before an answer that came in it is read, and a healthy peer would read as silent. A
 * setImmediate runs after the poll phase: one turn of the loop, never an open-ended wait. Returns what disarms it (the
 * timer, or the look under way). A wait armed with little time left (`ms` under LATE_STEP_MS) is noted on `signal`'s
 * attempt: the step before it took nearly all the time, perhaps by an answer read late.
 */
export function lookFirst(fire: () => void, ms: number, signal?: AbortSignalLike): () => void {
  if (ms < LATE_STEP_MS && signal !== undefined) noteLateStep(signal);
  let look: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    look = setImmediate(fire);
  }, Math.max(0, ms));
  return () => {
    clearTimeout(timer);
    if (look !== undefined) clearImmediate(look);
  };
}

/** Notes on the attempt's controller behind `signal` (if it is one) that a step began now with little time left. */
function noteLateStep(signal: AbortSignalLike): void {
  const quick = signal instanceof AbortSignal ? (signal as QuickSignal)[QUICK] : signal;
  if (quick instanceof QuickController) quick.lateStepAt = performance.now();
}

/** The failure of a phase stopped after `waitedMs`: its own timeout, or an abort (which may itself be a timeout). */
export function stoppedFailure(
  phase: Phase,
  waitedMs: number,
  signal?: AbortSignalLike,
  recorded?: PhaseError['recorded'],
): PhaseError {
  const interrupted = isInterrupted(signal);
  const detail = `${interrupted ? 'interrupted' : 'timed out'} after ${Math.round(waitedMs)} ms`;
  return new PhaseError(failure((interrupted ? INTERRUPT_CODES : TIMEOUT_CODES)[phase], phase, detail), waitedMs, recorded);
}

/**
 * The whole-probe bound: `stop` aborts (with a TimeoutError) when `timeoutMs` has passed since the probe started
 * (`startedAt`, a `performance.now()`: earlier than now when the probe's time began with a lookup made for it),
 * or as soon as the caller's signal aborts (with its reason). Call `dispose()` when the probe ends.
 * A caller whose signal already aborts with a TimeoutError at `outerDeadline` (the scheduler's attempt signal) and
 * no later than this budget would, lends the budget that signal: no timer, controller or listener of its own. With
 * 256 probes in flight those cost more per target than the connect itself.
 */
export class Budget {
  /** Aborts at the deadline or with the caller's signal; pass it on as is, or through abortSignalOf() to a Node API. */
  readonly stop: AbortSignalLike;
  readonly #start: number;
  readonly #deadline: number;
  /** Stops the budget's own timer and listener; absent when it was lent the caller's signal. */
  readonly #dispose: (() => void) | undefined;

  constructor(timeoutMs: number, outer: AbortSignalLike, startedAt = performance.now(), outerDeadline?: number) {
    this.#start = startedAt;
    if (outerDeadline !== undefined && outerDeadline <= startedAt + timeoutMs) {
      this.#deadline = outerDeadline;
      this.stop = outer;
      return;
    }
    this.#deadline = startedAt + timeoutMs;
    const controller = new QuickController();
    this.stop = controller;
    const disarm = lookFirst(() => controller.abort(timedOut(timeoutMs)), this.#deadline - performance.now());
    if (outer.aborted) controller.abort(outer.reason);
    const stopListening = outer.aborted ? undefined : onAbort(outer, () => controller.abort(outer.reason));
    this.#dispose = () => {
      disarm();
      stopListening?.();
    };
  }

  /** ms left before the deadline (0 once it has passed or the signal aborted), at `now` (a performance.now()). */
  remaining(now = performance.now()): number {
    return this.stop.aborted ? 0 : Math.max(0, this.#deadline - now);
  }

  /** ms since the probe started, unrounded, at `now` (a performance.now()). */
  elapsed(now = performance.now()): number {
    return now - this.#start;
  }

  dispose(): void {
    this.#dispose?.();
  }
}

/** The abort reason of a deadline: a TimeoutError, which isInterrupted() tells apart from Ctrl-C. */
export function timedOut(timeoutMs: number): DOMException {
  return new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError');
}

/**
 * A probe's outcome in the making, from its lookup's answer to its end: its budget, and what the lookup took of its
 * time. runProbe drives it around an async body; a probe whose one phase settles by a callback (the tcp check's pooled
 * connect, tcp.ts) drives it from there, without a promise or an async step of its own, once a target.
 */
export class ProbeRecord {
  // Set in the constructor, not as class fields (declared, so that none is defined first as undefined), and with no
  // literal nested in another: a nested literal is made by V8's runtime, about 1,200 instructions, once a probe.
  declare readonly budget: Budget;
  declare readonly outcome: ProbeOutcome;
  /** Through a proxy the proxy resolves the name: no DNS phase of ours, only a --resolve pin or an IP is sent as such. */
  declare readonly proxied: boolean;
  declare private lookupWaitMs: number;
  declare private readonly timeoutMs: number;

  constructor(ctx: ProbeContext) {
    this.budget = new Budget(ctx.timeoutMs, ctx.signal, ctx.startedAt, ctx.deadline);
    const addresses: string[] = [];
    const timings: Timings = { totalMs: 0 };
    this.outcome = { ok: false, addresses, pinned: false, timings };
    this.proxied = ctx.proxy !== undefined;
    this.lookupWaitMs = 0;
    this.timeoutMs = ctx.timeoutMs;
  }

  /**
   * Records the lookup's answer, read at `endedAt` (a performance.now()). Returns the addresses for the probe's phases,
   * or undefined when there is nothing to probe (the outcome's failure says why).
   */
  lookedUp(target: Target, resolution: Resolution, endedAt: number, startedAt: number | undefined): string[] | undefined {
    const { outcome } = this;
    // What the lookup took of this attempt's time (a lookup shared with other targets may have begun before it).
    this.lookupWaitMs = this.budget.elapsed(endedAt);
    outcome.addresses = resolution.addresses;
    outcome.pinned = resolution.pinned;
    if (!this.proxied) outcome.timings.dnsMs = attemptDnsMs(resolution, this.lookupWaitMs, startedAt);
    if (resolution.failure) {
      outcome.failure = resolution.failure;
    } else if (resolution.addresses.length === 0 && !this.proxied) {
      outcome.failure = failure('dns_no_address', 'dns', target.host);
    } else {
      return resolution.addresses;
    }
    return undefined;
  }

  /** The phases have run to their end: the probe passed unless one of them recorded a failure. */
  passed(): void {
    this.outcome.ok = this.outcome.failure === undefined;
  }

  /** A phase's PhaseError as the outcome's failure. Anything else is pushcheck's bug: re-thrown. */
  failed(err: unknown): void {
    if (!(err instanceof PhaseError)) throw err;
    const { outcome } = this;
    outcome.failure = dnsShare(err.failure, this.proxied ? 0 : this.lookupWaitMs, this.timeoutMs, this.budget);
    const phase = err.failure.phase;
    if (phase !== 'cert' && phase !== 'write' && phase !== 'hold') outcome.timings[PHASE_TIMINGS[phase]] = roundMs(err.durationMs);
    if (err.recorded.address !== undefined) outcome.address = err.recorded.address;
    if (err.recorded.tls !== undefined) outcome.tls = err.recorded.tls;
  }

  /** Ends the probe (its budget disposed) and gives its outcome. Call once, whatever happened. */
  end(): ProbeOutcome {
    this.budget.dispose();
    const { outcome } = this;
    // Rebuilt so that the phases come in order in reports; a phase that did not run stays absent.
    const { dnsMs, connectMs, tlsMs, httpMs } = outcome.timings;
    const phasesMs = (dnsMs ?? 0) + (connectMs ?? 0) + (tlsMs ?? 0) + (httpMs ?? 0);
    // Assigned, not spread from optional parts: this runs once a probe, cold, in every run.
    const timings = {} as Timings;
    if (dnsMs !== undefined) timings.dnsMs = dnsMs;
    if (connectMs !== undefined) timings.connectMs = connectMs;
    if (tlsMs !== undefined) timings.tlsMs = tlsMs;
    if (httpMs !== undefined) timings.httpMs = httpMs;
    timings.totalMs = Math.max(roundMs(this.budget.elapsed()), roundMs(phasesMs));
    outcome.timings = timings;
    if (outcome.failure) outcome.ok = false;
    return outcome;
  }
}

/**
 * Runs a probe: resolves the host, hands the addresses to `body` (through a proxy they may be empty), and turns a
 * PhaseError anywhere into the outcome's failure. `body` fills in the outcome (timings of its phases, address, tls,
 * http, note) and returns normally on success (what it resolves with is not used). totalMs is never less than the sum
 * of the phases (rounding aside, it cannot be). `body` is also handed the clock as the lookup ended (a
 * performance.now()), which its first phase may start from rather than read it again.
 */
export async function runProbe(
  target: Target,
  ctx: ProbeContext,
  body: (addresses: string[], outcome: ProbeOutcome, budget: Budget, lookupEndedAt: number) => Promise<unknown>,
): Promise<ProbeOutcome> {
  const probe = new ProbeRecord(ctx);
  try {
    const resolution = ctx.resolved ?? (await ctx.resolve(target.host, probe.budget.stop, { pinnedOnly: probe.proxied }));
    const lookupEndedAt = performance.now();
    const addresses = probe.lookedUp(target, resolution, lookupEndedAt, ctx.startedAt);
    if (addresses) {
      await body(addresses, probe.outcome, probe.budget, lookupEndedAt);
      probe.passed();
    }
  } catch (err) {
    probe.failed(err);
  } finally {
    probe.end();
  }
  return probe.outcome;
}

/**
 * An attempt's dnsMs: what it waited for its addresses (`waitedMs` since it began, or from `startedAt` to the lookup's
 * end), never more than the lookup took. A result's timings describe the attempt it reports, and a run looks a name
 * up once: the attempt that waited for the whole lookup reports all of it, one that joined it under way the rest, and
 * one handed the answer ready (a retry, a later target of the name) made no lookup: 0 ms, as for a pin. So totalMs,
 * never less than the phases' sum, stays within the attempt's timeout (docs/timeouts.md).
 */
export function attemptDnsMs(resolution: Resolution, waitedMs: number, startedAt?: number): number {
  const { durationMs, endedAt } = resolution;
  const waited = endedAt !== undefined && startedAt !== undefined ? endedAt - startedAt : waitedMs;
  return roundMs(Math.max(0, Math.min(durationMs, waited)));
}

/** A phase after DNS that ran out of the probe's time says how much of it the lookup took, when that was much. */
function dnsShare(fail: Failure, dnsMs: number, timeoutMs: number, budget: Budget): Failure {
  if (fail.phase === 'dns' || fail.phase === 'cert' || fail.phase === 'write' || fail.phase === 'hold') return fail;
  // A phase stopped at the budget's deadline (by its own timer, or the connect by the budget's stop) ran out of time.
  const ranOut = fail.code === TIMEOUT_CODES[fail.phase] && budget.elapsed() >= timeoutMs * 0.95;
  if (!ranOut || dnsMs < timeoutMs * DNS_SHARE_WORTH_SAYING) return fail;
  return withContext(fail, `the DNS lookup took ${Math.round(dnsMs)} ms of the ${timeoutMs} ms timeout`);
}

/** The share of a probe's time a lookup must take before a later phase's timeout mentions it. */
const DNS_SHARE_WORTH_SAYING = 0.1;

/**
 * Waits for `work` at most `timeoutMs` (and the look lookFirst gives) and only while `signal` is not aborted;
 * otherwise rejects with the phase's timeout (or interruption) failure and calls `onStop` so that the work can be
 * cancelled. A late rejection of `work` is swallowed.
 */
export function bounded<T>(
  work: Promise<T>,
  phase: Phase,
  timeoutMs: number,
  signal: AbortSignalLike,
  onStop?: () => void,
): Promise<T> {
  const start = performance.now();
  return new Promise<T>((resolve, reject) => {
    const stop = (): void => {
      cleanup();
      onStop?.();
      reject(stoppedFailure(phase, performance.now() - start, signal));
    };
    let stopListening: (() => void) | undefined;
    const disarm = lookFirst(stop, timeoutMs, signal);
    const cleanup = (): void => {
      disarm();
      stopListening?.();
    };
    if (signal.aborted) {
      stop();
      work.catch(() => undefined);
      return;
    }
    stopListening = onAbort(signal, stop);
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}
