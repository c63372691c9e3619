/**
 * JUnit XML for CI tools (Jenkins, GitLab): one <testsuite> per rule set, one <testcase> per target.
 * A failed critical target is a <failure> (type = failure code, message = what happened; the vendor's impact,
 * the hint and the timings in the body); a warning is a passing test case whose <system-out> says what went
 * wrong; a skipped target is <skipped>. With --strict, the warnings that fail the run are <failure>s too, so the
 * CI tool's verdict matches the exit code. The findings that explain a suite's targets are in the suite's
 * <system-out>, so a CI log shows the causes beside the failures. Valid against the Jenkins xUnit junit-10.xsd.
 */
import type { Report, Result, Timings } from '../types.js';
import { redactText } from '../secrets.js';
import { verdictOf } from '../verdict.js';
import { findingsCount, findingsPlainText } from './finding-text.js';
import { familyLabel, rulesetIds, seconds, targetName } from './target.js';
import type { ReportFormat } from './types.js';
import { xmlAttributes, xmlText } from './xml.js';

function timingsText(timings: Timings): string {
  const phases: Array<[string, number | undefined]> = [
    ['dns', timings.dnsMs],
    ['connect', timings.connectMs],
    ['tls', timings.tlsMs],
    ['http', timings.httpMs],
    ['total', timings.totalMs],
  ];
  return phases
    .filter((phase): phase is [string, number] => phase[1] !== undefined)
    .map(([name, ms]) => `${name} ${ms} ms`)
    .join(', ');
}

/** What a person needs under a failure or warning: what happened, where, what to do, what breaks. */
function body(result: Result): string {
  const lines: string[] = [];
  if (result.error) lines.push(`${result.error.code} (${result.error.phase}): ${result.error.message}`);
  if (result.address) lines.push(`address: ${result.address}${result.family ? ` (${familyLabel(result.family)})` : ''}`);
  if (result.via && result.via !== 'direct') lines.push(`via: ${result.via}${result.resolvedByProxy ? ' (the proxy resolved the name)' : ''}`);
  if (result.error) lines.push(`hint: ${result.error.hint}`);
  lines.push(`if it fails: ${result.impact}`, `purpose: ${result.purpose}`, `severity: ${result.severity}`);
  if (result.note) lines.push(`note: ${result.note}`);
  lines.push(`timings: ${timingsText(result.timings)}`, `attempts: ${result.attempts}`);
  return lines.join('\n');
}

function testcase(result: Result, strict: boolean): string {
  const open = `    <testcase${xmlAttributes({
    name: targetName(result),
    classname: `pushcheck.${result.ruleset}`,
    time: seconds(result.timings.totalMs),
  })}>`;
  let inner: string;
  if (result.status === 'skip') {
    inner = `<skipped${xmlAttributes({ message: result.note ?? 'not probed' })}/>`;
  } else if (verdictOf([result], strict) === 'fail') {
    inner = `<failure${xmlAttributes({
      type: result.error?.code ?? result.status,
      message: result.error?.message ?? result.note ?? result.status,
    })}>${xmlText(body(result))}</failure>`;
  } else if (result.status === 'warn') {
    inner = `<system-out>${xmlText(`WARN ${body(result)}`)}</system-out>`;
  } else if (result.note) {
    inner = `<system-out>${xmlText(`note: ${result.note}`)}</system-out>`;
  } else {
    return `${open.slice(0, -1)}/>`;
  }
  return `${open}\n      ${inner}\n    </testcase>`;
}

/** The run's facts, repeated on each suite (the XSD allows properties on <testsuite> only). */
function properties(report: Report, rulesetId: string): string {
  const set = report.rulesets.find((s) => s.id === rulesetId);
  const o = report.options;
  const props: Array<[string, string | number | boolean | undefined]> = [
    ['ruleset.title', set?.title],
    ['ruleset.source', set?.source],
    ['ruleset.file', set?.file],
    ['pushcheck.version', report.tool.version],
    ['node', report.environment.node],
    ['os', `${report.environment.platform} ${report.environment.release} ${report.environment.arch}`],
    ['startedAt', report.startedAt],
    ['durationMs', report.durationMs],
    ['verdict', report.verdict],
    ['exitCode', report.exitCode],
    ['interrupted', report.interrupted],
    ['options.timeoutMs', o.timeoutMs],
    ['options.concurrency', o.concurrency],
    ['options.retries', o.retries],
    ['options.dnsServer', o.dnsServer ?? 'system resolver'],
    ['options.resolve', o.resolve.join(', ')],
    ['options.proxy', o.proxy],
    ['options.caFiles', o.caFiles.join(', ')],
    ['options.vars', o.vars.join(', ')],
    ['options.strict', o.strict],
    ['options.insecure', o.insecure],
  ];
  const lines = props
    .filter((p): p is [string, string | number | boolean] => p[1] !== undefined)
    .map(([name, value]) => `      <property${xmlAttributes({ name, value: redactText(String(value)) })}/>`);
  return `    <properties>\n${lines.join('\n')}\n    </properties>`;
}

interface Counts {
  tests: number;
  failures: number;
  skipped: number;
  timeMs: number;
}

function count(results: Result[], strict: boolean): Counts {
  return {
    tests: results.length,
    failures: results.filter((r) => r.status !== 'skip' && verdictOf([r], strict) === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
    timeMs: results.reduce((sum, r) => sum + r.timings.totalMs, 0),
  };
}

export function renderJunit(report: Report): string {
  const strict = report.options.strict;
  const suites = rulesetIds(report).map((id) => {
    const results = report.results.filter((r) => r.ruleset === id);
    const c = count(results, strict);
    const open = `  <testsuite${xmlAttributes({
      name: id,
      package: `pushcheck.${id}`,
      tests: c.tests,
      failures: c.failures,
      errors: 0,
      skipped: c.skipped,
      // The targets of a rule set run concurrently: its time is the sum of its targets' times, as in JUnit.
      time: seconds(c.timeMs),
      timestamp: report.startedAt,
      hostname: report.environment.hostname,
    })}>`;
    const findings = report.findings.filter((f) => f.rulesets.includes(id));
    const out =
      findings.length > 0
        ? [`    <system-out>${xmlText(`${findingsCount(findings)}\n${findingsPlainText(findings)}`)}</system-out>`]
        : [];
    return [open, properties(report, id), ...results.map((r) => testcase(r, strict)), ...out, '  </testsuite>'].join('\n');
  });
  const all = count(report.results, strict);
  // The XSD has no `skipped` on <testsuites>; each <testsuite> carries its own.
  const root = `<testsuites${xmlAttributes({
    name: 'pushcheck',
    tests: all.tests,
    failures: all.failures,
    errors: 0,
    time: seconds(report.durationMs),
  })}>`;
  return ['<?xml version="1.0" encoding="UTF-8"?>', root, ...suites, '</testsuites>', ''].join('\n');
}

export const junit: ReportFormat = {
  name: 'junit',
  description: 'JUnit XML for CI tools: a test suite per rule set, a test case per target',
  render: (report) => renderJunit(report),
};
