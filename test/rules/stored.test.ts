/**
 * Built-in rule sets parsed at build time (dist/rule-sets.json, src/rules/stored.ts): what parsing gives, used only by
 * the bundles built with them and only while each rule file is byte for byte the one parsed.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinNames, builtinRulesDir } from '../../src/rules/builtin.js';
import { loadRuleSetFile } from '../../src/rules/load.js';
import { bundledRuleSetsId, RULE_SETS_PATH, storedRuleSet, type StoredRuleSets } from '../../src/rules/stored.js';
import { SUMMARIES_PATH, type StoredSummaries } from '../../src/rules/summaries.js';
import { BIN } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url);
const built = new URL(RULE_SETS_PATH, root);
const builtId = (): string => (JSON.parse(readFileSync(built, 'utf8')) as StoredRuleSets).id;

describe('built-in rule sets stored at build time', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-stored-'));
    cpSync(builtinRulesDir(), path.join(dir, 'rules'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are what parsing each rule file gives, with the file where it is now', () => {
    const names = builtinNames();
    expect(names.map((n) => n.id)).toContain('moki-ios');
    for (const { file } of names) {
      const copy = path.join(dir, 'rules', path.basename(file));
      expect(storedRuleSet(copy, readFileSync(copy, 'utf8'), builtId(), built), file).toEqual(loadRuleSetFile(copy, { builtin: true }));
    }
  });

  it('are not used once the rule file changes by one byte, for another build, or outside a bundle', () => {
    const file = path.join(dir, 'rules', 'moki-ios.yaml');
    const text = readFileSync(file, 'utf8');
    expect(storedRuleSet(file, text, builtId(), built)).toBeDefined();
    expect(storedRuleSet(file, text, 'another-build', built)).toBeUndefined();
    expect(storedRuleSet(file, text, undefined, built)).toBeUndefined();
    expect(storedRuleSet(file, text, builtId(), pathToFileURL(path.join(dir, 'none.json')))).toBeUndefined();
    appendFileSync(file, '\n');
    expect(storedRuleSet(file, readFileSync(file, 'utf8'), builtId(), built)).toBeUndefined();
    // Under vitest the code is not the build's: it parses.
    expect(bundledRuleSetsId).toBeUndefined();
  });

  it('hold each text once, with the summaries of the same build: texts another build stored, or another text, and the file is parsed', () => {
    const file = path.join(dir, 'rules', 'moki-ios.yaml');
    const text = readFileSync(file, 'utf8');
    expect(readFileSync(built, 'utf8')).not.toContain(JSON.stringify(text).slice(1, 200));
    const summaries = JSON.parse(readFileSync(new URL(SUMMARIES_PATH, root), 'utf8')) as StoredSummaries;
    expect(summaries.files['moki-ios.yaml']).toBe(text);
    const texts = (changed: Partial<StoredSummaries>): URL => {
      const place = path.join(dir, `texts${Object.keys(changed).join('-')}.json`);
      writeFileSync(place, JSON.stringify({ ...summaries, ...changed }));
      return pathToFileURL(place);
    };
    expect(storedRuleSet(file, text, builtId(), built, texts({}))).toBeDefined();
    expect(storedRuleSet(file, text, builtId(), built, texts({ id: 'another-build' }))).toBeUndefined();
    expect(storedRuleSet(file, text, builtId(), built, texts({ files: { ...summaries.files, 'moki-ios.yaml': text.replace('5223', '5224') } }))).toBeUndefined();
    expect(storedRuleSet(file, text, builtId(), built, pathToFileURL(path.join(dir, 'none.json')))).toBeUndefined();
  });

  it('pushcheck ios uses the stored moki-ios and parses none', () => {
    const run = spawnSync(process.execPath, [BIN, 'ios', '--dns-server', '127.0.0.1:9', '-t', '300', '-f', 'json'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_DEBUG: 'pushcheck' },
    });
    expect(run.stderr).toMatch(/rule set \S+\/rules\/moki-ios\.yaml: as the build parsed it/);
    expect(run.stderr).not.toMatch(/rule set \S+: parsed/);
    expect(JSON.parse(run.stdout)).toMatchObject({ results: expect.arrayContaining([expect.objectContaining({ ruleset: 'moki-ios' })]) });
  });

  it('pushcheck ios reads each built-in rule file once: its names and its stored set come from one reading', () => {
    // A preload that counts the reads of files in rules/ through Node's fs (the bundles' readFileSync is fs's own).
    const counter = path.join(dir, 'count-reads.cjs');
    writeFileSync(
      counter,
      `const fs = require('node:fs');
      const { fileURLToPath } = require('node:url');
      const read = fs.readFileSync;
      const counts = {};
      fs.readFileSync = function (file, ...rest) {
        const name = typeof file === 'string' ? file : file instanceof URL ? fileURLToPath(file) : '';
        const match = /[\\/]rules[\\/]([\\w.-]+\\.ya?ml)$/.exec(name);
        if (match) counts[match[1]] = (counts[match[1]] ?? 0) + 1;
        return read.call(this, file, ...rest);
      };
      process.on('exit', () => process.stderr.write('reads ' + JSON.stringify(counts) + '\\n'));`,
    );
    const run = spawnSync(process.execPath, ['-r', counter, BIN, 'ios', '--dns-server', '127.0.0.1:9', '-t', '300', '-f', 'json'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(JSON.parse(run.stdout)).toMatchObject({ results: expect.arrayContaining([expect.objectContaining({ ruleset: 'moki-ios' })]) });
    const counts = JSON.parse(/^reads (.*)$/m.exec(run.stderr)![1]!) as Record<string, number>;
    expect(Object.keys(counts).sort()).toEqual(builtinNames().map((n) => path.basename(n.file)).sort());
    for (const [file, count] of Object.entries(counts)) expect(count, file).toBe(1);
  });
});
