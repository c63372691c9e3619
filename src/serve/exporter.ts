/**
 * The exporter's state: which rule sets may be probed, the runs in flight (concurrent scrapes of the same rule set
 * share one), the last report of each rule set (for the status page) and the exporter's own counters (for
 * /metrics). No HTTP here: server.ts turns requests into calls of {@link Exporter.probe}.
 *
 * Prometheus's scrape interval is the schedule, as with blackbox_exporter: nothing is probed between scrapes.
 */
import { parseRuleSet } from '../rules/load.js';
import type { CheckSettings, RunHooks } from '../run/run.js';
import { redactSecrets, redactText } from '../secrets.js';
import type { Report, RuleSet } from '../types.js';

/** What a scrape asks for, already checked against what was loaded. */
export interface ProbeRequest {
  /** The rule set's id (aliases resolved), or "adhoc" for an --allow-targets target. */
  ruleset: string;
  /** Only this rule of the rule set. */
  rule?: string;
  /** When the answer is due: unfinished targets are then skipped and marked. Milliseconds from now. */
  budgetMs?: number;
}

/** A mistake in a scrape's query: HTTP 400 with this message. */
export class QueryError extends Error {}

export type RunChecks = (ruleSets: RuleSet[], settings: CheckSettings, hooks?: RunHooks) => Promise<Report>;

export interface ExporterOptions {
  ruleSets: RuleSet[];
  settings: CheckSettings;
  /** Lets a query name a host and port of its own (`target=host:port`): off by default, see docs/serve.md. */
  allowTargets: boolean;
  runChecks: RunChecks;
}

/** The exporter's own health, as /metrics shows it. */
export interface ExporterStats {
  /** Runs started, by rule set. */
  runs: Map<string, number>;
  /** Scrapes that joined a run already in flight instead of starting one. */
  sharedScrapes: number;
  /** Runs that threw (a pushcheck bug): answered as a failed probe, logged, counted here. */
  errors: Map<string, number>;
  /** Queries refused with 400. */
  refused: number;
  /** Targets left unfinished because the scrape's deadline came first. */
  deadlineSkips: number;
  /** Run durations in seconds, as a histogram: counts only, so memory stays flat and the counts never go down. */
  durations: DurationHistogram;
  inFlight: number;
}

/** Run durations: from a fast loopback run to a scrape that waits for silent hosts. */
export const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export interface DurationHistogram {
  /** Runs that took at most DURATION_BUCKETS[i] seconds (cumulative, as Prometheus's `le` buckets). */
  buckets: number[];
  sum: number;
  count: number;
}

function newHistogram(): DurationHistogram {
  return { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 };
}

function observe(histogram: DurationHistogram, seconds: number): void {
  DURATION_BUCKETS.forEach((bound, i) => {
    if (seconds <= bound) histogram.buckets[i]! += 1;
  });
  histogram.sum += seconds;
  histogram.count += 1;
}

export const ADHOC_RULESET = 'adhoc';
/** Checks a --allow-targets query may ask for. */
const ADHOC_CHECKS = ['tcp', 'tls', 'https'] as const;

/** Why a target was skipped when the scrape's deadline came before it finished. */
export const DEADLINE_NOTE = 'not finished before the scrape timeout: probe it with a longer scrape_timeout';

