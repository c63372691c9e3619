/** The report diff: every kind of change, keyed by rule set, rule, host and port; exit 1 only for new failures. */
import { describe, expect, it } from 'vitest';
import { diffReports, renderDiffJson, renderDiffTable, type ChangeKind, type ReportDiff } from '../../src/report/diff.js';
import type { Failure, Finding, Result } from '../../src/types.js';
import { report, result, richFindings, richReport, unprobed } from './fixture.js';

function error(code: Failure['code']): Failure {
  return { code, phase: code.startsWith('tls') ? 'tls' : 'connect', message: `${code} happened`, hint: 'do something' };
}

const pass = (port: number, overrides: Partial<Result> = {}) => result({ port, status: 'pass', ...overrides });
const fail = (port: number, code: Failure['code'] = 'tcp_refused') => result({ port, status: 'fail', error: error(code) });
const warn = (port: number, code: Failure['code'] = 'tls_untrusted') => result({ port, status: 'warn', error: error(code) });

function kindOf(diff: ReportDiff, port: number): ChangeKind | undefined {
  return diff.changes.find((c) => c.port === port)?.kind;
}

describe('diffReports', () => {
  const before = report([pass(1), fail(2), fail(3), fail(4), pass(5), warn(6), pass(7), fail(8), warn(9), fail(10), pass(11)]);
  const after = report([
    fail(1), // newly failing
    pass(2), // fixed
    fail(3), // still failing, same code
    fail(4, 'tls_untrusted'), // another code
    pass(5), // unchanged
    pass(6), // warn → pass: changed
    warn(7), // pass → warn: changed
    warn(8), // fail → warn: fixed (nothing critical fails)
    warn(9, 'tls_expired'), // warning with another code
    unprobed({ port: 10, note: 'interrupted' }), // fail → skip: changed, not fixed
    pass(12), // added
    fail(13), // added, failing
  ]);
  const diff = diffReports(before, after);

  const expected: Array<[number, ChangeKind]> = [
    [1, 'newly-failing'],
    [2, 'fixed'],
    [3, 'still-failing'],
    [4, 'code-changed'],
    [5, 'unchanged'],
    [6, 'changed'],
    [7, 'changed'],
    [8, 'fixed'],
    [9, 'code-changed'],
    [10, 'changed'],
    [11, 'removed'],
    [12, 'added'],
    [13, 'newly-failing'],
  ];
  for (const [port, kind] of expected) {
    it(`port ${port}: ${kind}`, () => {
      expect(kindOf(diff, port)).toBe(kind);
    });
  }

  it('lists every target of either report once, with its states before and after', () => {
    expect(diff.changes).toHaveLength(13);
    const code = diff.changes.find((c) => c.port === 4)!;
    expect(code.before).toMatchObject({ status: 'fail', code: 'tcp_refused' });
    expect(code.after).toMatchObject({ status: 'fail', code: 'tls_untrusted' });
    expect(diff.changes.find((c) => c.port === 11)!.after).toBeUndefined();
    expect(diff.changes.find((c) => c.port === 12)!.before).toBeUndefined();
  });

  it('counts each kind and exits 1 when something newly fails', () => {
    expect(diff.counts).toEqual({
      'newly-failing': 2,
      fixed: 2,
      'still-failing': 1,
      'code-changed': 2,
      added: 1,
      removed: 1,
      changed: 3,
      unchanged: 1,
    });
    expect(diff.exitCode).toBe(1);
    expect(diffReports(after, before).exitCode).toBe(1); // 2 and 8 fail again
    expect(diffReports(report([fail(1)]), report([pass(1)])).exitCode).toBe(0);
  });

  it('keys by rule set, rule, host and port: the same port on another host or rule is another target', () => {
    const d = diffReports(report([fail(443)]), report([fail(443, 'tcp_timeout'), result({ port: 443, host: 'other.test', status: 'fail', error: error('tcp_refused') }), result({ port: 443, rule: '6', status: 'pass' })]));
    expect(d.changes.map((c) => [c.host, c.rule, c.kind])).toEqual([
      ['other.test', '5', 'newly-failing'],
      ['courier.sandbox.push.apple.com', '5', 'code-changed'],
      ['courier.sandbox.push.apple.com', '6', 'added'],
    ]);
  });

  it('finds nothing changed between a report and itself', () => {
    const rich = richReport();
    const same = diffReports(rich, rich);
    const failing = rich.results.filter((r) => r.status === 'fail').length;
    expect(failing).toBeGreaterThan(0);
    expect(same.counts['still-failing']).toBe(failing);
    expect(same.counts.unchanged).toBe(rich.results.length - failing);
    expect(same.exitCode).toBe(0);
  });
});

