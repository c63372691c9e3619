/** A finding in words, the same in every text format (table, JUnit, Markdown, diff): its heading and its lines. */
import type { Finding, FindingSeverity } from '../types.js';

export const SEVERITY_LABEL: Record<FindingSeverity, string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'info' };

/** `CRITICAL tls_interception`. */
export function findingHead(finding: Finding): string {
  return `${SEVERITY_LABEL[finding.severity]} ${finding.cause}`;
}

/** `3 targets: a, b, c` (`…and 12 more` past the examples shown, at most `max`). */
export function explainsText(finding: Finding, max = 5): string {
  const shown = finding.examples.slice(0, max);
  const more = finding.targets - shown.length;
  return `${finding.targets} target${finding.targets === 1 ? '' : 's'}: ${shown.join(', ')}${more > 0 ? ` and ${more} more` : ''}`;
}

/** The labelled lines under the summary: what to ask for, further evidence, which targets it explains. */
export function findingLines(finding: Finding, maxExamples = 5): Array<[label: string, text: string]> {
  return [
    ['ask for', finding.action],
    ...(finding.detail !== undefined ? [['also', finding.detail] as [string, string]] : []),
    ['explains', explainsText(finding, maxExamples)],
  ];
}

/** `Findings: 1 critical, 2 warnings, 1 info` (a severity with none left out). */
export function findingsCount(findings: readonly Finding[]): string {
  const count = (severity: FindingSeverity) => findings.filter((f) => f.severity === severity).length;
  const parts = [
    [count('critical'), 'critical'],
    [count('warning'), count('warning') === 1 ? 'warning' : 'warnings'],
    [count('info'), 'info'],
  ] as const;
  return `Findings: ${parts.filter(([n]) => n > 0).map(([n, word]) => `${n} ${word}`).join(', ')}`;
}

/** Plain text of findings, for JUnit's <system-out> and other places without colour or layout. */
export function findingsPlainText(findings: readonly Finding[]): string {
  return findings
    .map((f) => [`${findingHead(f)}: ${f.summary}`, ...findingLines(f).map(([label, text]) => `  ${label}: ${text}`)].join('\n'))
    .join('\n');
}
