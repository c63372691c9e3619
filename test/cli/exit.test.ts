/**
 * How a check run ends: once its reports are written it exits at once (main.ts, exitIfDone) rather than waiting for
 * the event loop to empty; nothing it printed may be lost to that, through a pipe whose reader is slow, and the exit
 * code is the report's. (Linux writes a stdout pipe synchronously; waiting for the write's callback also holds where
 * a platform does not.)
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { closedPort, startTcpServer, type TestServer } from '../helpers/servers.js';

let dir: string;
let servers: TestServer[];
let closed: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-exit-'));
  servers = await Promise.all([0, 1, 2, 3].map(() => startTcpServer({ onConnection: (socket) => socket.end() })));
  closed = await closedPort();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs the CLI and reads its stdout only after `readAfterMs`: the pipe (64 KiB) and this side's buffer fill, and the
 * CLI must wait for the reader. `exitedAfterMs`: when the CLI exited, from its start.
 */
function runWithSlowReader(args: string[], readAfterMs: number): Promise<{ code: number | null; stdout: string; stderr: string; exitedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let exitedAfterMs = NaN;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stdout.pause();
    const reader = setTimeout(() => child.stdout.resume(), readAfterMs);
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', () => (exitedAfterMs = performance.now() - started));
    child.on('close', (code) => {
      clearTimeout(reader);
      clearTimeout(killer);
      resolve({ code, stdout, stderr, exitedAfterMs });
    });
  });
}

/** A check of 8 open targets and a closed one in `format`, its stdout opened on `out` (a file or a device). */
async function checkInto(out: string, format: string): Promise<{ code: number | null; stderr: string }> {
  const file = path.join(dir, 'into.yaml');
  writeRuleFile(file, 'exit', 'Exit', [
    { id: 'open', host: 'exit.test', probe: ['a.exit.test', 'b.exit.test'], ports: servers.map((server) => server.port), check: 'tcp' },
    { id: 'closed', host: 'closed.exit.test', ports: [closed], check: 'tcp' },
  ]);
  const fd = openSync(out, 'w');
  const child = spawn(process.execPath, [BIN, file, '--resolve', '*.exit.test=127.0.0.1', '-f', format], { stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('close', resolve));
  return { code, stderr };
}

describe('the end of a check run', () => {
  it('writes the whole report through a slow pipe before exiting, with the report’s exit code', async () => {
    const hosts = Array.from({ length: 150 }, (_, i) => `h${i}.exit.test`);
    const file = path.join(dir, 'many.yaml');
    writeRuleFile(file, 'exit', 'Exit', [
      { id: 'open', host: 'exit.test', probe: hosts, ports: servers.map((server) => server.port), check: 'tcp' },
      { id: 'closed', host: 'closed.exit.test', ports: [closed], check: 'tcp' },
    ]);
    const run = await runWithSlowReader([file, '--resolve', '*.exit.test=127.0.0.1', '-c', '64', '-f', 'json'], 1500);
    expect(run.stderr).toBe('');
    // More than the pipe and this side's buffer hold: the CLI had to wait for the reader before it could exit.
    expect(run.stdout.length).toBeGreaterThan(256 * 1024);
    expect(run.exitedAfterMs).toBeGreaterThanOrEqual(1500);
    const report = JSON.parse(run.stdout) as { results: { rule: string; status: string }[]; exitCode: number };
    expect(report.results).toHaveLength(601);
    expect(report.results.filter((r) => r.status === 'pass')).toHaveLength(600);
    expect(report.results.find((r) => r.rule === 'closed')?.status).toBe('fail');
    expect(report.exitCode).toBe(1);
    expect(run.code).toBe(1);
  });

  // Written whole at once (a regular file), nothing is left for the streams to flush: exitIfDone exits without the empty
  // writes' round trip, a tick later, with the report's exit code.
  it('exits with the report’s exit code once a report to a regular file is written, every byte of it', async () => {
    for (const format of ['json', 'junit']) {
      const out = path.join(dir, `report.${format}`);
      const { code, stderr } = await checkInto(out, format);
      expect(stderr).toBe('');
      expect(code).toBe(1);
      const text = readFileSync(out, 'utf8');
      if (format === 'json') expect((JSON.parse(text) as { results: unknown[] }).results).toHaveLength(9);
      else expect(text.trimEnd().endsWith('</testsuites>')).toBe(true);
    }
  });

  // A device that is no terminal (`> /dev/null`) is written as a regular file is, in pieces (report-files.ts): all of
  // it taken, the exit code is the report's; `> /dev/full` is hardening.test.ts's.
  it('exits with the report’s exit code once a report to /dev/null is written', async () => {
    const { code, stderr } = await checkInto('/dev/null', 'json');
    expect(stderr).toBe('');
    expect(code).toBe(1);
  });
});
