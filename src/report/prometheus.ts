/**
 * Prometheus text exposition format, for node_exporter's textfile collector (write it with `--prometheus FILE`:
 * the file is replaced atomically, as the collector asks). Per-target metrics reuse blackbox_exporter's names
 * where they mean the same thing, labelled with ruleset, rule, host and port, so dashboards and alerts written
 * for blackbox work unchanged; what blackbox has no name for is `pushcheck_*`. No timestamps (the collector
 * refuses them).
 */
import { isIP } from 'node:net';
import { findingOfEachResult } from '../findings/index.js';
import type { Finding, Report, Result, Status } from '../types.js';
import { rulesetIds, targetKey } from './target.js';
import type { ReportFormat } from './types.js';

type Labels = Record<string, string>;

interface Sample {
  labels: Labels;
  value: number;
}

interface Family {
  name: string;
  help: string;
  samples: Sample[];
}

const STATUSES: Status[] = ['pass', 'fail', 'warn', 'skip'];

/** A label value as the exposition format escapes it (backslash, quote, line break). */
export function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function helpText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sampleLine(name: string, sample: Sample): string {
  const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return `${name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${formatValue(sample.value)}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

/** Milliseconds (recorded to 0.1) as seconds, without binary-fraction noise such as 0.0040999999999999995. */
function secondsOf(ms: number): number {
  return Math.round(ms * 10) / 10_000;
}

function targetLabels(r: Result): Labels {
  return { ruleset: r.ruleset, rule: r.rule, host: r.host, port: String(r.port), ...(r.family && { family: r.family }) };
}

/** Node says `TLSv1.3`, blackbox says `TLS 1.3`. */
function tlsVersion(protocol: string): string {
  return protocol.replace(/^TLSv(\d)/, 'TLS $1');
}

/** The metrics of one target, as [family name, sample] pairs. */
function targetSamples(r: Result, finding: Finding | undefined): Array<[string, Sample]> {
  const labels = targetLabels(r);
  const out: Array<[string, Sample]> = [];
  const add = (name: string, value: number, extra: Labels = {}): void => {
    out.push([name, { labels: { ...labels, ...extra }, value }]);
  };
  add('pushcheck_target_info', 1, {
    check: r.check,
    severity: r.severity,
    origin: r.origin,
    documented_host: r.documentedHost,
  });
  for (const status of STATUSES) add('pushcheck_target_status', r.status === status ? 1 : 0, { status });
  // The finding that explains the failure, so an alert can name the cause (ports_blocked) rather than a code.
  if (r.error) add('pushcheck_failure_info', 1, { code: r.error.code, phase: r.error.phase, ...(finding && { finding: finding.cause }) });
  // A skipped target was not probed: no probe metrics, so `probe_success == 0` alerts do not fire on it.
  if (r.status === 'skip') return out;
  add('probe_success', r.status === 'pass' ? 1 : 0);
  add('probe_duration_seconds', secondsOf(r.timings.totalMs));
  if (r.timings.dnsMs !== undefined) add('probe_dns_lookup_time_seconds', secondsOf(r.timings.dnsMs));
  for (const [phase, ms] of [
    ['connect', r.timings.connectMs],
    ['tls', r.timings.tlsMs],
    ['http', r.timings.httpMs],
  ] as const) {
    if (ms !== undefined) add('pushcheck_phase_duration_seconds', secondsOf(ms), { phase });
  }
  const family = r.address !== undefined ? isIP(r.address) : 0;
  if (family !== 0) add('probe_ip_protocol', family);
  // A push certificate file's expiry goes under the same name as a server's, so one alert rule covers both.
  const expiry = Date.parse(r.tls?.validTo ?? r.credential?.validTo ?? '');
  if (!Number.isNaN(expiry)) add('probe_ssl_earliest_cert_expiry', expiry / 1000);
  if (r.credential) {
    const c = r.credential;
    add('pushcheck_credential_info', 1, {
      kind: c.kind,
      format: c.format,
      ...(c.topic !== undefined && { topic: c.topic }),
      ...(c.environment !== undefined && { environment: c.environment }),
      ...(c.mdm !== undefined && { mdm: String(c.mdm) }),
    });
  }
  if (r.tls) {
    add('probe_tls_version_info', 1, { version: tlsVersion(r.tls.protocol) });
  }
  if (r.http) {
    add('probe_http_status_code', r.http.status);
    if (r.http.bytes !== undefined) add('probe_http_content_length', r.http.bytes);
  }
  return out;
}

const HELP: Record<string, string> = {
  pushcheck_build_info: 'pushcheck version and the Node.js version it ran on',
  pushcheck_run_start_timestamp_seconds: 'When the run started, in seconds since the Unix epoch',
  pushcheck_run_duration_seconds: 'How long the run took',
  pushcheck_run_success: '1 if nothing critical failed (the exit code is 0), else 0',
  pushcheck_run_interrupted: '1 if the run was interrupted (Ctrl-C) and holds only what finished',
  pushcheck_run_exit_code: 'The exit code of the run: 0 pass, 1 a critical target failed, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM',
  pushcheck_targets: 'Targets of a rule set by status',
  pushcheck_rule_cidr_verdict: "Whether a rule's resolved addresses lie inside its documented CIDR ranges",
  pushcheck_target_info: 'What a target is: check kind, severity, origin and the host as documented',
  pushcheck_target_status: 'The status of a target: 1 for its status, 0 for the others',
  pushcheck_failure_info: 'The failure code and phase of a target that did not pass, and the finding that explains it',
  pushcheck_findings: 'The causes found behind the failures (see docs/findings.md): how many targets each explains',
  probe_success: 'Whether the probe passed (1) or not (0); not set for skipped targets',
  probe_duration_seconds: 'How long the probe took, every phase and retry included',
  probe_dns_lookup_time_seconds: 'How long the DNS lookup took',
  pushcheck_phase_duration_seconds: 'How long a phase of the probe took (connect, tls, http)',
  probe_ip_protocol: 'The IP protocol of the address connected to (4 or 6)',
  probe_ssl_earliest_cert_expiry: "When the server's leaf certificate (or a push certificate file's) expires, in seconds since the Unix epoch",
  pushcheck_credential_info: 'A credential file (pushcheck cert, a rule file\'s credentials): its kind, format, APNs topic and environment',
  probe_tls_version_info: 'The TLS version negotiated',
  probe_http_status_code: 'The HTTP status code of the response',
  probe_http_content_length: 'The length of the HTTP response body in bytes',
};

export function renderPrometheus(report: Report): string {
  const families = new Map<string, Family>(
    Object.entries(HELP).map(([name, help]) => [name, { name, help, samples: [] }]),
  );
  const add = (name: string, sample: Sample): void => {
    families.get(name)!.samples.push(sample);
  };

  add('pushcheck_build_info', { labels: { version: report.tool.version, node: report.environment.node }, value: 1 });
  add('pushcheck_run_start_timestamp_seconds', { labels: {}, value: Date.parse(report.startedAt) / 1000 });
  add('pushcheck_run_duration_seconds', { labels: {}, value: secondsOf(report.durationMs) });
  add('pushcheck_run_success', { labels: {}, value: report.verdict === 'pass' ? 1 : 0 });
  add('pushcheck_run_interrupted', { labels: {}, value: report.interrupted ? 1 : 0 });
  add('pushcheck_run_exit_code', { labels: {}, value: report.exitCode });
  for (const ruleset of rulesetIds(report)) {
    const mine = report.results.filter((r) => r.ruleset === ruleset);
    for (const status of STATUSES) {
      add('pushcheck_targets', { labels: { ruleset, status }, value: mine.filter((r) => r.status === status).length });
    }
  }
  for (const rule of report.rules) {
    if (!rule.cidr) continue;
    for (const verdict of ['inside', 'outside', 'unknown'] as const) {
      add('pushcheck_rule_cidr_verdict', {
        labels: { ruleset: rule.ruleset, rule: rule.rule, verdict },
        value: rule.cidr.verdict === verdict ? 1 : 0,
      });
    }
  }
  for (const finding of report.findings) {
    add('pushcheck_findings', {
      labels: { cause: finding.cause, severity: finding.severity, ...(finding.subject !== undefined && { subject: finding.subject }) },
      value: finding.targets,
    });
  }
  const findingOf = findingOfEachResult(report.results, { startedAt: report.startedAt });
  // A series may appear once: should a report ever list a target twice, the first one counts.
  const seen = new Set<string>();
  for (const result of report.results) {
    const key = targetKey(result);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const [name, sample] of targetSamples(result, findingOf.get(result))) add(name, sample);
  }

  const lines: string[] = [];
  for (const family of families.values()) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${helpText(family.help)}`, `# TYPE ${family.name} gauge`);
    lines.push(...family.samples.map((sample) => sampleLine(family.name, sample)));
  }
  return `${lines.join('\n')}\n`;
}

export const prometheus: ReportFormat = {
  name: 'prometheus',
  description: "Prometheus text format for node_exporter's textfile collector, with blackbox_exporter's metric names",
  render: (report) => renderPrometheus(report),
};
