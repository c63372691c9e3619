import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { withFamily } from '../../src/run/run.js';
import type { Target } from '../../src/types.js';
import { rule, target } from '../helpers/literals.js';

describe('withFamily', () => {
  it('copies a target as a spread with the family last would, leaving the target as it was', () => {
    const shapes: Target[] = [
      target(rule()),
      { ...target(rule()), url: 'https://a.example/x', skipReason: 'missing --var messageUrl' },
      { ...target(rule()), family: 'ipv6' },
    ];
    for (const original of shapes) {
      const before = JSON.stringify(original);
      for (const family of ['ipv4', 'ipv6', undefined] as const) {
        const copy = withFamily(original, family);
        const spread = { ...original, family };
        expect(copy).not.toBe(original);
        expect(Object.keys(copy)).toEqual(Object.keys(spread));
        expect(copy).toStrictEqual(spread);
      }
      expect(JSON.stringify(original)).toBe(before);
    }
  });

  // The reason it exists: on Node 20 (V8 11) `{ ...target, family }` gave every copy a hidden class of its own, and
  // each read of a target's field in the probe and the report missed V8's caches. Read through V8's own test
  // (%HaveSameMap), in a Node started for it; dist/ is the build the tests run beside.
  it('gives copies of targets of one shape one hidden class', () => {
    const script = `
      import { withFamily } from ${JSON.stringify(fileURLToPath(new URL('../../dist/run/run.js', import.meta.url)))};
      const rule = { id: 'r', host: 'a.example', ports: [443], check: 'tcp' };
      const copies = [];
      for (let i = 0; i < 200; i += 1) {
        const target = { ruleset: 's', rule, host: 'h' + (i % 10) + '.example', port: 1000 + i, check: 'tcp' };
        copies.push(withFamily(target, 'ipv4'));
      }
      let shared = 0;
      for (const copy of copies) if (%HaveSameMap(copy, copies[199])) shared += 1;
      console.log(shared);
    `;
    const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    // The first few copies may come before V8 has feedback for the copy; every later one shares the class.
    expect(Number(run.stdout.trim())).toBeGreaterThanOrEqual(190);
  });
});
