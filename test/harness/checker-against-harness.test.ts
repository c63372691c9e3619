/**
 * pushcheck's own TCP and TLS checks against the harness's endpoints, pinned with --resolve and trusting
 * the harness CA with --ca: every result must pass. Runs the built CLI as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { runCli } from '../helpers/cli.js';

let h: Harness;
let dir: string;

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-checker-'));
});
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('checker against the harness', () => {
  it('tls and tcp checks of the courier, APNs and MDM endpoints all pass', async () => {
    const e = h.endpoints;
    const rule = (id: string, host: string, port: number, check: 'tls' | 'tcp'): string =>
      [
        `  - id: ${id}`,
        `    host: ${host}`,
        `    ports: [${port}]`,
        `    check: ${check}`,
        `    purpose: harness ${id}`,
        `    impact: the harness is not reachable`,
        `    severity: critical`,
      ].join('\n');
    const file = join(dir, 'harness.yaml');
    writeFileSync(
      file,
      [
        'id: harness',
        'title: pushcheck harness endpoints',
        'rules:',
        rule('courier-5223', 'courier.push.apple.com', e.courier5223.port, 'tls'),
        rule('courier-443', 'courier.push.apple.com', e.courier443.port, 'tls'),
        rule('courier-tcp', 'courier.push.apple.com', e.courier5223.port, 'tcp'),
        rule('apns', 'api.push.apple.com', e.apns.port, 'tls'),
        rule('mdm', 'mdm.pushcheck.test', e.mdm.port, 'tls'),
        rule('fcm', 'fcm.googleapis.com', e.fcm.port, 'tls'),
        '',
      ].join('\n'),
    );
    const r = await runCli([
      file,
      '--resolve',
      'courier.push.apple.com=127.0.0.1',
      '--resolve',
      'api.push.apple.com=127.0.0.1',
      '--resolve',
      'mdm.pushcheck.test=127.0.0.1',
      '--resolve',
      'fcm.googleapis.com=127.0.0.1',
      '--ca',
      h.caFile,
      '--format',
      'json',
    ]);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(report.results).toHaveLength(6);
    for (const result of report.results) expect({ rule: result.rule, status: result.status, error: result.error }).toEqual({ rule: result.rule, status: 'pass', error: undefined });
    expect(r.code).toBe(0);
  }, 60_000);
});
