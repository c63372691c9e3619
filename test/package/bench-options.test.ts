// The benchmarks' settings (bench/options.js): a wrong BENCH_SITTING, BENCH_RUNS or PUSHCHECK_BEFORE ends a bench
// before it starts anything, with one line naming the variable and exit code 2. `BENCH_RUNS=abc` used to run no round
// and print NaN; a PUSHCHECK_BEFORE naming a checkout failed only after the warm-up.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const benchDir = fileURLToPath(new URL('../../bench/', import.meta.url));
type Env = Record<string, string | undefined>;
const { rounds, build, OptionError } = (await import(`${benchDir}options.js`)) as {
  rounds: (env: Env, name: string, fallback: number) => number;
  build: (env: Env, name: string, fallback?: string) => string | undefined;
  OptionError: new () => Error;
};

describe('bench options', () => {
  it('reads a number of rounds, and the fallback when the variable is unset or empty', () => {
    expect(rounds({ BENCH_SITTING: '60' }, 'BENCH_SITTING', 40)).toBe(60);
    expect(rounds({}, 'BENCH_SITTING', 40)).toBe(40);
    expect(rounds({ BENCH_SITTING: '' }, 'BENCH_SITTING', 40)).toBe(40);
  });

  it.each(['abc', '0', '-3', '4.5', ' 40', '1e2'])('rejects BENCH_SITTING=%s', (text) => {
    expect(() => rounds({ BENCH_SITTING: text }, 'BENCH_SITTING', 40)).toThrow(OptionError);
    expect(() => rounds({ BENCH_SITTING: text }, 'BENCH_SITTING', 40)).toThrow(`BENCH_SITTING=${text}: not a number of rounds`);
  });

  it('takes a build that is a file, and rejects a folder or a missing file', () => {
    const bin = fileURLToPath(new URL('../../bin/pushcheck.js', import.meta.url));
    expect(build({ PUSHCHECK_BEFORE: bin }, 'PUSHCHECK_BEFORE')).toBe(bin);
    expect(build({}, 'PUSHCHECK_BEFORE')).toBeUndefined();
    expect(() => build({ PUSHCHECK_BEFORE: benchDir }, 'PUSHCHECK_BEFORE')).toThrow(`PUSHCHECK_BEFORE=${benchDir}: not a file`);
    expect(() => build({ PUSHCHECK_BEFORE: `${benchDir}missing.js` }, 'PUSHCHECK_BEFORE')).toThrow('no such file');
  });

  it.each([
    ['tcp-sitting.bench.js', { BENCH_SITTING: 'forty' }, 'BENCH_SITTING=forty'],
    ['tcp-sitting.bench.js', { PUSHCHECK_BEFORE: '/nonexistent/bin/pushcheck.js' }, 'PUSHCHECK_BEFORE=/nonexistent/bin/pushcheck.js'],
    ['cli.bench.js', { BENCH_RUNS: '0' }, 'BENCH_RUNS=0'],
  ])('%s with %o ends with one line and exit code 2, before it starts anything', (file, env, named) => {
    const run = spawnSync(process.execPath, [`${benchDir}${file}`], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining(named)]);
  });
});
