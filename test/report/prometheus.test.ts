/**
 * Prometheus text checked by promtool (valid and lint-clean), then read back sample by sample: blackbox_exporter's
 * names with ruleset, rule, host and port labels.
 */
import { describe, expect, it } from 'vitest';
import { prometheus } from '../../src/report/prometheus.js';
import type { Report } from '../../src/types.js';
import { expectPromtoolClean, promtoolCheck } from './consumers.js';
import { NASTY, nastyReport, report, result, richReport } from './fixture.js';
import { nonEmpty } from '../helpers/non-empty.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A reader of the exposition format's sample lines (label values unescaped: \\, \", \n). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const m of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
      }
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

function render(r: Report): string {
  return prometheus.render(r, { color: false });
}

const target = { ruleset: 'moki-ios', rule: '5', host: 'courier.sandbox.push.apple.com' };

describe('prometheus format', () => {
  const rich = richReport();
  const text = render(rich);
  const all = samples(text);
  const find = (name: string, labels: Record<string, string>) =>
    all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

  it('passes promtool check metrics without a lint warning', () => {
    expectPromtoolClean(text);
  });

  it('declares each metric family once, as a gauge with help, before its samples', () => {
    const names = [...new Set(all.map((s) => s.name))];
    for (const name of nonEmpty(names, 'the metric names')) {
      expect(text.split('\n').filter((l) => l === `# TYPE ${name} gauge`)).toHaveLength(1);
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
    expect(text).not.toMatch(/ \d+ \d{10,}$/m); // no timestamps: the textfile collector refuses them
  });

  it('sets probe_success per probed target, labelled with rule set, rule, host and port', () => {
    const probed = rich.results.filter((r) => r.status !== 'skip');
    const success = all.filter((s) => s.name === 'probe_success');
    expect(success).toHaveLength(probed.length);
    for (const r of nonEmpty(probed, 'the probed results')) {
      const [sample] = find('probe_success', { ruleset: r.ruleset, rule: r.rule, host: r.host, port: String(r.port) });
      expect(sample, `${r.rule} ${r.port}`).toBeDefined();
      expect(sample!.value).toBe(r.status === 'pass' ? 1 : 0);
      expect(Object.keys(sample!.labels).sort()).toEqual(['host', 'port', 'rule', 'ruleset']);
    }
  });

  it('names the finding that explains each failure, and counts the targets of each finding', () => {
    expect(find('pushcheck_failure_info', { ...target, port: '5223' })[0]!.labels).toMatchObject({ code: 'tcp_timeout', finding: 'ports_blocked' });
    expect(find('pushcheck_failure_info', { ...target, port: '2195' })[0]!.labels).toMatchObject({ finding: 'legacy_only' });
    // A failure no finding explains carries no finding label (the lone untrusted certificate of another vendor).
    expect(find('pushcheck_failure_info', { rule: '1' })[0]!.labels.finding).toBeUndefined();
    expect(find('pushcheck_findings', { cause: 'ports_blocked', severity: 'critical' })[0]!.value).toBe(1);
    expect(find('pushcheck_findings', { cause: 'legacy_only', severity: 'info' })[0]!.value).toBe(1);
    expect(render(report([result()])).includes('pushcheck_findings')).toBe(false);
  });

  it("gives a push certificate file's expiry the server certificates' name, so one alert covers both, and its topic", () => {
    const credential = result({
      ruleset: 'my-mdm',
      rule: 'push-certificate',
      host: '/etc/mdm/push.pem',
      documentedHost: '/etc/mdm/push.pem',
      port: 0,
      check: 'cert',
      status: 'warn',
      credential: {
        file: '/etc/mdm/push.pem',
        format: 'pem',
        kind: 'certificate',
        validTo: '2026-12-05T00:00:00.000Z',
        daysLeft: 10,
        topic: 'com.apple.mgmt.External.0b6f4e1c-1c1a-4c57-9d35-3b9b1e0c7c11',
        environment: 'production',
        mdm: true,
      },
    });
    const text = render(report([credential]));
    expectPromtoolClean(text);
    const own = samples(text).filter((s) => s.labels.rule === 'push-certificate');
    expect(own.find((s) => s.name === 'probe_ssl_earliest_cert_expiry')?.value).toBe(Date.parse('2026-12-05T00:00:00Z') / 1000);
    expect(own.find((s) => s.name === 'pushcheck_credential_info')?.labels).toMatchObject({
      kind: 'certificate',
      topic: 'com.apple.mgmt.External.0b6f4e1c-1c1a-4c57-9d35-3b9b1e0c7c11',
      environment: 'production',
      mdm: 'true',
    });
  });

  it('has no probe metrics for a skipped target, but its status', () => {
    const skipped = { ruleset: 'ibi-aws', rule: 'message-head' };
    expect(all.filter((s) => s.name.startsWith('probe_') && s.labels.rule === skipped.rule)).toEqual([]);
    expect(find('pushcheck_target_status', { ...skipped, status: 'skip' })[0]!.value).toBe(1);
    expect(find('pushcheck_target_status', { ...skipped, status: 'pass' })[0]!.value).toBe(0);
  });

  it("uses blackbox_exporter's names and units for durations, DNS, certificate expiry, TLS version and HTTP", () => {
    expect(find('probe_duration_seconds', { ...target, port: '5223' })[0]!.value).toBeCloseTo(5.0125, 6);
    expect(find('probe_dns_lookup_time_seconds', { ...target, port: '443' })[0]!.value).toBeCloseTo(0.0125, 6);
    expect(find('probe_ssl_earliest_cert_expiry', { ...target, port: '443' })[0]!.value).toBe(
      Date.parse('2027-03-01T12:00:00.000Z') / 1000,
    );
    expect(find('probe_tls_version_info', { ...target, port: '443' })[0]!.labels.version).toBe('TLS 1.3');
    expect(find('probe_http_status_code', { rule: 'message-get' })[0]!.value).toBe(200);
    expect(find('probe_http_content_length', { rule: 'message-get' })[0]!.value).toBe(2048);
    expect(find('probe_ip_protocol', { ...target, port: '443' })[0]!.value).toBe(4);
    expect(find('pushcheck_phase_duration_seconds', { ...target, port: '443', phase: 'tls' })[0]!.value).toBeCloseTo(0.0302, 6);
  });

  it('names the failure code and phase of what did not pass', () => {
    const [failure] = find('pushcheck_failure_info', { ...target, port: '5223' });
    expect(failure!.labels).toMatchObject({ code: 'tcp_timeout', phase: 'connect' });
    expect(all.filter((s) => s.name === 'pushcheck_failure_info')).toHaveLength(rich.results.filter((r) => r.error).length);
  });

  it('sums up the run: verdict, exit code, counts per rule set and CIDR verdicts', () => {
    expect(find('pushcheck_run_success', {})[0]!.value).toBe(0);
    expect(find('pushcheck_run_exit_code', {})[0]!.value).toBe(1);
    expect(find('pushcheck_run_duration_seconds', {})[0]!.value).toBe(5.1);
    expect(find('pushcheck_run_start_timestamp_seconds', {})[0]!.value).toBe(Date.parse(rich.startedAt) / 1000);
    for (const status of ['pass', 'fail', 'warn', 'skip'] as const) {
      const expected = rich.results.filter((r) => r.ruleset === 'moki-ios' && r.status === status).length;
      expect(find('pushcheck_targets', { ruleset: 'moki-ios', status })[0]!.value).toBe(expected);
    }
    expect(find('pushcheck_rule_cidr_verdict', { rule: '5', verdict: 'inside' })[0]!.value).toBe(1);
    expect(find('pushcheck_rule_cidr_verdict', { rule: '5', verdict: 'outside' })[0]!.value).toBe(0);
  });

  it('escapes label values so that any host or rule name reads back as it was', () => {
    const nasty = render(nastyReport());
    expectPromtoolClean(nasty);
    const [first] = samples(nasty).filter((s) => s.name === 'probe_success');
    expect(first!.labels.rule).toBe(`r ${NASTY}`);
    expect(first!.labels.ruleset).toBe(`set ${NASTY}`);
  });

  it('writes a target listed twice once, so no series is duplicated', () => {
    const twice = render(report([result(), result()]));
    expectPromtoolClean(twice);
    expect(samples(twice).filter((s) => s.name === 'probe_success')).toHaveLength(1);
  });

  it('is checked by a promtool that does refuse bad text', () => {
    expect(promtoolCheck('probe_success{host="a} 1\n').status).not.toBe(0);
    const lint = promtoolCheck('# TYPE x gauge\nx 1\n');
    expect(lint.stderr).toMatch(/no help text/);
    expect(lint.status).not.toBe(0);
  });

  it('is valid for an empty run', () => {
    expectPromtoolClean(render(report([])));
  });
});
