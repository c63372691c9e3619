/** The README is part of the interface: its lists must match the code they describe. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURES } from '../../src/probes/classify.js';
import { formatNames } from '../../src/report/index.js';
import { loadBuiltinRuleSets } from '../../src/rules/builtin.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('lists every failure code with the explanation and hint the code gives', () => {
    for (const [code, text] of Object.entries(FAILURES)) {
      expect(readme, code).toContain(`| \`${code}\` | ${text.explanation} | ${text.hint} |`);
    }
  });

  it('names every built-in rule set and its aliases', () => {
    for (const set of loadBuiltinRuleSets()) {
      expect(readme).toContain(`| \`${set.id}\` |`);
      for (const alias of set.aliases) expect(readme).toContain(`\`${alias}\``);
    }
  });

  it('mentions every output format', () => {
    for (const name of formatNames) expect(readme).toContain(`\`${name}\``);
  });

  it('has a quick start of exactly two command lines: one runs pushcheck ios, one runs the tests', () => {
    const quickStart = readme.split('## Quick start')[1]!.split('```')[1]!;
    const lines = quickStart.split('\n').filter((line) => line.trim() !== '' && line.trim() !== 'sh');
    expect(lines).toEqual(['npm ci && npx pushcheck ios', 'npm ci && npm test']);
  });
});
