/**
 * v8FlagsForCheck (src/cli/v8-flags.ts) sets V8 flags after the heap is made: a flag V8 reads only at start-up would
 * be ignored without a word. This holds that the young generation set there takes effect on Node 20 (kept at its first
 * size, where V8 would grow it), only for the check command, and that later Nodes keep V8's defaults. Sizes and
 * scavenges are counted, not timed: they do not move with the load.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const V8_FLAGS = fileURLToPath(new URL('../../dist/cli/v8-flags.js', import.meta.url));
const V8_DEFAULTS = fileURLToPath(new URL('../../dist/v8-defaults.js', import.meta.url));
const MIB = 1024 * 1024;

/**
 * What a fresh Node's young generation does while it keeps 30,000 of 300,000 small objects, after
 * v8FlagsForCheck(`args`): its scavenges, and by how much new space grew from its first size (space_size, bytes).
 */
function youngGeneration(args: string[] | undefined): { scavenges: number; grewBy: number } {
  const script = `
    const v8 = await import('node:v8');
    const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
    const first = newSpace();
    const { v8FlagsForCheck } = await import(${JSON.stringify(V8_FLAGS)});
    const args = ${JSON.stringify(args ?? null)};
    if (args) v8FlagsForCheck(args);
    const kept = [];
    for (let i = 0; i < 300_000; i += 1) { const o = { i, name: 'x' + i }; if (i % 10 === 0) kept.push(o); }
    if (kept.length !== 30_000) process.exit(1);
    process.stdout.write('grew by ' + (newSpace() - first) + '\\n');`;
  const child = spawnSync(process.execPath, ['--trace-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  // V8 reports a flag it does not know on stderr, and a check would show it to the user.
  expect(child.stderr).toBe('');
  const grewBy = Number(/^grew by (-?\d+)$/m.exec(child.stdout)?.[1]);
  expect(grewBy).not.toBeNaN();
  return { scavenges: child.stdout.split('\n').filter((line) => line.includes(': Scavenge')).length, grewBy };
}

describe('v8FlagsForCheck', () => {
  const node20 = process.versions.v8.startsWith('11.');

  // CI runs this file on Node 20, 22 and 24: each version holds its own half.
  it(`keeps the young generation at its first size for a check on Node 20 only, and V8's defaults later (this is ${process.version})`, () => {
    const plain = youngGeneration(undefined);
    const check = youngGeneration(['rules.yaml']);
    if (node20) {
      // V8 alone grows it from 1 MB to 16 MB (in doublings); a check's stays at 1 MB, scavenged more often (the
      // mark-compact that the kept objects bring about may leave it at 2 MB: no scavenge grows it).
      expect(plain.grewBy).toBeGreaterThan(MIB * 4);
      expect(check.grewBy).toBeLessThanOrEqual(MIB);
      expect(check.scavenges).toBeGreaterThan(plain.scavenges);
    } else {
      expect(check).toEqual(plain);
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
    expect(youngGeneration(['serve'])).toEqual(youngGeneration(undefined));
  });
});
