/**
 * `pushcheck simulate` stopped by Ctrl-C or SIGTERM (a CI job timeout), over real sockets and in process: it
 * prints what it simulated so far, says it was interrupted, exits 130 or 143, and leaves no temporary CA behind.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-simsig-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Stopped {
  code: number | null;
  stdout: string;
  stderr: string;
  afterSignalMs: number;
  tmp: string;
}

/** Starts a simulation that would run for a minute or more, sends `signal` after `afterMs`, and waits for the end. */
function stopAfter(args: string[], signal: 'SIGINT' | 'SIGTERM', afterMs: number): Promise<Stopped> {
  const tmp = mkdtempSync(path.join(dir, 'tmp-'));
  const child = spawn(process.execPath, [BIN, 'simulate', ...args], { env: { ...process.env, TMPDIR: tmp, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let sentAt = 0;
  const sender = setTimeout(() => {
    sentAt = performance.now();
    child.kill(signal);
  }, afterMs);
  const killer = setTimeout(() => child.kill('SIGKILL'), afterMs + 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(sender);
      clearTimeout(killer);
      resolve({ code, stdout, stderr, afterSignalMs: performance.now() - sentAt, tmp });
    }),
  );
}

describe('pushcheck simulate, stopped by a signal', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('over real sockets: %s prints what it simulated, exits %i, removes its temporary CA', async (signal, exitCode) => {
    // 1 simulated hour at speed 30 is 2 wall minutes: the signal comes long before the end.
    const run = await stopAfter(['--ios', '5', '--android', '5', '--hours', '1', '--speed', '30', '--format', 'json'], signal, 4000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(exitCode);
    expect(run.afterSignalMs).toBeLessThan(10_000);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ interrupted: true, exitCode });
    expect(report.summary.devices).toBe(10);
    expect(report.simulatedHours).toBeLessThan(1);
    expect(readdirSync(run.tmp)).toEqual([]);
  }, 60_000);

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('in process (--speed max): %s stops within a second or two, prints the table, exits %i', async (signal, exitCode) => {
    // A simulated year of 2,000 devices takes a minute or more of CPU.
    const run = await stopAfter(['--ios', '1000', '--android', '1000', '--hours', '8760'], signal, 3000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(exitCode);
    expect(run.afterSignalMs).toBeLessThan(8000);
    expect(run.stdout).toMatch(new RegExp(`^INTERRUPTED \\(${signal}\\)`, 'm'));
  }, 60_000);
});
