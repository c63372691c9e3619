/**
 * The terminal report: one table per rule set, each non-pass row followed by what failed, what to do and what
 * the vendor says breaks (a hint or impact text already shown in the rule set's table is not repeated), then
 * per-rule address facts, then the findings (what is wrong with the network), then a one-line verdict.
 */
import { longTable, type TableCell } from './long-table.js';
import { Chalk, type ChalkInstance } from 'chalk';
import type { Finding, FindingSeverity, Report, Result, RuleSummary, Status } from '../types.js';
import { escapeControlsDeep, knownTerminalSize } from '../terminal.js';
import { findingHead, findingLines, findingsCount } from './finding-text.js';
import { familyLabel, formatMs } from './target.js';
import type { RenderOptions, ReportFormat } from './types.js';

/** Width the detail lines wrap at: fits a classic 100-column terminal with the table's borders. */
const DETAIL_WIDTH = 78;
/** Narrower than this, wrapping costs more lines than it saves columns. */
const MIN_DETAIL_WIDTH = 30;
/** Borders and padding around the rule column and the detail text: `│ rule │ detail │`. */
const DETAIL_FRAME = 7;

/** The detail width for a terminal of `columns` (narrower terminals wrap sooner); an unknown width keeps the default. */
function detailWidth(columns: number | undefined, ruleWidth: number): number {
  const known = knownTerminalSize(columns);
  if (known === undefined) return DETAIL_WIDTH;
  return Math.max(MIN_DETAIL_WIDTH, Math.min(DETAIL_WIDTH, known - ruleWidth - DETAIL_FRAME));
}

const STATUS_LABEL: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

function paintStatus(c: ChalkInstance, status: Status): string {
  const label = STATUS_LABEL[status];
  switch (status) {
    case 'pass':
      return c.green(label);
    case 'warn':
      return c.yellow(label);
    case 'fail':
      return c.red.bold(label);
    case 'skip':
      return c.gray(label);
  }
}

/** Greedy word wrap; words longer than the width stay whole. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** `label: text`, wrapped with continuation lines aligned under the text. `label` is plain (no ANSI codes). */
function labelled(label: string, text: string, paint: (label: string) => string, width: number): string {
  const indent = ' '.repeat(label.length + 2);
  return wrap(text, width - indent.length)
    .map((line, i) => (i === 0 ? `${paint(label)}: ${line}` : `${indent}${line}`))
    .join('\n');
}

/** Hints and impact texts already shown in a rule set's table: each is printed once, under its first target. */
interface Shown {
  hints: Set<string>;
  impacts: Set<string>;
}

/** True the first time `text` is offered. */
function firstTime(seen: Set<string>, text: string): boolean {
  if (seen.has(text)) return false;
  seen.add(text);
  return true;
}

/** The lines under a non-pass row: the failure, the hint, the vendor's impact, and why it is only a warning. */
function details(c: ChalkInstance, result: Result, width: number, shown: Shown): string {
  const lines: string[] = [];
  if (result.error) {
    const where = result.address && !result.error.message.includes(result.address) ? ` [${result.address}]` : '';
    lines.push(labelled(result.error.code, `${result.error.message}${where}`, c.red, width));
    if (firstTime(shown.hints, result.error.hint)) lines.push(labelled('hint', result.error.hint, c.bold, width));
  }
  if (result.status !== 'skip' && firstTime(shown.impacts, result.impact)) {
    lines.push(labelled('if it fails', result.impact, c.bold, width));
  }
  if (result.via && result.via !== 'direct') lines.push(labelled('via', result.via, c.bold, width));
  if (result.note) lines.push(labelled(result.status === 'skip' ? 'skipped' : 'note', result.note, c.bold, width));
  return lines.join('\n');
}

function ruleFacts(c: ChalkInstance, summary: RuleSummary, width: number): string[] {
  const facts: string[] = [];
  if (summary.hosts.length > 1 && summary.addresses.length > 0) {
    facts.push(
      `rule ${summary.rule} (${summary.documentedHost}): ${summary.hosts.length} hosts probed, ` +
        `${summary.addresses.length} distinct address${summary.addresses.length === 1 ? '' : 'es'}: ${summary.addresses.join(', ')}`,
    );
  }
  if (summary.cidr) {
    const paint = summary.cidr.verdict === 'outside' ? c.yellow : summary.cidr.verdict === 'inside' ? c.green : c.gray;
    facts.push(paint(`rule ${summary.rule} CIDR: ${summary.cidr.message}`));
  }
  return facts.flatMap((fact) => wrap(fact, width));
}

