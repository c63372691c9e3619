/**
 * `pushcheck harness --state-dir DIR` as an outside client uses it: wait for harness.json, read the
 * credentials it names, push with them, and find the file gone when the harness stops.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { createPrivateKey, sign, X509Certificate } from 'node:crypto';
import { Agent, request } from 'undici';
import apn from '@parse/node-apn';
import { BIN } from '../helpers/cli.js';
import { waitFor } from './helpers.js';
import { freePort } from '../helpers/free-port.js';

let dir: string;
let child: ChildProcess;
let adminPort: number;
let state: any;
let stderr = '';

/** A port free a moment ago (the harness binds it next; a clash fails the test loudly, it does not hang). */

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-state-'));
  adminPort = await freePort();
  child = spawn(process.execPath, [BIN, 'harness', '--state-dir', dir, '--ios', '2', '--android', '1', '--admin-port', String(adminPort), '--apns-max-streams', '64'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout!.resume();
  await waitFor(() => existsSync(join(dir, 'harness.json')) || child.exitCode !== null, 20_000, 'harness.json');
  state = JSON.parse(readFileSync(join(dir, 'harness.json'), 'utf8'));
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const leaves = (value: unknown, prefix = ''): string[] =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k))
    : [prefix];

describe('pushcheck harness --state-dir', () => {
  it('harness.json has the documented keys, absolute paths to files that exist, and the devices with their tokens', () => {
    expect(stderr).toBe('');
    expect(leaves(state).sort()).toEqual(
      [
        'ca', 'apns.url', 'provider.certificate', 'provider.key', 'provider.p12', 'provider.topic', 'mdmPush.certificate', 'mdmPush.key',
        'mdmPush.topic', 'token.key', 'token.keyId', 'token.teamId', 'token.topic', 'courier.url', 'mdm.serverUrl', 'mdm.checkInUrl',
        'fcm.url', 'fcm.projectId', 'fcm.accessToken', 'fcm.serviceAccount', 'fcm.tokenUrl', 'admin.url', 'devices',
      ].sort(),
    );
    for (const file of [state.ca, state.provider.certificate, state.provider.key, state.provider.p12, state.mdmPush.certificate, state.mdmPush.key, state.token.key]) {
      expect(isAbsolute(file)).toBe(true);
      expect(statSync(file).size).toBeGreaterThan(0);
    }
    for (const secret of [state.provider.key, state.provider.p12, state.mdmPush.key, state.token.key, state.fcm.serviceAccount]) {
      expect(statSync(secret).mode & 0o077).toBe(0);
    }
    expect(state.admin.url).toBe(`http://127.0.0.1:${adminPort}`);
    expect(state.mdmPush.topic).toMatch(/^com\.apple\.mgmt\.External\.[0-9a-f-]{36}$/);
    expect(state.devices.map((d: any) => d.platform)).toEqual(['ios', 'ios', 'android']);
    for (const d of state.devices.slice(0, 2)) expect(d.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the push certificates look like Apple’s: UID=<topic>, CN=APSP:<uuid>, a year, both environments and the topic', () => {
    for (const { certificate, topic } of [state.mdmPush, state.provider]) {
      const cert = new X509Certificate(readFileSync(certificate));
      const uid = /UID=([^\n]+)/.exec(cert.subject)?.[1];
      const cn = /CN=([^\n]+)/.exec(cert.subject)?.[1] ?? '';
      expect(uid).toBe(topic);
      expect(cn).toMatch(/^APSP:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(cn.length).toBeLessThanOrEqual(64);
      const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000;
      expect(days).toBeGreaterThanOrEqual(365);
      expect(days).toBeLessThan(367);
      expect(cert.checkIssued(new X509Certificate(readFileSync(state.ca)))).toBe(true);
      const der = cert.raw.toString('hex');
      // 1.2.840.113635.100.6.3.{1,2,6} as DER object identifiers.
      for (const arc of ['01', '02', '06']) expect(der).toContain(`060a2a864886f7636406030${arc.slice(1)}`);
      expect(cert.raw.includes(Buffer.from(topic))).toBe(true);
    }
  });

  it('an outside client pushes with the files it names: .p12, PEM certificate, .p8 token; the MDM certificate to a simulated device', async () => {
    const base = { address: '127.0.0.1', port: Number(new URL(state.apns.url).port), ca: [readFileSync(state.ca)], production: false };
    const token = 'ab'.repeat(32);
    const registered = await fetch(`${state.admin.url}/apns/tokens`, { method: 'POST', body: JSON.stringify({ token, topic: state.provider.topic }) });
    expect(registered.status).toBe(201);
    const credentials = [
      { pfx: readFileSync(state.provider.p12) },
      { cert: readFileSync(state.provider.certificate), key: readFileSync(state.provider.key) },
      { token: { key: readFileSync(state.token.key), keyId: state.token.keyId, teamId: state.token.teamId } },
    ];
    for (const auth of credentials) {
      const provider = new apn.Provider({ ...base, ...auth });
      const n = new apn.Notification({ alert: 'from outside' });
      n.topic = state.provider.topic;
      const result = await provider.send(n, token);
      await provider.shutdown();
      expect(result.failed).toEqual([]);
      expect(result.sent).toHaveLength(1);
    }
    const mdm = new apn.Provider({ ...base, cert: readFileSync(state.mdmPush.certificate), key: readFileSync(state.mdmPush.key) });
    const wake = new apn.Notification({ mdm: 'push-magic' });
    wake.topic = state.mdmPush.topic;
    wake.pushType = 'mdm';
    const result = await mdm.send(wake, state.devices[0].token);
    await mdm.shutdown();
    expect(result.failed).toEqual([]);
  });

  it('an FCM sender with only the service account key file gets an access token at its token_uri and sends with it', async () => {
    const key = JSON.parse(readFileSync(state.fcm.serviceAccount, 'utf8'));
    expect(key).toMatchObject({ type: 'service_account', project_id: state.fcm.projectId, token_uri: state.fcm.tokenUrl });
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const signed = `${b64({ alg: 'RS256', typ: 'JWT', kid: key.private_key_id })}.${b64({
      iss: key.client_email,
      scope: 'https://www.googleapis.com/auth/firebase.messaging',
      aud: key.token_uri,
      iat: now,
      exp: now + 3600,
    })}`;
    const assertion = `${signed}.${sign('sha256', Buffer.from(signed), createPrivateKey(key.private_key)).toString('base64url')}`;
    const dispatcher = new Agent({ connect: { ca: readFileSync(state.ca), servername: 'oauth2.googleapis.com' } });
    try {
      const granted = await request(key.token_uri, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
      });
      const { access_token: accessToken } = (await granted.body.json()) as { access_token: string };
      expect(granted.statusCode).toBe(200);
      const sent = await request(`${state.fcm.url}/v1/projects/${state.fcm.projectId}/messages:send`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
        body: JSON.stringify({ message: { token: state.devices[2].token, data: { hello: 'from a service account' } } }),
      });
      expect(sent.statusCode).toBe(200);
      expect(((await sent.body.json()) as { name: string }).name).toMatch(new RegExp(`^projects/${state.fcm.projectId}/messages/`));
    } finally {
      await dispatcher.close();
    }
  });

  it('--apns-max-streams sets the SETTINGS_MAX_CONCURRENT_STREAMS the mock APNs advertises', async () => {
    const session = http2.connect(state.apns.url, { ca: readFileSync(state.ca), servername: 'api.push.apple.com' });
    session.on('error', () => undefined);
    try {
      const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
      expect(settings.maxConcurrentStreams).toBe(64);
    } finally {
      session.destroy();
    }
  });

  it('removes harness.json when it stops (the credentials stay)', async () => {
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(existsSync(join(dir, 'harness.json'))).toBe(false);
    expect(existsSync(state.provider.p12)).toBe(true);
  });
});
