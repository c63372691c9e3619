/**
 * The key of test/helpers/packed.ts's shared tarball: it must change whenever `npm pack` would pack something else
 * (else one test would install a stale build), and not for what npm leaves out (a code cache a run writes).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildKey } from '../helpers/packed.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-packed-key-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const write = (relative: string, text: string): void => {
  mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
  writeFileSync(path.join(root, relative), text);
};

describe('the shared tarball’s build key', () => {
  it('follows every packed file, and not a code cache or a file outside `files`', () => {
    write('package.json', JSON.stringify({ name: 'p', version: '1.0.0', files: ['dist', '!dist/bundle/*.cache*', 'docs'] }));
    write('README.md', 'read me');
    write('dist/bundle/check.cjs', 'code');
    write('docs/a.md', 'doc');
    const first = buildKey(root);
    expect(buildKey(root)).toBe(first);
    write('dist/bundle/check.cjs.v1-x.cache', 'cache');
    write('src/main.ts', 'not packed');
    expect(buildKey(root)).toBe(first);
    const changes: Array<[string, string]> = [['dist/bundle/check.cjs', 'code 2'], ['docs/b.md', 'new doc'], ['README.md', 'read me 2'], ['package.json', JSON.stringify({ name: 'p', version: '1.0.1', files: ['dist', '!dist/bundle/*.cache*', 'docs'] })]];
    const keys = new Set([first]);
    for (const [file, text] of changes) {
      write(file, text);
      keys.add(buildKey(root));
    }
    expect(keys.size).toBe(changes.length + 1);
  });
});