function rulesetTable(c: ChalkInstance, results: Result[], columns: number | undefined): string {
  const width = detailWidth(columns, Math.max(4, ...results.map((r) => r.rule.length)));
  // Compact (no rule between rows), and one table row per detail line: cli-table3 lays out a multi-line cell
  // in quadratic time (0.7 s for 60 failing targets), single lines in linear time.
  const rows: TableCell[][] = [];
  const pushDetail = (text: string) => {
    for (const line of text.split('\n')) rows.push(['', { colSpan: 6, content: line }]);
  };
  const shown: Shown = { hints: new Set(), impacts: new Set() };
  for (const result of results) {
    rows.push([
      result.rule,
      result.host,
      // A proxy that resolved the name chose the family: which one cannot be seen from here.
      result.resolvedByProxy ? 'proxy' : familyLabel(result.family).replace('IP', ''),
      result.port === 0 ? '' : String(result.port),
      result.check,
      paintStatus(c, result.status),
      formatMs(result.status === 'skip' ? undefined : result.timings.totalMs),
    ]);
    if (result.status !== 'pass') pushDetail(details(c, result, width, shown));
    else if (result.note) pushDetail(c.gray(labelled('note', result.note, (l) => l, width)));
  }
  const head = ['Rule', 'Host', 'IP', 'Port', 'Check', 'Result', 'Time'].map((h) => c.bold(h));
  return longTable(head, rows, { head: [], border: [], compact: true });
}

const SEVERITY_PAINT: Record<FindingSeverity, (c: ChalkInstance) => (text: string) => string> = {
  critical: (c) => c.red.bold,
  warning: (c) => c.yellow.bold,
  info: (c) => c.gray,
};

/** Width of the findings block: its paragraphs are not in a table, so they may use a 100-column terminal whole. */
const FINDINGS_WIDTH = 98;

/** One paragraph per finding: severity and cause, the summary, then what to ask for and what it explains. */
function findingsBlock(c: ChalkInstance, findings: readonly Finding[], columns: number | undefined): string {
  const width = Math.min(FINDINGS_WIDTH, Math.max(MIN_DETAIL_WIDTH, (knownTerminalSize(columns) ?? Infinity) - 2));
  const paragraphs = findings.map((finding) => {
    const head = findingHead(finding);
    const summary = wrap(`${head}: ${finding.summary}`, width - 2).map((line, i) =>
      i === 0 ? `  ${SEVERITY_PAINT[finding.severity](c)(head)}${line.slice(head.length)}` : `    ${line}`,
    );
    // Three examples: the rows above hold every target.
    const rest = findingLines(finding, 3).map(([label, text]) =>
      wrap(text, width - label.length - 6)
        .map((line, i) => (i === 0 ? `    ${c.bold(label)}: ${line}` : `    ${' '.repeat(label.length + 2)}${line}`))
        .join('\n'),
    );
    return [...summary, ...rest].join('\n');
  });
  return [c.bold(`${findingsCount(findings)} (what is wrong with this network; the rows above are the evidence)`), ...paragraphs].join('\n\n');
}

/** Which proxy the run used and how many targets went direct; undefined for a run without a proxy. */
function proxyLine(report: Report): string | undefined {
  const { proxy, proxySource, noProxy } = report.options;
  if (!proxy) return undefined;
  const direct = report.results.filter((r) => r.via === 'direct').length;
  const exempt = noProxy && noProxy.length > 0 ? `; NO_PROXY (${noProxy.join(', ')}): ${direct} result${direct === 1 ? '' : 's'} went direct` : '';
  return `through ${proxy}${proxySource && proxySource !== '--proxy' ? ` (from ${proxySource})` : ''}${exempt}`;
}

export function verdictLine(report: Report, c: ChalkInstance): string {
  const s = report.summary;
  const counts =
    `${s.passed} passed, ${s.failed} failed, ${s.warned} warned, ${s.skipped} skipped ` +
    `of ${s.total} target${s.total === 1 ? '' : 's'} in ${formatMs(report.durationMs)}`;
  if (report.interrupted) return c.yellow.bold(`INTERRUPTED: report holds what finished — ${counts}`);
  if (report.verdict === 'fail') {
    const reason =
      s.failed > 0
        ? `${s.failed} critical target${s.failed === 1 ? '' : 's'} failed`
        : 'warnings fail the run (--strict)';
    return c.red.bold(`FAIL: ${reason} — ${counts}`);
  }
  const caveat = s.warned > 0 ? ' (see warnings)' : '';
  return c.green.bold(`PASS: nothing critical failed${caveat} — ${counts}`);
}

export const table: ReportFormat = {
  name: 'table',
  description: 'tables for a terminal, with hints and the vendor impact of each failure (default)',
  render(given: Report, options: RenderOptions): string {
    const c = new Chalk({ level: options.color ? 1 : 0 });
    // Text from the network or a saved report is shown, never obeyed: no escape sequence reaches the terminal.
    const report = escapeControlsDeep(given);
    const blocks: string[] = [];
    for (const set of report.rulesets) {
      const results = report.results.filter((r) => r.ruleset === set.id);
      // Facts are indented by two: they fit the terminal, or the default width.
      const factWidth = Math.min(DETAIL_WIDTH + 20, Math.max(MIN_DETAIL_WIDTH, (knownTerminalSize(options.columns) ?? Infinity) - 2));
      const facts = report.rules.filter((r) => r.ruleset === set.id).flatMap((summary) => ruleFacts(c, summary, factWidth));
      blocks.push(
        [c.bold(`${set.id} — ${set.title}`), rulesetTable(c, results, options.columns), ...facts.map((f) => `  ${f}`)].join('\n'),
      );
    }
    if (report.findings.length > 0) blocks.push(findingsBlock(c, report.findings, options.columns));
    const route = proxyLine(report);
    if (route) blocks.push(c.gray(route));
    blocks.push(verdictLine(report, c));
    return `${blocks.join('\n\n')}\n`;
  },
};
