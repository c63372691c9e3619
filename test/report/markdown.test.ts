/**
 * The Markdown report as GitHub reads it: parsed by cmark-gfm into a syntax tree, then read with XPath — the
 * verdict heading, the table of failures with impact and hint, and the folded passing targets.
 */
import { describe, expect, it } from 'vitest';
import { markdown } from '../../src/report/markdown.js';
import type { Report } from '../../src/types.js';
import { markdownTree, xpath } from './consumers.js';
import { NASTY, nastyReport, report, result, richReport, unprobed } from './fixture.js';

function tree(r: Report): string {
  return markdownTree(markdown.render(r, { color: false }));
}

const COLUMNS = ['Status', 'Rule set', 'Rule', 'Target', 'Check', 'What happened', 'If it fails', 'Hint'];

describe('markdown format', () => {
  const rich = richReport();
  const doc = tree(rich);
  const cell = (row: number, column: string) =>
    xpath(doc, `string(/document/table[1]/table_row[${row}]/table_cell[${COLUMNS.indexOf(column) + 1}])`);

  it('opens with the verdict as a heading', () => {
    expect(xpath(doc, 'string(/document/*[1][self::heading])')).toBe('pushcheck: FAIL — 1 critical target failed');
  });

  it('says what ran: counts, rule sets, versions', () => {
    const context = xpath(doc, 'string(/document/paragraph[1])');
    expect(context).toContain(`${rich.summary.passed} passed, ${rich.summary.failed} failed`);
    expect(context).toContain('moki-ios');
    expect(context).toContain('pushcheck 0.1.0');
  });

  it('puts what failed or warned in a table, failures first, with impact and hint', () => {
    const problems = rich.results.filter((r) => r.status === 'fail' || r.status === 'warn');
    expect(xpath(doc, 'count(/document/table[1]/table_row)')).toBe(String(problems.length));
    for (let i = 1; i <= COLUMNS.length; i += 1) {
      expect(xpath(doc, `string(/document/table[1]/table_header/table_cell[${i}])`)).toBe(COLUMNS[i - 1]);
    }
    expect(cell(1, 'Status')).toContain('FAIL');
    expect(cell(1, 'Target')).toBe('courier.sandbox.push.apple.com:5223');
    expect(cell(1, 'What happened')).toMatch(/^tcp_timeout no answer to the connection attempt/);
    expect(xpath(doc, 'string(/document/table[1]/table_row[1]/table_cell[6]/code)')).toBe('tcp_timeout');
    expect(cell(1, 'If it fails')).toBe('Can’t send device information to MokiManage or receive updates or actions');
    expect(cell(1, 'Hint')).toBe('allow outbound TCP to this host and port');
    expect(cell(2, 'Status')).toContain('WARN');
    expect(cell(2, 'What happened')).toContain('retired port (since 2021-03-31)');
  });

  it('puts the findings first, as a list, before the table of targets', () => {
    expect(xpath(doc, 'string(/document/heading[2])')).toBe('Findings: 1 critical, 1 info');
    expect(xpath(doc, 'count(/document/list/item)')).toBe(String(rich.findings.length));
    const first = xpath(doc, 'string(/document/list/item[1])');
    expect(first).toMatch(/^CRITICAL ports_blocked: The firewall lets TCP 443 through/);
    expect(first).toContain(`Ask for: ${rich.findings[0]!.action}`);
    expect(first).toContain('Explains 1 target: moki-ios/5 courier.sandbox.push.apple.com:5223');
    expect(xpath(doc, 'string(/document/list/item[1]/paragraph/code)')).toBe('ports_blocked');
    // the list comes before the first table
    expect(xpath(doc, 'count(/document/table[1]/preceding-sibling::list)')).toBe('1');
    expect(xpath(doc, 'string(/document/heading[3])')).toBe('Targets');
  });

  it('folds the skipped and the passing targets in <details>', () => {
    const blocks = xpath(doc, "count(/document/html_block[starts-with(., '<details>')])");
    expect(blocks).toBe('2');
    // the table after each <details> block holds those targets
    const passed = rich.results.filter((r) => r.status === 'pass');
    const passingTable = "/document/html_block[contains(., 'passed')]/following-sibling::table[1]";
    expect(xpath(doc, `count(${passingTable}/table_row)`)).toBe(String(passed.length));
    expect(xpath(doc, `string(${passingTable}/table_row[1]/table_cell[3])`)).toBe(`${passed[0]!.host}:${passed[0]!.port}`);
    const skippedTable = "/document/html_block[contains(., 'skipped')]/following-sibling::table[1]";
    expect(xpath(doc, `string(${skippedTable}/table_row[1]/table_cell[5])`)).toBe('no --var messageUrl=https://… given');
    // and the folds close after their tables
    expect(xpath(doc, "count(/document/html_block[normalize-space(.)='</details>'])")).toBe('2');
  });

  it('says so plainly when nothing failed', () => {
    const clean = tree(report([result(), result({ port: 5223 })]));
    expect(xpath(clean, 'string(/document/heading[1])')).toBe('pushcheck: PASS — nothing critical failed');
    expect(xpath(clean, 'count(/document/heading)')).toBe('1'); // no findings heading
    expect(xpath(clean, 'count(/document/list)')).toBe('0');
    expect(xpath(clean, 'count(/document/table)')).toBe('1'); // only the folded passes
  });

  it('names an interrupted run and a --strict failure', () => {
    const interrupted = tree(report([result(), unprobed({ port: 5223, note: 'interrupted' })], { interrupted: true }));
    expect(xpath(interrupted, 'string(/document/heading[1])')).toMatch(/^pushcheck: INTERRUPTED/);
    const warn = result({ status: 'warn', error: { code: 'tcp_refused', phase: 'connect', message: 'refused', hint: 'allow it' } });
    const strict = tree(report([warn], { options: { ...richReport().options, strict: true } }));
    expect(xpath(strict, 'string(/document/heading[1])')).toBe('pushcheck: FAIL — warnings fail the run (--strict)');
  });

  it('keeps outside text from breaking the table or becoming markup', () => {
    const nasty = nastyReport();
    const parsed = tree(nasty);
    const problems = nasty.results.filter((r) => r.status === 'fail' || r.status === 'warn');
    expect(xpath(parsed, 'count(/document/table[1]/table_row)')).toBe(String(problems.length));
    expect(xpath(parsed, `count(/document/table[1]/table_row[count(table_cell) != ${COLUMNS.length}])`)).toBe('0');
    // no HTML, emphasis, links or code made of it: only the failure codes and causes are code spans, and the only
    // emphasis is the findings' own (severity and "Ask for" strong, the targets line emphasised)
    expect(xpath(parsed, 'count(//html_inline | //link | //strikethrough | //table//emph | //table//strong)')).toBe('0');
    expect(xpath(parsed, 'count(//list//strong)')).toBe(String(2 * nasty.findings.length));
    expect(xpath(parsed, 'count(//list//emph)')).toBe(String(nasty.findings.length));
    expect(xpath(parsed, 'count(//code)')).toBe(String(problems.length + nasty.findings.length));
    // and it reads back as written, with control characters, tabs and line breaks as spaces
    const expected = 'a <b>&amp; "q" \'s\' | `x` *y* ]]>  [31m\uFFFD tab here line2 Can’t 🚀 ü';
    expect(xpath(parsed, `string(/document/table[1]/table_row[1]/table_cell[${COLUMNS.indexOf('If it fails') + 1}])`)).toBe(expected);
    expect(NASTY).toContain('*y*'); // the fixture does try emphasis
    expect(xpath(parsed, 'string(/document/list/item[1])')).toContain(`tls_interception: ${expected}`);
  });
});
