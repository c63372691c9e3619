/**
 * `pushcheck simulate` stopped by Ctrl-C or SIGTERM (a CI job timeout), over real sockets and in process: it
 * prints what it simulated so far, says it was interrupted, exits 130 or 143, and leaves no temporary CA behind.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
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

/** CPU time (user + system) a process has used, from /proc; undefined where there is none. */
function cpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in clock ticks.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS_PER_S = 100;

/**
 * Starts a simulation that would run for a minute or more, sends `signal` once it is under way, and waits for the
 * end. Under way: `afterMs` after the start and `started()` true. On a machine whose cores are busy with other
 * work the start-up alone can take longer than `afterMs`, and a signal that comes before pushcheck listens for it
 * kills the process instead of stopping the simulation.
 */
function stopAfter(args: string[], signal: 'SIGINT' | 'SIGTERM', afterMs: number, started: (pid: number, tmp: string) => boolean): Promise<Stopped> {
  const tmp = mkdtempSync(path.join(dir, 'tmp-'));
  const child = spawn(process.execPath, [BIN, 'simulate', ...args], { env: { ...process.env, TMPDIR: tmp, CI: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let sentAt = 0;
  let killer: NodeJS.Timeout | undefined;
  const spawnedAt = performance.now();
  const send = (): void => {
    sentAt = performance.now();
    child.kill(signal);
    killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  };
  // Polled every 50 ms; after 30 s it is sent anyway, and the test says what came of it.
  const sender = setInterval(() => {
    const waitedMs = performance.now() - spawnedAt;
    if (waitedMs >= 30_000 || (waitedMs >= afterMs && started(child.pid!, tmp))) {
      clearInterval(sender);
      send();
    }
  }, 50);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearInterval(sender);
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
    // Under way once its temporary CA is there (made after pushcheck listens for signals).
    const caMade = (_pid: number, tmp: string): boolean => readdirSync(tmp).length > 0;
    const run = await stopAfter(['--ios', '5', '--android', '5', '--hours', '1', '--speed', '30', '--format', 'json'], signal, 1000, caMade);
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
    // Under way once it has had 1.5 s of CPU (its start-up takes a fraction of that): 1.5 s of wall time on a quiet
    // machine, where the simulation has a core to itself.
    const cpuUsed = (pid: number): boolean => (cpuMs(pid) ?? Infinity) >= 1500;
    const run = await stopAfter(['--ios', '1000', '--android', '1000', '--hours', '8760'], signal, 0, cpuUsed);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(exitCode);
    expect(run.afterSignalMs).toBeLessThan(8000);
    expect(run.stdout).toMatch(new RegExp(`^INTERRUPTED \\(${signal}\\)`, 'm'));
  }, 60_000);
});
