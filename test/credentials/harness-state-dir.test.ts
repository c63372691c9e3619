/**
 * End to end, as an MDM developer would use both commands: `pushcheck harness --state-dir DIR` writes its
 * credentials, and `pushcheck cert --live` pushes with them to its mock APNs. Its provider certificate (PEM and
 * .p12), its MDM push certificate and its .p8 key pass; a certificate it does not know fails with BadCertificate.
 * The harness is the built CLI in a child process; `pushcheck cert --live` runs in process (runInProcess).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/types.js';
import { BIN, runInProcess } from '../helpers/cli.js';
import { createIssuer, pushCertificate } from '../helpers/push-credentials.js';

interface HarnessState {
  ca: string;
  apns: { url: string };
  provider: { certificate: string; key: string; p12: string; topic: string };
  mdmPush: { certificate: string; key: string; topic: string };
  token: { key: string; keyId: string; teamId: string; topic: string };
}

let dir: string;
let child: ChildProcess;
let state: HarnessState;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-cert-harness-'));
  child = spawn(process.execPath, [BIN, 'harness', '--state-dir', dir], { stdio: ['ignore', 'ignore', 'ignore'] });
  // harness.json is written last, once every server listens; bounded wait.
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(dir, 'harness.json'))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('pushcheck harness --state-dir wrote no harness.json');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  state = JSON.parse(readFileSync(join(dir, 'harness.json'), 'utf8')) as HarnessState;
}, 40_000);

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

async function live(args: string[]): Promise<Report['results'][number]> {
  const run = await runInProcess(['cert', '--live', '--apns-url', state.apns.url, '--ca', state.ca, '--format', 'json', ...args]);
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as Report;
  expect(report.results).toHaveLength(1);
  return report.results[0]!;
}

describe('pushcheck cert --live against pushcheck harness --state-dir', () => {
  it('its provider certificate passes, as PEM with its key and as .p12', async () => {
    const pem = await live([state.provider.certificate, '--key', state.provider.key]);
    expect(pem.status).toBe('pass');
    expect(pem.credential).toMatchObject({ topic: state.provider.topic, keyMatches: true, live: { reason: 'BadDeviceToken' } });
    const p12 = await live([state.provider.p12]);
    expect(p12.status).toBe('pass');
    expect(p12.credential?.format).toBe('pkcs12');
  });

  it('its MDM push certificate passes, and is recognised as one', async () => {
    const mdm = await live([state.mdmPush.certificate, '--key', state.mdmPush.key]);
    expect(mdm.status).toBe('pass');
    expect(mdm.credential).toMatchObject({ mdm: true, topic: state.mdmPush.topic, live: { reason: 'BadDeviceToken' } });
  });

  it('its .p8 key passes with its ids and topic', async () => {
    const token = await live([state.token.key, '--key-id', state.token.keyId, '--team-id', state.token.teamId, '--topic', state.token.topic]);
    expect(token.error).toBeUndefined();
    expect(token.status).toBe('pass');
    expect(token.credential).toMatchObject({ kind: 'token-key', keyType: 'EC P-256', live: { reason: 'BadDeviceToken' } });
  });

  it('a certificate it does not know fails with BadCertificate', async () => {
    const stranger = await pushCertificate({ issuer: await createIssuer('Not The Harness CA', 'Nobody'), topic: state.provider.topic });
    const file = join(dir, 'stranger.pem');
    writeFileSync(file, stranger.cert + stranger.key);
    const result = await live([file]);
    expect(result.status).toBe('fail');
    expect(result.error?.code).toBe('apns_rejected');
    expect(result.error?.message).toContain('403 BadCertificate');
  });
});
