/**
 * v8FlagsForCheck (src/cli/v8-flags.ts) sets V8 flags after the heap is made: a flag V8 reads only at start-up would
 * be ignored without a word. This holds that the young generation's growth set there takes effect on Node 20, only for
 * the check command, and that later Nodes keep V8's defaults. Scavenges are counted, not timed: they do not move with
 * the load.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const V8_FLAGS = fileURLToPath(new URL('../../dist/cli/v8-flags.js', import.meta.url));
const V8_DEFAULTS = fileURLToPath(new URL('../../dist/v8-defaults.js', import.meta.url));

/** Scavenges a fresh Node makes while it keeps 30,000 of 300,000 small objects, after v8FlagsForCheck(`args`). */
function scavenges(args: string[] | undefined): number {
  const script = `
    const { v8FlagsForCheck } = await import(${JSON.stringify(V8_FLAGS)});
    const args = ${JSON.stringify(args ?? null)};
    if (args) v8FlagsForCheck(args);
    const kept = [];
    for (let i = 0; i < 300_000; i += 1) { const o = { i, name: 'x' + i }; if (i % 10 === 0) kept.push(o); }
    if (kept.length !== 30_000) process.exit(1);`;
  const child = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  // V8 reports a flag it does not know on stderr, and a check would show it to the user.
  expect(child.stderr).toBe('');
  return child.stdout.split('\n').filter((line) => line.includes(': Scavenge')).length;
}

describe('v8FlagsForCheck', () => {
  const node20 = process.versions.v8.startsWith('11.');

  // CI runs this file on Node 20, 22 and 24: each version holds its own half.
  it(`grows the young generation sooner for a check on Node 20 only, and keeps V8's defaults later (this is ${process.version})`, () => {
    const plain = scavenges(undefined);
    if (node20) {
      expect(plain).toBeGreaterThanOrEqual(8);
      expect(scavenges(['rules.yaml'])).toBeLessThanOrEqual(plain * 0.7);
    } else {
      expect(scavenges(['rules.yaml'])).toBe(plain);
    }
  });

  it("sets them once a process: a later call (check.cjs's own copy, after start.cjs's) changes no flag", () => {
    // As when start.cjs and check.cjs hold different CHECK_FLAGS (a trial edited in one of them): the flags V8 has
    // when check.cjs compiles must be those it has when its code cache is written at exit, or no run takes the cache.
    const script = `
      const v8 = await import('node:v8');
      const { v8FlagsForCheck } = await import(${JSON.stringify(V8_FLAGS)});
      const { noteChangedV8Flags } = await import(${JSON.stringify(V8_DEFAULTS)});
      // A flag every V8 has (Node 22 and 24 have no --interrupt-budget), and none of CHECK_FLAGS.
      const other = [['--no-flush-bytecode', '--flush-bytecode']];
      v8.setFlagsFromString(other[0][0]);
      noteChangedV8Flags(other);
      const before = v8.cachedDataVersionTag();
      v8FlagsForCheck(['rules.yaml']);
      process.stdout.write(String(before === v8.cachedDataVersionTag()));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('true');
  });

  it("leaves V8's defaults to every other command", () => {
    expect(scavenges(['serve'])).toBe(scavenges(undefined));
  });
});
