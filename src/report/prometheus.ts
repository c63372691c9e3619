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

/**
 * A metric family's samples, kept as the lines they are printed as. A report of 1,000 targets has about 13,000
 * samples: each is one string built once, its target's labels escaped once for all of them (an object per sample
 * and an escape per label cost 0.2–0.3 ms a target).
 */
interface Family {
  name: string;
  help: string;
  lines: string[];
}

const STATUSES: Status[] = ['pass', 'fail', 'warn', 'skip'];

/** Characters the exposition format escapes in a label value. */
const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the exposition format escapes it (backslash, quote, line break). */
export function labelValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function helpText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `k="v",…` of `labels`, in their order. */
function labelText(labels: Labels): string {
  let text = '';
  for (const key in labels) text += `${text === '' ? '' : ','}${key}="${labelValue(labels[key]!)}"`;
  return text;
}

/** `a` and `b` joined as one label list (either may be empty). */
function joinLabels(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a},${b}`;
}

function sampleLine(name: string, labels: string, value: number): string {
  return `${name}${labels === '' ? '' : `{${labels}}`} ${formatValue(value)}`;
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

function targetLabels(r: Result): string {
  return labelText({ ruleset: r.ruleset, rule: r.rule, host: r.host, port: String(r.port), ...(r.family && { family: r.family }) });
}

/** Node says `TLSv1.3`, blackbox says `TLS 1.3`. */
function tlsVersion(protocol: string): string {
  return protocol.replace(/^TLSv(\d)/, 'TLS $1');
}

/** Adds a sample to a family: the family's name, its labels as text, its value. */
type AddSample = (name: string, labels: string, value: number) => void;

const PHASES = ['connect', 'tls', 'http'] as const;
const PHASE_TIMINGS = { connect: 'connectMs', tls: 'tlsMs', http: 'httpMs' } as const;
/** The status label of each status, as text. */
const STATUS_LABELS = new Map(STATUSES.map((status) => [status, labelText({ status })]));
const PHASE_LABELS = new Map(PHASES.map((phase) => [phase, labelText({ phase })]));

/** The metrics of one target. */
function addTargetSamples(add: AddSample, r: Result, finding: Finding | undefined): void {
  const labels = targetLabels(r);
  const sample = (name: string, value: number, extra = ''): void => add(name, joinLabels(labels, extra), value);
  sample('pushcheck_target_info', 1, labelText({ check: r.check, severity: r.severity, origin: r.origin, documented_host: r.documentedHost }));
  for (const status of STATUSES) sample('pushcheck_target_status', r.status === status ? 1 : 0, STATUS_LABELS.get(status));
  // The finding that explains the failure, so an alert can name the cause (ports_blocked) rather than a code.
  if (r.error) {
    sample('pushcheck_failure_info', 1, labelText({ code: r.error.code, phase: r.error.phase, ...(finding && { finding: finding.cause }) }));
  }
  // A skipped target was not probed: no probe metrics, so `probe_success == 0` alerts do not fire on it.
  if (r.status === 'skip') return;
  sample('probe_success', r.status === 'pass' ? 1 : 0);
  sample('probe_duration_seconds', secondsOf(r.timings.totalMs));
  if (r.timings.dnsMs !== undefined) sample('probe_dns_lookup_time_seconds', secondsOf(r.timings.dnsMs));
  for (const phase of PHASES) {
    const ms = r.timings[PHASE_TIMINGS[phase]];
    if (ms !== undefined) sample('pushcheck_phase_duration_seconds', secondsOf(ms), PHASE_LABELS.get(phase));
  }
  const family = r.address !== undefined ? isIP(r.address) : 0;
  if (family !== 0) sample('probe_ip_protocol', family);
  // A push certificate file's expiry goes under the same name as a server's, so one alert rule covers both.
  const expiry = Date.parse(r.tls?.validTo ?? r.credential?.validTo ?? '');
  if (!Number.isNaN(expiry)) sample('probe_ssl_earliest_cert_expiry', expiry / 1000);
  if (r.credential) {
    const c = r.credential;
    sample(
      'pushcheck_credential_info',
      1,
      labelText({
        kind: c.kind,
        format: c.format,
        ...(c.topic !== undefined && { topic: c.topic }),
        ...(c.environment !== undefined && { environment: c.environment }),
        ...(c.mdm !== undefined && { mdm: String(c.mdm) }),
      }),
    );
  }
  if (r.tls) {
    sample('probe_tls_version_info', 1, labelText({ version: tlsVersion(r.tls.protocol) }));
  }
  if (r.http) {
    sample('probe_http_status_code', r.http.status);
    if (r.http.bytes !== undefined) sample('probe_http_content_length', r.http.bytes);
  }
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
  const families = new Map<string, Family>(Object.entries(HELP).map(([name, help]) => [name, { name, help, lines: [] }]));
  const add: AddSample = (name, labels, value) => {
    families.get(name)!.lines.push(sampleLine(name, labels, value));
  };

  add('pushcheck_build_info', labelText({ version: report.tool.version, node: report.environment.node }), 1);
  add('pushcheck_run_start_timestamp_seconds', '', Date.parse(report.startedAt) / 1000);
  add('pushcheck_run_duration_seconds', '', secondsOf(report.durationMs));
  add('pushcheck_run_success', '', report.verdict === 'pass' ? 1 : 0);
  add('pushcheck_run_interrupted', '', report.interrupted ? 1 : 0);
  add('pushcheck_run_exit_code', '', report.exitCode);
  // Targets by rule set and status, counted in one pass.
  const counts = new Map<string, Record<Status, number>>(rulesetIds(report).map((id) => [id, { pass: 0, fail: 0, warn: 0, skip: 0 }]));
  for (const r of report.results) {
    const count = counts.get(r.ruleset);
    if (count) count[r.status] += 1;
  }
  for (const [ruleset, count] of counts) {
    for (const status of STATUSES) add('pushcheck_targets', labelText({ ruleset, status }), count[status]);
  }
  for (const rule of report.rules) {
    if (!rule.cidr) continue;
    for (const verdict of ['inside', 'outside', 'unknown'] as const) {
      add('pushcheck_rule_cidr_verdict', labelText({ ruleset: rule.ruleset, rule: rule.rule, verdict }), rule.cidr.verdict === verdict ? 1 : 0);
    }
  }
  for (const finding of report.findings) {
    const labels = { cause: finding.cause, severity: finding.severity, ...(finding.subject !== undefined && { subject: finding.subject }) };
    add('pushcheck_findings', labelText(labels), finding.targets);
  }
  const findingOf = findingOfEachResult(report.results, { startedAt: report.startedAt }, report.findings);
  // A series may appear once: should a report ever list a target twice, the first one counts.
  const seen = new Set<string>();
  for (const result of report.results) {
    const key = targetKey(result);
    if (seen.has(key)) continue;
    seen.add(key);
    addTargetSamples(add, result, findingOf.get(result));
  }

  const lines: string[] = [];
  for (const family of families.values()) {
    if (family.lines.length === 0) continue;
    lines.push(`# HELP ${family.name} ${helpText(family.help)}`, `# TYPE ${family.name} gauge`);
    for (const line of family.lines) lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

export const prometheus: ReportFormat = {
  name: 'prometheus',
  description: "Prometheus text format for node_exporter's textfile collector, with blackbox_exporter's metric names",
  render: (report) => renderPrometheus(report),
};
