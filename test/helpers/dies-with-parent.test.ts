/**
 * Where diesWithParent cannot work (no setpriv, or one without --pdeathsig), the tests that start servers through it
 * skip with the reason (or fail under CI) instead of crashing on spawn's unhandled 'error' (`spawn setpriv ENOENT`).
 * That the command dies with its parent is interrupted.test.ts's.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { diesWithParentUnavailable } from './dies-with-parent.mjs';
import { proxyToolsMissing } from './proxies.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-dies-with-parent-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

/** A folder `name` for PATH that holds only `scripts`: executable shell scripts, each a command name and its body. */
function pathWith(name: string, scripts: Record<string, string>): string {
  const bin = path.join(dir, name);
  mkdirSync(bin);
  for (const [command, body] of Object.entries(scripts)) {
    writeFileSync(path.join(bin, command), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(bin, command), 0o755);
  }
  return bin;
}

describe('diesWithParentUnavailable', () => {
  it('names setpriv and its package where setpriv is not on PATH, and the proxy tests say so', () => {
    vi.stubEnv('PATH', pathWith('no-setpriv', { tinyproxy: 'exit 0', microsocks: 'exit 0', true: 'exit 0' }));
    expect(diesWithParentUnavailable()).toBe('setpriv not found (apt-get install util-linux)');
    expect(proxyToolsMissing()).toBe('setpriv not found (apt-get install util-linux)');
  });

  it('gives setpriv’s complaint where it knows no --pdeathsig (util-linux before 2.33)', () => {
    vi.stubEnv('PATH', pathWith('old-setpriv', { setpriv: `echo "setpriv: unrecognized option '$1'" >&2\nexit 1`, true: 'exit 0' }));
    expect(diesWithParentUnavailable()).toBe("setpriv --pdeathsig KILL failed: setpriv: unrecognized option '--pdeathsig'");
  });

  it('is undefined where setpriv runs the command with --pdeathsig', () => {
    vi.stubEnv('PATH', pathWith('good-setpriv', { setpriv: '[ "$1 $2" = "--pdeathsig KILL" ] && shift 2 && exec "$@"', true: 'exit 0' }));
    expect(diesWithParentUnavailable()).toBeUndefined();
  });
});
