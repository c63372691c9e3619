/**
 * A compact report to paste into a ticket or a pull-request comment (GitHub / GitLab flavoured Markdown): the
 * verdict, the findings (what is wrong with the network and what to ask for), a table of what failed or warned
 * with the vendor's impact and the hint, then skipped and passing targets folded in <details>. Every text from outside (rule files, servers) is escaped, so it cannot break
 * the table or inject markup.
 */
import type { Finding, Report, Result, Status } from '../types.js';
import { explainsText, findingsCount, SEVERITY_LABEL } from './finding-text.js';
import { familyLabel, formatMs, hostPort } from './target.js';
import type { ReportFormat } from './types.js';

const ICON: Record<Status, string> = { fail: '❌ FAIL', warn: '⚠️ WARN', skip: '⏭️ skip', pass: '✅ pass' };

/** Plain text safe in a table cell: no HTML, no emphasis or links, no cell break, one line. */
export function mdCell(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/([\\`*_[\]|~])/g, '\\$1')
    .trim();
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function tableOf(head: string[], rows: string[][]): string[] {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)];
}

function verdictHeading(report: Report): string {
  const s = report.summary;
  if (report.interrupted) return '## pushcheck: INTERRUPTED — the report holds what finished';
  if (report.verdict === 'fail') {
    return s.failed > 0
      ? `## pushcheck: FAIL — ${s.failed} critical target${s.failed === 1 ? '' : 's'} failed`
      : '## pushcheck: FAIL — warnings fail the run (--strict)';
  }
  return `## pushcheck: PASS — nothing critical failed${s.warned > 0 ? ' (see warnings)' : ''}`;
}

function context(report: Report): string {
  const s = report.summary;
  const sets = report.rulesets.map((set) => `${mdCell(set.id)} (${mdCell(set.title)})`).join(', ');
  return (
    `${s.passed} passed, ${s.failed} failed, ${s.warned} warned, ${s.skipped} skipped of ${s.total} ` +
    `target${s.total === 1 ? '' : 's'} in ${formatMs(report.durationMs)} · rule sets: ${sets} · ` +
    `pushcheck ${mdCell(report.tool.version)}, Node ${mdCell(report.environment.node)}, ` +
    `${mdCell(report.environment.platform)} · ${mdCell(report.startedAt)}`
  );
}

function where(result: Result): string {
  const family = result.resolvedByProxy ? 'resolved by the proxy' : familyLabel(result.family);
  return mdCell(`${hostPort(result.host, result.port)}${family ? ` (${family})` : ''}`);
}

function problemRow(result: Result): string[] {
  const what = result.error ? `\`${result.error.code}\` ${mdCell(result.error.message)}` : '';
  const note = result.note ? ` — ${mdCell(result.note)}` : '';
  return [
    ICON[result.status],
    mdCell(result.ruleset),
    mdCell(result.rule),
    where(result),
    result.check,
    `${what}${note}`,
    mdCell(result.impact),
    mdCell(result.error?.hint ?? ''),
  ];
}

/** One list item per finding: severity, cause and summary, then what to ask for, the evidence, the targets. */
function findingItems(findings: readonly Finding[]): string[] {
  return [
    `### ${findingsCount(findings)}`,
    '',
    // A backslash at the end of a line is a hard line break (CommonMark): one line per part, one item per finding.
    ...findings.flatMap((f) =>
      [
        `- **${SEVERITY_LABEL[f.severity]}** \`${f.cause}\`: ${mdCell(f.summary)}`,
        `  **Ask for:** ${mdCell(f.action)}`,
        ...(f.detail !== undefined ? [`  ${mdCell(f.detail)}`] : []),
        `  _Explains ${mdCell(explainsText(f))}_`,
      ].map((line, i, lines) => (i < lines.length - 1 ? `${line} \\` : line)),
    ),
  ];
}

function folded(summary: string, lines: string[]): string[] {
  return ['<details>', `<summary>${summary}</summary>`, '', ...lines, '', '</details>'];
}

export function renderMarkdown(report: Report): string {
  const order: Status[] = ['fail', 'warn'];
  const problems = order.flatMap((status) => report.results.filter((r) => r.status === status));
  const skipped = report.results.filter((r) => r.status === 'skip');
  const passed = report.results.filter((r) => r.status === 'pass');
  const out: string[] = [verdictHeading(report), '', context(report), ''];
  if (report.findings.length > 0) out.push(...findingItems(report.findings), '', '### Targets', '');
  if (problems.length > 0) {
    out.push(
      ...tableOf(
        ['Status', 'Rule set', 'Rule', 'Target', 'Check', 'What happened', 'If it fails', 'Hint'],
        problems.map(problemRow),
      ),
      '',
    );
  } else {
    out.push('No target failed or warned.', '');
  }
  if (skipped.length > 0) {
    const rows = skipped.map((r) => [mdCell(r.ruleset), mdCell(r.rule), where(r), r.check, mdCell(r.note ?? '')]);
    out.push(...folded(`${skipped.length} skipped`, tableOf(['Rule set', 'Rule', 'Target', 'Check', 'Why'], rows)), '');
  }
  if (passed.length > 0) {
    const rows = passed.map((r) => [
      mdCell(r.ruleset),
      mdCell(r.rule),
      where(r),
      r.check,
      formatMs(r.timings.totalMs),
      mdCell(r.note ?? ''),
    ]);
    out.push(
      ...folded(`${passed.length} passed`, tableOf(['Rule set', 'Rule', 'Target', 'Check', 'Time', 'Note'], rows)),
      '',
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

export const markdown: ReportFormat = {
  name: 'markdown',
  description: 'compact Markdown for a ticket or pull request: verdict, failures with impact and hint, passes folded',
  render: (report) => renderMarkdown(report),
};
