/**
 * The README and docs/ are part of the interface: their lists must match the code they describe. The README keeps
 * what an admin needs (quick start, failure codes, rule sets, formats); the manual's lists live in docs/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as registerCheck } from '../../src/cli/check.js';
import { commands } from '../../src/cli/commands.js';
import { FAILURES } from '../../src/probes/classify.js';
import { checkNames } from '../../src/probes/index.js';
import { formatNames } from '../../src/report/index.js';
import { formats } from '../helpers/formats.js';
import { loadBuiltinRuleSets } from '../../src/rules/builtin.js';
import { richReport } from '../report/fixture.js';
import { nonEmpty } from '../helpers/non-empty.js';

const ROOT = new URL('../../', import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, ROOT), 'utf8');
const readme = read('README.md');

describe('README', () => {
  it('lists every failure code with the explanation and hint the code gives', () => {
    expect(Object.keys(FAILURES).length).toBeGreaterThan(20);
    for (const [code, text] of Object.entries(FAILURES)) {
      expect(readme, code).toContain(`| \`${code}\` | ${text.explanation} | ${text.hint} |`);
    }
  });

  it('names every built-in rule set and its aliases', () => {
    const sets = loadBuiltinRuleSets();
    expect(sets.length).toBeGreaterThan(5);
    for (const set of sets) {
      expect(readme).toContain(`| \`${set.id}\` |`);
      for (const alias of set.aliases) expect(readme).toContain(`\`${alias}\``);
    }
  });

  it('mentions every output format', () => {
    for (const name of nonEmpty(formatNames, 'the format registry')) expect(readme).toContain(`\`${name}\``);
  });

  it('has a quick start of exactly two command lines: one runs pushcheck ios, one runs the tests', () => {
    const quickStart = readme.split('## Quick start')[1]!.split('```')[1]!;
    const lines = quickStart.split('\n').filter((line) => line.trim() !== '' && line.trim() !== 'sh');
    expect(lines).toEqual(['npm ci && npx pushcheck ios', 'npm ci && npm test']);
  });

  it('stays a guide: the manual is in docs/', () => {
    expect(readme.split('\n').length).toBeLessThan(250);
  });

  it('links only to documents that exist', () => {
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(existsSync(new URL(link, ROOT)), link).toBe(true);
  });
});

describe('docs/cli.md', () => {
  const cli = read('docs/cli.md');

  it('has a row for every command', () => {
    expect(commands.length).toBeGreaterThan(5);
    for (const { name } of commands) expect(cli, name).toContain(`\`pushcheck ${name}`);
  });

  it('describes every option of a check', () => {
    const program = new Command();
    registerCheck(program);
    const options = program.commands.find((command) => command.name() === 'check')!.options.map((option) => option.long!);
    expect(options).toContain('--timeout');
    // In a code span of its own or after its short form: `--timeout <ms>`, `-t, --timeout <ms>`.
    for (const option of options) expect(cli, option).toMatch(new RegExp(`\`(-\\w, )?${option}[ \`]`));
  });
});

describe('docs/reports.md', () => {
  const reports = read('docs/reports.md');

  it('has a section for every output format', () => {
    for (const name of nonEmpty(formatNames, 'the format registry')) expect(reports, name).toContain(`\`--format ${name}\``);
  });

  it('lists every Prometheus metric the format writes', () => {
    const metrics = new Set(
      formats
        .get('prometheus')!
        .render(richReport(), { color: false })
        .split('\n')
        .filter((line) => line.startsWith('# TYPE '))
        .map((line) => line.split(' ')[2]!),
    );
    expect(metrics.size).toBeGreaterThan(10);
    for (const metric of metrics) expect(reports, metric).toContain(`| \`${metric}\` |`);
  });
});

describe('docs/rule-format.md', () => {
  it('lists every check a rule may name', () => {
    const row = read('docs/rule-format.md').split('\n').find((line) => line.startsWith('| `check` |'))!;
    for (const name of nonEmpty(checkNames, 'the probe registry')) expect(row, name).toContain(`\`${name}\``);
  });
});

describe('docs/contributing.md', () => {
  it('names only files that exist', () => {
    const text = read('docs/contributing.md');
    const paths = [...text.matchAll(/`((?:src|test|bench|schemas|rules|docs)\/[\w./-]+\.(?:ts|js|mjs|json|md|yaml))`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(10);
    for (const file of paths) expect(existsSync(new URL(file, ROOT)), file).toBe(true);
  });
});
