/**
 * `/`: the status page. Plain HTML with its style inline: readable without JavaScript, no external assets (a site
 * network that blocks a CDN must still see its status). Every text from a report (host names, certificate issuers,
 * messages from the network) is escaped: the page is only as trustworthy as what it shows.
 */
import type { Finding, Report, Result, RuleSet, Status } from '../types.js';

export interface PageInput {
  ruleSets: readonly RuleSet[];
  /** The last report of each rule set that was scraped since start. */
  last: ReadonlyMap<string, Report>;
  version: string;
  /** Where the page was generated, e.g. "127.0.0.1:9595". */
  listen: string;
}

const STATUS_LABEL: Record<Status, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function probeLink(ruleset: string, rule?: string): string {
  const query = new URLSearchParams({ ruleset, ...(rule !== undefined && { rule }) });
  return `/probe?${escapeHtml(query.toString())}`;
}

function resultRow(r: Result): string {
  const lines = r.error ? [`${r.error.code}: ${r.error.message}`, `hint: ${r.error.hint}`] : [];
  if (r.note !== undefined) lines.push(r.note);
  if (r.status === 'fail' || r.status === 'warn') lines.push(`if it fails: ${r.impact}`);
  const detail = lines.map(escapeHtml).join('<br>');
  return [
    `<tr class="${r.status}">`,
    `<td><a href="${probeLink(r.ruleset, r.rule)}">${escapeHtml(r.rule)}</a></td>`,
    `<td>${escapeHtml(r.host)}</td>`,
    `<td>${r.port}</td>`,
    `<td>${escapeHtml(r.check)}</td>`,
    `<td class="status">${STATUS_LABEL[r.status]}</td>`,
    `<td>${Math.round(r.timings.totalMs)} ms</td>`,
    `<td>${detail}</td>`,
    '</tr>',
  ].join('');
}

/** The causes behind the failures, first: what the network team is asked for (docs/findings.md). */
function findingsBlock(findings: readonly Finding[]): string {
  if (findings.length === 0) return '';
  const items = findings.map((f) => {
    const examples = f.examples.length > 0 ? ` (${f.targets} target${f.targets === 1 ? '' : 's'}, e.g. ${f.examples.map(escapeHtml).join(', ')})` : '';
    const detail = f.detail !== undefined ? `<br>${escapeHtml(f.detail)}` : '';
    return `<li class="finding ${f.severity}"><strong>${escapeHtml(f.severity)}: ${escapeHtml(f.cause)}</strong>: ${escapeHtml(f.summary)}${detail}<br>Ask for: ${escapeHtml(f.action)}${examples}</li>`;
  });
  return `<h3>Findings</h3><ul class="findings">${items.join('\n')}</ul>`;
}

function ruleSetSection(set: RuleSet, report: Report | undefined): string {
  const head = `<h2 id="${escapeHtml(set.id)}">${escapeHtml(set.id)} <small>${escapeHtml(set.title)}</small></h2>`;
  const link = `<p><a href="${probeLink(set.id)}">/probe?ruleset=${escapeHtml(set.id)}</a></p>`;
  if (!report) return `<section>${head}${link}<p class="none">Not probed since the exporter started: Prometheus has not scraped it yet.</p></section>`;
  const s = report.summary;
  const verdict = report.verdict === 'pass' ? 'pass' : 'fail';
  const summary = `<p class="verdict ${verdict}">${verdict === 'pass' ? 'PASS' : 'FAIL'}: ${s.passed} passed, ${s.failed} failed, ${s.warned} warned, ${s.skipped} skipped of ${s.total} targets, probed ${escapeHtml(report.startedAt)}</p>`;
  const rows = report.results.map(resultRow).join('\n');
  const table = `<table><thead><tr><th>Rule</th><th>Host</th><th>Port</th><th>Check</th><th>Result</th><th>Time</th><th>Detail</th></tr></thead><tbody>\n${rows}\n</tbody></table>`;
  return `<section>${head}${link}${summary}${findingsBlock(report.findings)}${table}</section>`;
}

const STYLE = `
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
table{border-collapse:collapse;margin-bottom:1em}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
tr.pass .status{background:#d4f4d4}tr.warn .status{background:#fff1b8}tr.fail .status{background:#ffc9c9;font-weight:bold}tr.skip .status{background:#e8e8e8}
.finding.critical strong{color:#a30000}.finding.warning strong{color:#8a5a00}.finding.info strong{color:#555}.findings li{margin-bottom:.5em}
.verdict.pass{color:#11661b}.verdict.fail{color:#a30000;font-weight:bold}.none{color:#666}small{font-weight:normal;color:#555}
`;

export function renderStatusPage(input: PageInput): string {
  const index = input.ruleSets
    .map((set) => {
      const report = input.last.get(set.id);
      const state = report ? (report.verdict === 'pass' ? 'pass' : 'fail') : 'not probed yet';
      return `<li><a href="#${escapeHtml(set.id)}">${escapeHtml(set.id)}</a>: ${state}</li>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pushcheck serve</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<h1>pushcheck serve</h1>
<p>pushcheck ${escapeHtml(input.version)} on ${escapeHtml(input.listen)}: push connectivity from this site. Prometheus scrapes
<code>/probe?ruleset=NAME</code>; each scrape probes now. <a href="/metrics">/metrics</a> shows the exporter's own health.</p>
<ul>
${index}
</ul>
${input.ruleSets.map((set) => ruleSetSection(set, input.last.get(set.id))).join('\n')}
</body></html>
`;
}
