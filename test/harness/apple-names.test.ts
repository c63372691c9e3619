/**
 * The documented way to point a client that cannot be given another host or port at the harness: the harness on
 * port 443, Apple's provider names in /etc/hosts, its CA in NODE_EXTRA_CA_CERTS. Run for real in a network
 * namespace of the test's own (`ip netns exec` mounts /etc/netns/<name>/hosts over /etc/hosts for what runs in
 * it), so nothing of the machine's own /etc/hosts or port 443 is touched; the namespace has only loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BIN } from '../helpers/cli.js';
import { announceSkip, faultNetworkUnavailable } from '../faults/netns.js';
import { waitFor } from './helpers.js';

const run = promisify(execFile);
const CLIENT = fileURLToPath(new URL('./fixtures/apple-names-client.mjs', import.meta.url));
const unavailable = await faultNetworkUnavailable();
announceSkip('the /etc/hosts walkthrough of docs/harness.md', unavailable);

// The fault helpers' name pattern, so that their clean-up of stale namespaces also knows this one.
const ns = `pc-${process.pid}-${randomBytes(3).toString('hex')}-c`;
const etcDir = join('/etc/netns', ns);
let dir: string;
let harness: ChildProcess | undefined;
let stderr = '';

describe.skipIf(unavailable !== undefined)('a client that only knows Apple’s names, pointed at the harness by /etc/hosts', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pushcheck-apple-names-'));
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    mkdirSync(etcDir, { recursive: true });
    writeFileSync(join(etcDir, 'hosts'), '127.0.0.1 localhost\n127.0.0.1 api.push.apple.com api.sandbox.push.apple.com\n');
    harness = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, 'harness', '--state-dir', dir, '--apns-port', '443'], { stdio: ['ignore', 'ignore', 'pipe'] });
    harness.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    await waitFor(() => existsSync(join(dir, 'harness.json')) || harness!.exitCode !== null, 30_000, 'harness.json');
    expect(stderr).toBe('');
  }, 60_000);

  afterAll(async () => {
    if (harness && harness.exitCode === null) {
      const exited = new Promise((resolve) => harness!.once('exit', resolve));
      harness.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (harness.exitCode === null) harness.kill('SIGKILL');
    }
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    rmSync(etcDir, { recursive: true, force: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('node-apn with no address reaches the harness as api.push.apple.com (production) and api.sandbox.push.apple.com (development)', async () => {
    const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, CLIENT, join(dir, 'harness.json')], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') },
      timeout: 30_000,
    });
    const [production, development] = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(production.failed).toEqual([]);
    // Production has no apns-unique-id; the sandbox adds one: each name reached the environment it stands for.
    expect(production.sent).toEqual([{ device: 'ef'.repeat(32), 'apns-id': expect.any(String) }]);
    expect(development.failed).toEqual([]);
    expect(development.sent).toEqual([{ device: 'ef'.repeat(32), 'apns-id': expect.any(String), 'apns-unique-id': expect.any(String) }]);
    const recorded = JSON.parse(readFileSync(join(dir, 'harness.json'), 'utf8'));
    expect(recorded.apns.url).toBe('https://127.0.0.1:443');
  });
});