describe('diffReports: findings', () => {
  const [ports, legacy] = richFindings() as [Finding, Finding];
  const interception = (issuer: string): Finding => ({ ...ports, cause: 'tls_interception', subject: issuer, summary: `issued by ${issuer}` });

  it('says which findings appeared and which went away, by cause and subject', () => {
    const d = diffReports(
      report([pass(1)], { findings: [ports, interception('Corp CA')] }),
      report([pass(1)], { findings: [{ ...ports, targets: 7, summary: 'other words' }, legacy, interception('FortiGate CA')] }),
    );
    expect(d.findings.appeared.map((f) => [f.cause, f.subject])).toEqual([
      ['legacy_only', undefined],
      ['tls_interception', 'FortiGate CA'],
    ]);
    expect(d.findings.wentAway.map((f) => [f.cause, f.subject])).toEqual([['tls_interception', 'Corp CA']]);
    // a finding that stays (other counts or words) is neither; findings never change the exit code
    expect(d.exitCode).toBe(0);
    const text = renderDiffTable(d, { color: false });
    expect(text).toContain('finding appeared: info legacy_only: Retired ports fail too');
    expect(text).toContain('finding appeared: CRITICAL tls_interception: issued by FortiGate CA');
    expect(text).toContain('finding went away: CRITICAL tls_interception: issued by Corp CA');
    expect(text).toMatch(/findings: 2 appeared, 1 went away\nNOTHING NEWLY FAILING\n$/);
    expect((JSON.parse(renderDiffJson(d)) as ReportDiff).findings).toEqual(d.findings);
  });

  it('has none between a report and itself', () => {
    expect(diffReports(richReport(), richReport()).findings).toEqual({ appeared: [], wentAway: [] });
  });
});

describe('diff renderers', () => {
  const diff = diffReports(report([pass(1), fail(2)]), report([fail(1, 'tcp_timeout'), pass(2)]));

  it('json: one document a machine reads back', () => {
    const parsed = JSON.parse(renderDiffJson(diff)) as ReportDiff;
    expect(parsed).toEqual(diff);
  });

  it('table: the changed targets with their statuses and codes, counts, and the verdict last', () => {
    const text = renderDiffTable(diff, { color: false });
    const lines = text.trimEnd().split('\n');
    expect(lines.find((l) => l.includes('NEWLY FAILING') && l.includes(':1 '))).toMatch(/pass → FAIL .*tcp_timeout/);
    expect(lines.find((l) => l.includes('fixed'))).toMatch(/:2 .*FAIL → pass .*was tcp_refused/);
    expect(lines.at(-2)).toMatch(/^1 newly failing, 1 fixed, 0 still failing/);
    expect(lines.at(-1)).toBe('NEWLY FAILING: 1 target fails now that did not before');
    expect(text).not.toMatch(/\u001b\[/);
    expect(renderDiffTable(diff, { color: true })).toMatch(/\u001b\[/);
  });

  it('table: says when nothing changed', () => {
    const text = renderDiffTable(diffReports(report([pass(1)]), report([pass(1)])), { color: false });
    expect(text.trimEnd().split('\n').at(-1)).toBe('NO CHANGE');
    expect(text).not.toContain('┌');
  });
});
