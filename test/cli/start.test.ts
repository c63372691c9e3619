/**
 * bin/pushcheck.js answers the program's own help and version from start.cjs (CommonJS, commander only for the
 * help) and hands commands to the ES module bundle; the single executable answers everything from main.ts.
 * Both must say the same, byte for byte, and the short path must stay short.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';

const MAIN = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));

function run(entry: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const out = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
  return { code: out.status, stdout: out.stdout, stderr: out.stderr };
}

/** The files a run loads, from Node's own module log (CommonJS requires and ES module imports). */
function loaded(args: string[]): string {
  return run(BIN, args, { NODE_DEBUG: 'module,esm' }).stderr;
}

describe('start-up path', () => {
  it.each([['--version'], ['-V'], ['--help'], ['-h'], [], ['help'], ['--version', 'extra'], ['-x']].map((args) => [args.join(' ') || '(nothing)', args] as const))(
    'pushcheck %s says what main.js says, byte for byte, with the same exit code',
    (_label, args) => {
      const fast = run(BIN, args);
      expect(fast).toEqual(run(MAIN, args));
      expect(fast.stdout + fast.stderr).not.toBe('');
    },
  );

  it('--version loads neither commander nor the command bundle; --help loads commander only', () => {
    const version = loaded(['--version']);
    expect(version).toMatch(/start\.cjs/);
    expect(version).not.toMatch(/program\.cjs|bundle\/main\.js|chunks\//);
    const help = loaded(['--help']);
    expect(help).toMatch(/program\.cjs/);
    expect(help).not.toMatch(/bundle\/main\.js|chunks\//);
    expect(loaded(['rules', 'list'])).toMatch(/bundle\/main\.js/);
  });

  it('--version to a stdout that cannot be written is one line and exit 2', () => {
    const full = openSync('/dev/full', 'w');
    const out = spawnSync(process.execPath, [BIN, '--version'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000 });
    closeSync(full);
    expect(out.status).toBe(2);
    expect(out.stderr).toBe('pushcheck: cannot write to stdout (ENOSPC)\n');
  });
});
