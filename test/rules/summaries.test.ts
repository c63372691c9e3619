/**
 * `rules list` answers from summaries stored at build time; they must say what parsing says, and be ignored the
 * moment rules/ is not byte for byte what they were made from.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinRulesDir, builtinSummaries, summariesToStore } from '../../src/rules/builtin.js';
import { SUMMARIES_PATH, storedSummaries } from '../../src/rules/summaries.js';
import { BIN } from '../helpers/cli.js';
import { ruleSetTable } from '../../src/cli/rules-table.js';

const root = new URL('../../', import.meta.url);

describe('stored rule set summaries', () => {
  let dir: string;
  let rules: URL;
  let stored: URL;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-summaries-'));
    cpSync(builtinRulesDir(), path.join(dir, 'rules'), { recursive: true });
    writeFileSync(path.join(dir, 'summaries.json'), JSON.stringify({ ...summariesToStore(), table: 'the table' }));
    rules = pathToFileURL(`${dir}/rules/`);
    stored = pathToFileURL(`${dir}/summaries.json`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('the build stored what parsing the rule sets gives', () => {
    const built = storedSummaries(new URL('rules/', root), new URL(SUMMARIES_PATH, root));
    expect(built, `npm run build wrote ${SUMMARIES_PATH} for the rule files in rules/`).toBeDefined();
    expect(built!.summaries).toEqual(builtinSummaries());
    expect(built!.summaries.map((s) => s.id)).toContain('moki-ios');
    expect(built!.table).toBe(ruleSetTable(builtinSummaries()));
  });

  it('are used while the rule files are unchanged', () => {
    expect(storedSummaries(rules, stored)).toEqual({ ...summariesToStore(), table: 'the table' });
  });

  it('are not used once a rule file changes by one byte, is added or is removed, or when none were stored', () => {
    const file = path.join(dir, 'rules', 'moki-ios.yaml');
    const text = readFileSync(file);
    appendFileSync(file, ' ');
    expect(storedSummaries(rules, stored)).toBeUndefined();
    writeFileSync(file, text);
    expect(storedSummaries(rules, stored)).toBeDefined();

    writeFileSync(path.join(dir, 'rules', 'extra.yml'), 'id: extra\n');
    expect(storedSummaries(rules, stored)).toBeUndefined();
    unlinkSync(path.join(dir, 'rules', 'extra.yml'));

    unlinkSync(path.join(dir, 'rules', 'opmanager.yaml'));
    expect(storedSummaries(rules, stored)).toBeUndefined();

    expect(storedSummaries(new URL('rules/', root), pathToFileURL(`${dir}/none.json`))).toBeUndefined();
  });

  it('pushcheck rules list loads no YAML parser, rule schema, probe kind or table library', () => {
    const run = spawnSync(process.execPath, [BIN, 'rules', 'list'], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'esm' }, timeout: 30_000 });
    expect(run.status).toBe(0);
    const files = [...new Set(run.stderr.match(/\/dist\/bundle\/chunks\/[\w-]+\.js/g) ?? [])];
    expect(files.some((f) => f.includes('/rules-')), 'the rules command was loaded').toBe(true);
    for (const file of files) {
      const text = readFileSync(new URL(`.${file}`, root), 'utf8');
      expect(text, file).not.toMatch(/^\/\/ (node_modules\/(yaml|cli-table3)\/|src\/rules\/schema\.ts|src\/probes\/index\.ts)/m);
    }
  });
});
