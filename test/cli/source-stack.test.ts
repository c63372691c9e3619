import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mapStack } from '../../src/cli/source-stack.js';
import { runCli } from '../helpers/cli.js';
import { writeRuleFile } from '../helpers/rule-file.js';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

/** The first `count` words (names, keywords) of `text` from `at` on: what a frame's position points at. */
const wordsAt = (text: string, at: number, count = 2): string[] => (text.slice(at).match(/[\w$]+/g) ?? []).slice(0, count);

/** The source a mapped frame (`at fn (/…/src/x.ts:12:5)`) names, from its line and column on. */
function sourceAt(frame: string): string {
  const [, file, line, column] = /\((\/[^()]+\.ts):(\d+):(\d+)\)$/.exec(frame) ?? [];
  expect(file, `${frame} names a .ts file`).toBeDefined();
  return (readFileSync(file!, 'utf8').split('\n')[Number(line) - 1] ?? '').slice(Number(column) - 1);
}

// In a plain Node process: vitest maps stacks by itself, which would hide what the bundle's stacks look like.
const script = `
const [chunk, mapper] = process.argv.slice(1);
const { settingsFrom } = await import(chunk);
const { mapStack } = await import(mapper);
try { settingsFrom(null); } catch (err) {
  const raw = err.stack;
  mapStack(err);
  process.stdout.write(JSON.stringify({ raw, mapped: err.stack }));
}`;

describe('stack traces of the bundled CLI', () => {
  it('point at src/ once mapped, not at the bundle', () => {
    const file = readdirSync(`${dist}bundle/chunks`).find((name) => /^check-.*\.js$/.test(name));
    expect(file, 'npm run build made dist/bundle/chunks/check-*.js').toBeDefined();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, `${dist}bundle/chunks/${file}`, `${dist}cli/source-stack.js`], { encoding: 'utf8' });
    const { raw, mapped } = JSON.parse(out) as { raw: string; mapped: string };
    expect(raw.split('\n')[1]).toMatch(/dist\/bundle\/chunks\/.*\.js:\d+:\d+/);
    expect(mapped.split('\n')[1]).toMatch(/\/src\/cli\/check\.ts:\d+:\d+\)$/);
    // At the very property the TypeError names (settingsFrom reads flags.courier first), not only somewhere in check.ts.
    const property = /reading '(\w+)'/.exec(mapped)?.[1];
    expect(property, mapped.split('\n')[0]).toBeDefined();
    expect(wordsAt(sourceAt(mapped.split('\n')[1]!), 0, 1)).toEqual([property]);
  });

  it.each([
    ['check.cjs', 'check command', 'settingsFrom', 'check'],
    ['rules.cjs', 'rules command', 'ruleSetView', 'rules'],
  ])('point at src/ in %s too, the CommonJS bundle the %s runs from', (bundle, _command, fn, source) => {
    const file = `${dist}bundle/${bundle}`;
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf(`function ${fn}(`);
    expect(at, `${bundle} holds ${fn}`).toBeGreaterThan(0);
    // A frame inside its body, by line and column: the bundles are minified (scripts/bundle.mjs), a line holds many functions.
    const body = text.indexOf('{', at) + 1;
    const line = text.slice(0, body).split('\n').length;
    const column = body - text.lastIndexOf('\n', body - 1);
    const error = new Error('a bug');
    error.stack = `Error: a bug\n    at ${fn} (${file}:${line}:${column})`;
    mapStack(error);
    expect(error.stack.split('\n')[1]).toMatch(new RegExp(`/src/cli/${source}\\.ts:\\d+:\\d+\\)$`));
    // The line and column of the very code the frame points at: minified in whitespace only, its words are the source's.
    expect(wordsAt(sourceAt(error.stack.split('\n')[1]!), 0)).toEqual(wordsAt(text, body));
  });

  it('of a bug in a check run by bin/pushcheck.js (check.cjs through the code cache) name the line and column in src/', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-stack-'));
    try {
      // The bug: JSON.stringify throws for the report, as a bug of ours would in src/report/json.ts.
      const preload = path.join(dir, 'bug.cjs');
      writeFileSync(
        preload,
        "const s = JSON.stringify; JSON.stringify = function (v, ...r) { if (v && typeof v === 'object' && 'results' in v && 'summary' in v) throw new TypeError('a bug'); return s.call(this, v, ...r); };\n",
      );
      // A port nothing listens on: the check fails there and goes on to its report.
      const rules = writeRuleFile(path.join(dir, 'rules.yaml'), 'stack', 'Stack', [{ id: '1', host: 'stack.test', ports: [1], check: 'tcp' }]);
      for (const run of ['writes the code cache', 'uses it']) {
        const { code, stderr } = await runCli([rules, '--resolve', 'stack.test=127.0.0.1', '-f', 'json'], { nodeArgs: ['-r', preload], env: { NODE_DEBUG: 'pushcheck' } });
        expect(code, `${run}: ${stderr}`).toBe(1);
        expect(stderr, run).toMatch(/code cache .*check\.cjs.*: (written|used)/);
        const frames = stderr.split('\n').filter((line) => /^\s+at /.test(line));
        const render = frames.find((frame) => frame.includes('/src/report/json.ts:'));
        expect(render, `${run}: ${frames.join('\n')}`).toBeDefined();
        expect(wordsAt(sourceAt(render!), 0, 1), render).toEqual(['stringify']);
        expect(frames.some((frame) => /\/src\/cli\/check\.ts:\d+:\d+\)$/.test(frame)), frames.join('\n')).toBe(true);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves a stack without a source map as it was', () => {
    const error = new Error('plain');
    const before = error.stack;
    mapStack(error);
    expect(error.stack).toBe(before);
  });
});
