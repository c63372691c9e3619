import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { mapStack } from '../../src/cli/source-stack.js';

const dist = fileURLToPath(new URL('../../dist/', import.meta.url));

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
  });

  it('leaves a stack without a source map as it was', () => {
    const error = new Error('plain');
    const before = error.stack;
    mapStack(error);
    expect(error.stack).toBe(before);
  });
});
