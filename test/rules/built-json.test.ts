/**
 * src/rules/built-json.ts: the one reader of the build's JSON files (dist/rule-sets.json, dist/rule-summaries.json),
 * which stored.ts and summaries.ts share, so that a process that asks both reads each file once.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { builtJson } from '../../src/rules/built-json.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-built-json-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('builtJson', () => {
  it('reads a file once a process: a later change is not seen, the same object comes back', () => {
    const file = path.join(dir, 'summaries.json');
    writeFileSync(file, JSON.stringify({ id: 'first' }));
    const first = builtJson<{ id: string }>(pathToFileURL(file));
    expect(first).toEqual({ id: 'first' });
    writeFileSync(file, JSON.stringify({ id: 'second' }));
    expect(builtJson(pathToFileURL(file))).toBe(first);
  });

  it('is null for a file that is not there or does not parse, and stays so', () => {
    expect(builtJson(pathToFileURL(path.join(dir, 'none.json')))).toBeNull();
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{');
    expect(builtJson(pathToFileURL(broken))).toBeNull();
    writeFileSync(broken, '{}');
    expect(builtJson(pathToFileURL(broken))).toBeNull();
  });
});
