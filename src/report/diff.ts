/**
 * What changed between two reports, per target (keyed by rule set, rule, host and port): newly failing, fixed,
 * still failing, failure code changed, added, removed, other status changes; and which findings appeared or went
 * away (keyed by cause and subject). Pure logic plus its two renderers; `pushcheck diff` only reads the files and
 * prints.
 */
import Table from 'cli-table3';
import { Chalk } from 'chalk';
import type { AddressFamily, FailureCode, Finding, Report, Result, Status } from '../types.js';
import { findingHead } from './finding-text.js';
import { familyLabel, hostPort, targetKey } from './target.js';
import type { RenderOptions } from './types.js';

export type ChangeKind =
  /** Failing now, not before (or a new target that fails): makes `pushcheck diff` exit 1. */
  | 'newly-failing'
  /** Failing before, passing or only warning now. */
  | 'fixed'
  /** Failing before and now, with the same failure code. */
  | 'still-failing'
  /** Same status before and now (fail or warn), another failure code. */
  | 'code-changed'
  | 'added'
  | 'removed'
  /** Any other change of status (pass → warn, fail → skip, …). */
  | 'changed'
  | 'unchanged';

/** In the order a person should read them. */
export const CHANGE_KINDS: readonly ChangeKind[] = [
  'newly-failing',
  'code-changed',
  'still-failing',
  'fixed',
  'added',
  'removed',
  'changed',
  'unchanged',
];

export interface TargetState {
  status: Status;
  code?: FailureCode;
  message?: string;
}

export interface TargetChange {
  kind: ChangeKind;
  ruleset: string;
  rule: string;
  host: string;
  port: number;
  /** The family probed, when the results were split by family. */
  family?: AddressFamily;
  check: Result['check'];
  /** Absent for an added target. */
  before?: TargetState;
  /** Absent for a removed target. */
  after?: TargetState;
}

export interface RunFacts {
  startedAt: string;
  verdict: Report['verdict'];
  exitCode: Report['exitCode'];
  summary: Report['summary'];
}

/** Findings of the later report that the earlier one did not have, and the other way round. */
export interface FindingChanges {
  appeared: Finding[];
  wentAway: Finding[];
}

export interface ReportDiff {
  before: RunFacts;
  after: RunFacts;
  counts: Record<ChangeKind, number>;
  findings: FindingChanges;
  /** Every target of either report, changed or not. */
  changes: TargetChange[];
  /** 1 when a target newly fails (including an added target that fails), else 0. */
  exitCode: 0 | 1;
}

function stateOf(result: Result): TargetState {
  return {
    status: result.status,
    ...(result.error && { code: result.error.code, message: result.error.message }),
  };
}

function classify(before: Result | undefined, after: Result | undefined): ChangeKind {
  if (!before) return after!.status === 'fail' ? 'newly-failing' : 'added';
  if (!after) return 'removed';
  const [was, is] = [before.status, after.status];
  const sameCode = before.error?.code === after.error?.code;
  if (was === 'fail' && is === 'fail') return sameCode ? 'still-failing' : 'code-changed';
  if (is === 'fail') return 'newly-failing';
  if (was === 'fail') return is === 'pass' || is === 'warn' ? 'fixed' : 'changed';
  if (was !== is) return 'changed';
  return sameCode ? 'unchanged' : 'code-changed';
}

/** Results by key; a key met twice in one report gets a counter, so nothing is lost. */
function keyed(results: Result[]): Map<string, Result> {
  const map = new Map<string, Result>();
  for (const result of results) {
    const base = targetKey(result);
    let key = base;
    for (let n = 2; map.has(key); n += 1) key = `${base}#${n}`;
    map.set(key, result);
  }
  return map;
}

function factsOf(report: Report): RunFacts {
  return { startedAt: report.startedAt, verdict: report.verdict, exitCode: report.exitCode, summary: report.summary };
}

/** A finding's identity from one run to the next: its cause, and its subject where a cause can occur more than once. */
function findingKey(finding: Finding): string {
  return JSON.stringify([finding.cause, finding.subject ?? '']);
}

export function diffFindings(before: readonly Finding[], after: readonly Finding[]): FindingChanges {
  const [was, is] = [new Set(before.map(findingKey)), new Set(after.map(findingKey))];
  return {
    appeared: after.filter((f) => !was.has(findingKey(f))),
    wentAway: before.filter((f) => !is.has(findingKey(f))),
  };
}

