/**
 * `rules list` answers from summaries stored at build time; they must say what parsing says, and be ignored the
 * moment rules/ is not byte for byte what they were made from.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinNames, builtinRulesDir, builtinSummaries } from '../../src/rules/builtin.js';
import { SUMMARIES_PATH, storedSummaries } from '../../src/rules/summaries.js';
import { BIN } from '../helpers/cli.js';
import { ruleSetTable } from '../../src/cli/rules-table.js';

const root = new URL('../../', import.meta.url);
/** What the build stores (the table aside): the summaries, and the text of every file they were made from. */
const summariesToStore = () => ({
  id: 'an id',
  files: Object.fromEntries(builtinNames().map(({ file }) => [path.basename(file), readFileSync(file, 'utf8')])),
  summaries: builtinSummaries(),
});

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

  it('pushcheck rules list runs no YAML parser, rule schema, probe kind or table library', () => {
    // rules.cjs holds them all, for `rules show` and `validate`; each source module is initialised by a function
    // named after its path (esbuild's lazy modules), and V8's coverage counts the calls of every function.
    const coverage = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-coverage-'));
    try {
      const run = spawnSync(process.execPath, [BIN, 'rules', 'list'], { encoding: 'utf8', env: { ...process.env, NODE_V8_COVERAGE: coverage }, timeout: 30_000 });
      expect(run.status, run.stderr).toBe(0);
      const initialised = new Map<string, number>();
      for (const name of readdirSync(coverage)) {
        const { result } = JSON.parse(readFileSync(path.join(coverage, name), 'utf8')) as { result: Array<{ url: string; functions: Array<{ functionName: string; ranges: Array<{ count: number }> }> }> };
        for (const script of result.filter((s) => s.url.endsWith('/dist/bundle/rules.cjs'))) {
          for (const fn of script.functions) if (/^(src|node_modules)\//.test(fn.functionName)) initialised.set(fn.functionName, fn.ranges[0]!.count);
        }
      }
      expect(initialised.get('src/cli/rules.ts'), 'the rules command ran from rules.cjs').toBe(1);
      expect(initialised.get('src/rules/summaries.ts')).toBe(1);
      for (const module of ['src/rules/load.ts', 'src/rules/schema.ts', 'src/probes/index.ts', 'src/cli/rules-table.ts']) {
        expect(initialised.get(module), `${module} is in rules.cjs and not run`).toBe(0);
      }
      // YAML and cli-table3 are files of their own (bundle/lib/), which rules list does not load.
      expect([...initialised.keys()].filter((name) => /node_modules\/(yaml|cli-table3)\//.test(name))).toEqual([]);
    } finally {
      rmSync(coverage, { recursive: true, force: true });
    }
  });
});