export class Exporter {
  readonly stats: ExporterStats = {
    runs: new Map(),
    sharedScrapes: 0,
    errors: new Map(),
    refused: 0,
    deadlineSkips: 0,
    durations: newHistogram(),
    inFlight: 0,
  };
  /** The last report of each rule set, whole-set runs and single-rule runs alike (merged by target). */
  readonly last = new Map<string, Report>();
  private readonly inFlight = new Map<string, Promise<Report>>();
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly options: ExporterOptions) {}

  get ruleSets(): readonly RuleSet[] {
    return this.options.ruleSets;
  }

  /** A query string → a request, or a QueryError saying what is wrong with it. */
  requestOf(query: URLSearchParams): { request: ProbeRequest; ruleSets: RuleSet[] } {
    const known = new Set(['ruleset', 'rule', 'target', 'check']);
    for (const key of query.keys()) {
      if (!known.has(key)) throw new QueryError(`unknown parameter "${key}"; use ruleset=NAME[&rule=ID]`);
    }
    for (const key of known) {
      if (query.getAll(key).length > 1) throw new QueryError(`parameter "${key}" given more than once`);
    }
    const target = query.get('target');
    if (target !== null) return this.adhocRequest(target, query.get('check') ?? 'tcp', query);
    if (query.get('check') !== null) throw new QueryError('"check" goes with "target" only');
    const name = query.get('ruleset');
    if (name === null || name === '') {
      throw new QueryError(`name a rule set: ruleset=${this.ruleSets.map((set) => set.id).join('|')}`);
    }
    const set = this.findRuleSet(name);
    const ruleId = query.get('rule');
    if (ruleId === null) return { request: { ruleset: set.id }, ruleSets: [set] };
    const rule = set.rules.find((r) => r.id === ruleId);
    if (!rule) {
      throw new QueryError(`rule set ${set.id} has no rule "${ruleId}"; its rules: ${set.rules.map((r) => r.id).join(', ')}`);
    }
    return { request: { ruleset: set.id, rule: rule.id }, ruleSets: [{ ...set, rules: [rule] }] };
  }

  /**
   * Runs the checks a request names, or joins the run of the same request already in flight: a dozen Prometheus
   * replicas scraping at once cost one run. A run that throws is a pushcheck bug: it is logged and counted, and
   * the scrape gets a failed probe, never a dead server.
   */
  probe(request: ProbeRequest, ruleSets: RuleSet[]): Promise<Report | undefined> {
    const key = `${request.ruleset}\u0000${request.rule ?? ''}\u0000${ruleSets.map((s) => s.rules.map((r) => `${r.host}:${r.ports.join(',')}/${r.check}`).join(';')).join('|')}`;
    const running = this.inFlight.get(key);
    if (running) {
      this.stats.sharedScrapes += 1;
      return running.then((report) => report, () => undefined);
    }
    const run = this.run(request, ruleSets).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, run);
    return run.then((report) => report, () => undefined);
  }

  /** Aborts every run in flight: what finished is kept, the rest is skipped as interrupted. */
  abortAll(reason: string): void {
    for (const controller of this.aborts) controller.abort(new Error(reason));
  }

  /** Resolves when no run is in flight. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  private async run(request: ProbeRequest, ruleSets: RuleSet[]): Promise<Report> {
    const { settings } = this.options;
    const controller = new AbortController();
    this.aborts.add(controller);
    this.stats.inFlight += 1;
    increment(this.stats.runs, request.ruleset);
    let deadline: NodeJS.Timeout | undefined;
    // A probe never waits longer than the scrape may: its own timeout shrinks to fit the budget.
    const budget = request.budgetMs;
    const runSettings = budget !== undefined ? { ...settings, timeoutMs: Math.max(1, Math.min(settings.timeoutMs, budget)) } : settings;
    if (budget !== undefined) deadline = setTimeout(() => controller.abort(new Error('scrape deadline')), budget);
    const started = performance.now();
    try {
      // Secrets are masked where they enter a report; this is the net behind that, as report files have (report-files.ts).
      const report = redactSecrets(await this.options.runChecks(ruleSets, runSettings, { signal: controller.signal }));
      const marked = controller.signal.aborted && budget !== undefined ? markDeadline(report) : report;
      this.stats.deadlineSkips += marked.results.filter((r) => r.note === DEADLINE_NOTE).length;
      this.remember(request, marked);
      return marked;
    } catch (err) {
      increment(this.stats.errors, request.ruleset);
      // Its message may name a URL with a password in it, as a report may.
      process.stderr.write(`pushcheck serve: BUG: the run of ${request.ruleset} threw: ${redactText((err as Error)?.stack ?? String(err))}\n`);
      throw err;
    } finally {
      clearTimeout(deadline);
      this.aborts.delete(controller);
      this.stats.inFlight -= 1;
      observe(this.stats.durations, (performance.now() - started) / 1000);
    }
  }

  /** The status page shows the latest result of every target: a single-rule scrape updates its rule's rows only. */
  private remember(request: ProbeRequest, report: Report): void {
    if (request.ruleset === ADHOC_RULESET) return;
    const previous = this.last.get(request.ruleset);
    if (request.rule === undefined || !previous) {
      this.last.set(request.ruleset, report);
      return;
    }
    const results = [...previous.results.filter((r) => r.rule !== request.rule), ...report.results];
    this.last.set(request.ruleset, { ...report, results });
  }

  private findRuleSet(name: string): RuleSet {
    const key = name.trim().toLowerCase();
    const set = this.ruleSets.find((s) => s.id === key || s.aliases.includes(key));
    if (!set) throw new QueryError(`no rule set "${name}" is loaded; loaded: ${this.ruleSets.map((s) => s.id).join(', ')}`);
    return set;
  }

  /** `target=host:port[&check=tcp|tls|https]`, only with --allow-targets: an exporter must not be an open port scanner. */
  private adhocRequest(target: string, check: string, query: URLSearchParams): { request: ProbeRequest; ruleSets: RuleSet[] } {
    if (!this.options.allowTargets) {
      throw new QueryError('this exporter probes only its loaded rule sets; start it with --allow-targets to probe target=HOST:PORT');
    }
    if (query.get('ruleset') !== null || query.get('rule') !== null) throw new QueryError('give either target or ruleset, not both');
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(target);
    const port = match ? Number(match[3]) : 0;
    if (!match || port < 1 || port > 65535) throw new QueryError(`target "${target}" is not HOST:PORT`);
    if (!(ADHOC_CHECKS as readonly string[]).includes(check)) {
      throw new QueryError(`check "${check}" is not one of ${ADHOC_CHECKS.join(', ')}`);
    }
    const host = match[1] ?? match[2]!;
    // Through the rule loader, so the target meets the same validation as a rule file's.
    const yaml = [
      `id: ${ADHOC_RULESET}`,
      'title: a target named in the scrape (--allow-targets)',
      'rules:',
      '  - id: target',
      `    host: ${JSON.stringify(host)}`,
      `    ports: [${port}]`,
      `    check: ${check}`,
      '    purpose: named in the scrape',
      '    impact: whatever depends on this target',
      '    severity: critical',
    ].join('\n');
    let set: RuleSet;
    try {
      set = parseRuleSet(yaml, 'target');
    } catch (err) {
      throw new QueryError(`target "${target}": ${(err as Error).message}`);
    }
    return { request: { ruleset: ADHOC_RULESET }, ruleSets: [set] };
  }
}

/** Targets a deadline cut short say so, instead of the "interrupted" a Ctrl-C gives. */
function markDeadline(report: Report): Report {
  return {
    ...report,
    results: report.results.map((r) => (r.status === 'skip' && r.note === 'interrupted' ? { ...r, note: DEADLINE_NOTE } : r)),
  };
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