export function diffReports(before: Report, after: Report): ReportDiff {
  const old = keyed(before.results);
  const now = keyed(after.results);
  const keys = [...now.keys(), ...[...old.keys()].filter((key) => !now.has(key))];
  const changes = keys.map((key): TargetChange => {
    const [b, a] = [old.get(key), now.get(key)];
    const r = (a ?? b)!;
    return {
      kind: classify(b, a),
      ruleset: r.ruleset,
      rule: r.rule,
      host: r.host,
      port: r.port,
      ...(r.family && { family: r.family }),
      check: r.check,
      ...(b && { before: stateOf(b) }),
      ...(a && { after: stateOf(a) }),
    };
  });
  changes.sort((x, y) => CHANGE_KINDS.indexOf(x.kind) - CHANGE_KINDS.indexOf(y.kind));
  const counts = Object.fromEntries(
    CHANGE_KINDS.map((kind) => [kind, changes.filter((c) => c.kind === kind).length]),
  ) as Record<ChangeKind, number>;
  return {
    before: factsOf(before),
    after: factsOf(after),
    counts,
    findings: diffFindings(before.findings, after.findings),
    changes,
    exitCode: counts['newly-failing'] > 0 ? 1 : 0,
  };
}

const LABEL: Record<ChangeKind, string> = {
  'newly-failing': 'NEWLY FAILING',
  fixed: 'fixed',
  'still-failing': 'still failing',
  'code-changed': 'code changed',
  added: 'added',
  removed: 'removed',
  changed: 'changed',
  unchanged: 'unchanged',
};

function statusText(state: TargetState | undefined): string {
  return state ? (state.status === 'fail' ? 'FAIL' : state.status === 'warn' ? 'WARN' : state.status) : '—';
}

function failureText(change: TargetChange): string {
  const [b, a] = [change.before?.code, change.after?.code];
  if (b && a && b !== a) return `${b} → ${a}`;
  if (a) return a;
  return b ? `was ${b}` : '';
}

function findingsChanged(diff: ReportDiff): number {
  return diff.findings.appeared.length + diff.findings.wentAway.length;
}

export function countsLine(diff: ReportDiff): string {
  const c = diff.counts;
  return (
    `${c['newly-failing']} newly failing, ${c.fixed} fixed, ${c['still-failing']} still failing, ` +
    `${c['code-changed']} with another failure code, ${c.added} added, ${c.removed} removed, ` +
    `${c.changed} other changes, ${c.unchanged} unchanged; ` +
    `findings: ${diff.findings.appeared.length} appeared, ${diff.findings.wentAway.length} went away`
  );
}

function runText(facts: RunFacts): string {
  return `${facts.startedAt} ${facts.verdict.toUpperCase()} (exit ${facts.exitCode}; ${facts.summary.failed} failed of ${facts.summary.total})`;
}

/** For a terminal: the changed targets in a table, then the counts and the verdict. */
export function renderDiffTable(diff: ReportDiff, options: RenderOptions): string {
  const c = new Chalk({ level: options.color ? 1 : 0 });
  const lines = [c.bold(`before: ${runText(diff.before)}`), c.bold(`after:  ${runText(diff.after)}`)];
  const shown = diff.changes.filter((change) => change.kind !== 'unchanged');
  if (shown.length > 0) {
    const table = new Table({
      head: ['Change', 'Rule set', 'Rule', 'Target', 'Check', 'Status', 'Failure'].map((h) => c.bold(h)),
      style: { head: [], border: [], compact: true },
    });
    for (const change of shown) {
      const label = LABEL[change.kind];
      const paint = change.kind === 'newly-failing' ? c.red.bold : change.kind === 'fixed' ? c.green : (s: string) => s;
      table.push([
        paint(label),
        change.ruleset,
        change.rule,
        `${hostPort(change.host, change.port)}${change.family ? ` (${familyLabel(change.family)})` : ''}`,
        change.check,
        `${statusText(change.before)} → ${statusText(change.after)}`,
        failureText(change),
      ]);
    }
    lines.push(table.toString());
  }
  for (const [label, findings, paint] of [
    ['finding appeared', diff.findings.appeared, c.red.bold],
    ['finding went away', diff.findings.wentAway, c.green],
  ] as const) {
    for (const f of findings) lines.push(`${paint(label)}: ${findingHead(f)}: ${f.summary}`);
  }
  lines.push(countsLine(diff));
  const newly = diff.counts['newly-failing'];
  lines.push(
    diff.exitCode === 1
      ? c.red.bold(`NEWLY FAILING: ${newly === 1 ? '1 target fails' : `${newly} targets fail`} now that did not before`)
      : c.green.bold(shown.length === 0 && findingsChanged(diff) === 0 ? 'NO CHANGE' : 'NOTHING NEWLY FAILING'),
  );
  return `${lines.join('\n')}\n`;
}

/** For machines: the whole diff as one JSON document. */
export function renderDiffJson(diff: ReportDiff): string {
  return `${JSON.stringify(diff, null, 2)}\n`;
}

/** The renderers `pushcheck diff --format` offers. */
export const diffFormats: ReadonlyMap<string, (diff: ReportDiff, options: RenderOptions) => string> = new Map([
  ['table', renderDiffTable],
  ['json', (diff: ReportDiff) => renderDiffJson(diff)],
]);
