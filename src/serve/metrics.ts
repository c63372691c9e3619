/**
 * /metrics: the exporter's own health, in Prometheus text format. The names follow Prometheus's conventions
 * (`_total` counters, `_seconds` units, the standard `process_*` metrics its client libraries export), so
 * the dashboards and alerts written for any exporter work for this one.
 */
import { readdirSync } from 'node:fs';
import { version } from '../version.js';
import { labelValue } from '../report/prometheus.js';
import { DURATION_BUCKETS, type DurationHistogram, type ExporterStats } from './exporter.js';

function labels(pairs: Record<string, string>): string {
  const text = Object.entries(pairs).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',');
  return text === '' ? '' : `{${text}}`;
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string, samples: Array<[Record<string, string>, number]>): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [pairs, value] of samples) this.lines.push(`${name}${labels(pairs)} ${value}`);
  }

  histogram(name: string, help: string, histogram: DurationHistogram): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    DURATION_BUCKETS.forEach((bound, i) => this.lines.push(`${name}_bucket{le="${bound}"} ${histogram.buckets[i]}`));
    this.lines.push(`${name}_bucket{le="+Inf"} ${histogram.count}`);
    this.lines.push(`${name}_sum ${round(histogram.sum)}`, `${name}_count ${histogram.count}`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function byRuleset(map: Map<string, number>): Array<[Record<string, string>, number]> {
  return [...map].sort(([a], [b]) => a.localeCompare(b)).map(([ruleset, n]) => [{ ruleset }, n]);
}

/** Open file descriptors, where the platform shows them (Linux's /proc). */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

export function renderExporterMetrics(stats: ExporterStats, rulesets: readonly string[]): string {
  const out = new Exposition();
  out.family('pushcheck_exporter_build_info', 'gauge', 'pushcheck version and the Node.js version it runs on', [
    [{ version, node: process.version }, 1],
  ]);
  out.family('pushcheck_exporter_rulesets', 'gauge', 'Rule sets loaded and probeable with /probe?ruleset=NAME', [
    [{}, rulesets.length],
  ]);
  out.family('pushcheck_exporter_runs_total', 'counter', 'Check runs started, by rule set', byRuleset(stats.runs));
  out.family('pushcheck_exporter_run_errors_total', 'counter', 'Runs that threw (a pushcheck bug, logged): answered as failed probes', byRuleset(stats.errors));
  out.family('pushcheck_exporter_shared_scrapes_total', 'counter', 'Scrapes that joined a run of the same rule set already in flight', [
    [{}, stats.sharedScrapes],
  ]);
  out.family('pushcheck_exporter_refused_queries_total', 'counter', 'Queries refused with HTTP 400 (unknown rule set, a target without --allow-targets, …)', [
    [{}, stats.refused],
  ]);
  out.family('pushcheck_exporter_deadline_skipped_targets_total', 'counter', 'Targets left unfinished because the scrape timeout came first', [
    [{}, stats.deadlineSkips],
  ]);
  out.family('pushcheck_exporter_runs_in_flight', 'gauge', 'Check runs in flight now', [[{}, stats.inFlight]]);
  out.histogram('pushcheck_exporter_run_duration_seconds', 'How long check runs took', stats.durations);

  const usage = process.cpuUsage();
  const memory = process.memoryUsage();
  out.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds', [
    [{}, round((usage.user + usage.system) / 1e6)],
  ]);
  out.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes', [[{}, memory.rss]]);
  out.family('process_heap_bytes', 'gauge', 'Process heap size (V8 heap used) in bytes', [[{}, memory.heapUsed]]);
  out.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds', [
    [{}, round(Date.now() / 1000 - process.uptime())],
  ]);
  const fds = openFds();
  if (fds !== undefined) out.family('process_open_fds', 'gauge', 'Number of open file descriptors', [[{}, fds]]);
  return out.text();
}
