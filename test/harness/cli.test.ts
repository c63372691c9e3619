/**
 * `pushcheck simulate` and `pushcheck harness` as a user runs them: the built CLI in a child process for an exit
 * code and a server that stops on SIGTERM; the same program in process (runInProcess) for what it decides and prints.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN, runCli, runInProcess } from '../helpers/cli.js';

describe('pushcheck simulate', () => {
  it('exit 0 and a JSON summary with the documented keys when every action is final', async () => {
    const r = await runCli(['simulate', '--ios', '20', '--android', '20', '--no-gcm', '0.5', '--hours', '4', '--actions', '30', '--format', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    for (const key of ['devices', 'actionsSent', 'actionsDelivered', 'actionsAcknowledged', 'actionsFailed', 'actionsPending', 'actionsLost', 'latency']) {
      expect(report.summary).toHaveProperty(key);
    }
    expect(Object.keys(report.summary.latency)).toEqual(['apns', 'fcm', 'heartbeat']);
    expect(report.summary.devices).toBe(40);
    expect(report.summary.actionsSent).toBe(30);
    expect(report.summary.actionsAcknowledged).toBe(30);
    expect(report.summary.actionsLost).toBe(0);
    expect(report.summary.androidWithoutGcm).toBe(10);
  });

  it('--without-play-services is --no-gcm under the name of what it is (in process)', async () => {
    const r = await runInProcess(['simulate', '--android', '8', '--without-play-services', '0.25', '--hours', '1', '--actions', '0', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).summary.androidWithoutGcm).toBe(2);
  });

  it('exit 1 with the pending reason in the table when a wrong topic keeps iOS actions from landing (in process)', async () => {
    const r = await runInProcess(['simulate', '--ios', '5', '--hours', '2', '--actions', '5', '--fault', 'wrong-topic']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('push rejected: 400 TopicDisallowed');
    expect(r.stdout).toMatch(/│ pending\s+│ 5\s+│/);
    expect(r.stdout).toContain('5 action(s) still pending.');
  });

  it.each([
    [['simulate', '--ios', '5', '--fault', 'apns-down@4h-2h'], /^pushcheck: --fault apns-down@4h-2h: window end 2h is not after its start 4h\n$/],
    [['simulate', '--ios', '5', '--no-gcm', '2'], /^pushcheck: --no-gcm 2: expected a fraction between 0 and 1\n$/],
    [['simulate', '--android', '5', '--without-play-services', 'half'], /^pushcheck: --without-play-services half: expected a fraction between 0 and 1\n$/],
    [['harness', '--android', '5', '--no-gcm', '1.5'], /^pushcheck: --no-gcm 1.5: expected a fraction between 0 and 1\n$/],
    [['simulate', '--ios', '5', '--speed', 'fast'], /^pushcheck: --speed fast: expected a number > 0 or "max"\n$/],
    [['simulate'], /^pushcheck: no devices: give --ios N and\/or --android N\n$/],
    [['simulate', '--ios', '3000', '--speed', '100'], /^pushcheck: --speed 100 runs every device over real sockets: at most 2000 devices/],
  ])('bad options exit 2 with one line: %j (in process)', async (args, message) => {
    const r = await runInProcess(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

describe('pushcheck harness', () => {
  it('prints its endpoints as JSON, serves until SIGTERM, then shuts down cleanly', async () => {
    const child = spawn(process.execPath, [BIN, 'harness', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    const line = await new Promise<string>((resolve, reject) => {
      // Its start makes certificates (RSA keys): seconds on a quiet machine, more beside busy loops.
      const timer = setTimeout(() => reject(new Error('no endpoints printed')), 60_000);
      child.stdout.on('data', () => {
        if (out.includes('\n')) {
          clearTimeout(timer);
          resolve(out.split('\n')[0]!);
        }
      });
    });
    const info = JSON.parse(line);
    for (const name of ['apns', 'courier5223', 'courier443', 'mdm', 'fcm', 'admin']) {
      expect(info.endpoints[name].host).toBe('127.0.0.1');
      expect(info.endpoints[name].port).toBeGreaterThan(0);
    }
    expect(readFileSync(info.caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
    const root = (await (await fetch(`http://127.0.0.1:${info.endpoints.admin.port}/`)).json()) as { mdmTopic: string };
    expect(root.mdmTopic).toBe(info.mdmTopic);
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  }, 90_000);
});
