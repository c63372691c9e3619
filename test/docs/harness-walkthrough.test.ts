/**
 * docs/harness.md's "The whole loop" runs as written: each shell block is taken from the page and run by bash, with
 * `pushcheck` on the PATH as this checkout's CLI, /tmp/h a folder of the test's and port 8443 a free one. The
 * blocks' own `kill` ends what they started; a block that hangs is ended with its process group.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasTool } from '../helpers/tools.js';
import { freePort } from '../helpers/free-port.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const page = readFileSync(join(ROOT, 'docs/harness.md'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'pushcheck-walkthrough-'));

/** The first ```sh block after the heading that starts with `heading`. */
function block(heading: string): string {
  const at = page.indexOf(`\n### ${heading}`);
  expect(at, heading).toBeGreaterThan(0);
  return page.slice(at).split('```sh\n')[1]!.split('```')[0]!;
}


/** Runs a block under bash -e from the checkout (where docs/examples/ is): its exit code, stdout and stderr. */
async function run(script: string, name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'pushcheck'), `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'bin/pushcheck.js')}" "$@"\n`);
  chmodSync(join(bin, 'pushcheck'), 0o755);
  const dir = join(work, name);
  const text = script.replaceAll('/tmp/h', dir).replaceAll('8443', String(await freePort()));
  const child = spawn('bash', ['-e', '-c', `${text}\nwait`], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
  const closed = new Promise((resolve) => child.on('close', resolve));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(timer);
  // Anything of the block still running (a line that failed before its kill) goes with the group.
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is gone: the block ended what it started
  }
  await closed;
  return { code, stdout, stderr };
}

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The blocks call curl. CI installs it (.ci/run), and there a missing one fails the tests; elsewhere they skip, saying why. */
function hasCurl(): boolean {
  return hasTool('curl', ['--version'], 'the docs/harness.md walkthrough: no curl (apt-get install curl)');
}

describe.runIf(hasCurl())('docs/harness.md, the whole loop', () => {
  it('with the harness’s own MDM server: the command is pushed, delivered and acknowledged with the device’s answer', async () => {
    const r = await run(block("With the harness's own MDM server"), 'own');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const commands = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { commands: Array<{ state: string; history: Array<{ event: string }>; response: { QueryResponses: Record<string, unknown> } }> };
    expect(commands.commands).toHaveLength(1);
    const [command] = commands.commands;
    expect(command!.state).toBe('acknowledged');
    expect(command!.history.map((e) => e.event)).toEqual(['queued', 'pushed', 'push-accepted', 'delivered', 'acknowledged']);
    expect(command!.response.QueryResponses.UDID).toMatch(/^IOS-/);
  }, 90_000);

  it('with an MDM server of one’s own (--mdm-url, docs/examples/mdm-server.mjs): it pushes, the device fetches and answers', async () => {
    const r = await run(block('With an MDM server of your own'), 'mdm-url');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n[') + 1)) as Array<{ status: string; answer: { QueryResponses: Record<string, unknown> } }>;
    expect(listed).toHaveLength(1);
    expect(listed[0]!.status).toBe('Acknowledged');
    expect(Object.keys(listed[0]!.answer.QueryResponses).sort()).toEqual(['DeviceName', 'OSVersion']);
  }, 90_000);
});
