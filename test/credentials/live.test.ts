/**
 * `pushcheck cert --live` against the harness's mock APNs (real HTTP/2 over TLS on loopback, started in this
 * process), with credentials the test makes: certificates signed by the harness CA (which the mock trusts for
 * client certificates) or by an unknown CA, and token keys registered with the mock or not. `pushcheck cert` runs in
 * process (runInProcess); test/cli/cert.test.ts shows its exit codes from the built CLI.
 */
import { createHook } from 'node:async_hooks';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushOnce, type LiveAuth } from '../../src/credentials/live.js';
import { startHarness, type Harness } from '../../src/harness/index.js';
import { QuickController } from '../../src/probes/phases.js';
import type { Report } from '../../src/types.js';
import { runInProcess } from '../helpers/cli.js';
import { createIssuer, issuerFromPem, pushCertificate, tokenKeyPem } from '../helpers/push-credentials.js';
import { startTcpServer } from '../helpers/servers.js';

const APP_TOPIC = 'com.example.livecheck';
const MDM_TOPIC = 'com.apple.mgmt.External.7c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5';

let h: Harness;
let dir: string;
let url: string;

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function live(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const run = await runInProcess(['cert', '--live', '--apns-url', url, '--ca', h.caFile, '--format', 'json', ...args]);
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
}

beforeAll(async () => {
  h = await startHarness();
  dir = mkdtempSync(join(tmpdir(), 'pushcheck-live-'));
  url = `https://127.0.0.1:${h.endpoints.apns.port}`;
});
afterAll(async () => {
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('--live with a push certificate', () => {
  it('passes a certificate APNs trusts (BadDeviceToken for the all-zero token), fails an unknown one with BadCertificate', async () => {
    const harnessCa = await issuerFromPem(h.ca.cert, h.ca.key);
    const good = await pushCertificate({ issuer: harnessCa, topic: APP_TOPIC, environment: 'both' });
    const mdm = await pushCertificate({ issuer: harnessCa, topic: MDM_TOPIC, environment: 'production', commonName: 'APSP:7c1d2e3f' });
    const stranger = await pushCertificate({ issuer: await createIssuer('Someone Else CA', 'Someone Else'), topic: APP_TOPIC });
    const { code, report } = await live([write('good.pem', good.cert + good.key), write('mdm.pem', mdm.cert + mdm.key), write('stranger.pem', stranger.cert + stranger.key)]);
    expect(code).toBe(1);
    const [ok, mdmResult, bad] = report.results;
    expect(ok!.status).toBe('pass');
    expect(ok!.credential?.live).toEqual({ url, topic: APP_TOPIC, status: 400, reason: 'BadDeviceToken' });
    expect(ok!.note).toContain('accepted the credential');
    expect(mdmResult!.status).toBe('pass');
    expect(mdmResult!.credential?.live?.reason).toBe('BadDeviceToken');
    expect(bad!.status).toBe('fail');
    expect(bad!.error?.code).toBe('apns_rejected');
    expect(bad!.error?.message).toContain('403 BadCertificate');
    expect(bad!.error?.hint).toMatch(/renew/);
    // Nothing was delivered: the all-zero token belongs to no device.
    expect(h.apns.stats.accepted).toBe(0);
  });

  it('fails TopicDisallowed when --topic is not the certificate’s, and fails an untrusted APNs endpoint as TLS', async () => {
    const harnessCa = await issuerFromPem(h.ca.cert, h.ca.key);
    const good = await pushCertificate({ issuer: harnessCa, topic: APP_TOPIC });
    const file = write('topic.pem', good.cert + good.key);
    const { report } = await live([file, '--topic', 'com.example.other']);
    expect(report.results[0]!.error?.message).toContain('TopicDisallowed');
    const untrusted = await runInProcess(['cert', '--live', '--apns-url', url, '--format', 'json', file]);
    expect(untrusted.code).toBe(1);
    const result = (JSON.parse(untrusted.stdout) as Report).results[0]!;
    expect(result.error?.code).toBe('tls_untrusted');
  });

  it('a certificate without its key cannot be tried live: one line, exit 2', async () => {
    const good = await pushCertificate({ issuer: await createIssuer(), topic: APP_TOPIC });
    const file = write('nokey.pem', good.cert);
    const run = await runInProcess(['cert', '--live', '--apns-url', url, file]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`pushcheck: ${file}: --live needs the certificate's private key: in the file, or give --key FILE`);
  });
});

describe('--live with a token key', () => {
  it('passes a key APNs knows, fails an unknown key id with InvalidProviderToken and a topic it may not use with TopicDisallowed', async () => {
    const known = tokenKeyPem();
    h.apns.addProviderKey({ keyId: 'LIVEKEY001', teamId: 'LIVETEAM01', publicKey: createPublicKey(known), topics: [APP_TOPIC] });
    const file = write('AuthKey_LIVEKEY001.p8', known);
    const ok = await live([file, '--team-id', 'LIVETEAM01', '--topic', APP_TOPIC]);
    expect(ok.code).toBe(0);
    expect(ok.report.results[0]!.credential).toMatchObject({ keyId: 'LIVEKEY001', live: { reason: 'BadDeviceToken' } });
    // A second key: the mock, like APNs, refuses a key's new token within 20 minutes of the last (TooManyProviderTokenUpdates).
    const restricted = tokenKeyPem();
    h.apns.addProviderKey({ keyId: 'LIVEKEY003', teamId: 'LIVETEAM01', publicKey: createPublicKey(restricted), topics: [APP_TOPIC] });
    const disallowed = await live([write('AuthKey_LIVEKEY003.p8', restricted), '--team-id', 'LIVETEAM01', '--topic', 'com.example.notmine']);
    expect(disallowed.report.results[0]!.error?.message).toContain('TopicDisallowed');
    const unknown = await live([write('AuthKey_UNKNOWN001.p8', tokenKeyPem()), '--team-id', 'LIVETEAM01', '--topic', APP_TOPIC]);
    expect(unknown.code).toBe(1);
    expect(unknown.report.results[0]!.error?.message).toContain('403 InvalidProviderToken');
    expect(unknown.report.results[0]!.error?.hint).toContain('--key-id');
  });

  it('needs --topic: a token key carries none', async () => {
    const run = await runInProcess(['cert', '--live', '--apns-url', url, '--team-id', 'LIVETEAM01', write('AuthKey_LIVEKEY002.p8', tokenKeyPem())]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('give --topic');
  });
});

describe('a live push that gets no answer', () => {
  it("ends at its timeout or with the run's signal, and leaves no listener on that signal and no timer behind", async () => {
    // Accepts, never answers the ClientHello; calls `onHello` (once) when one comes: the push has connected by then.
    let onHello: (() => void) | undefined;
    const silent = await startTcpServer({
      onConnection: (socket) =>
        socket.once('data', () => {
          const call = onHello;
          onHello = undefined;
          call?.();
        }),
    });
    const auth: LiveAuth = { kind: 'token', key: createPrivateKey(tokenKeyPem()), keyId: 'SILENT0001', teamId: 'SILENTTEAM' };
    const push = (timeoutMs: number, signal: AbortSignal) =>
      pushOnce(auth, 'production', { url: `https://127.0.0.1:${silent.port}`, topic: APP_TOPIC, ca: [], timeoutMs, signal, now: () => new Date() });
    // Timers made while a push runs and not yet cleared or fired (an unref'd one too, which keeps no process alive).
    const timers = new Set<number>();
    const hook = createHook({
      init: (id, type) => {
        if (type === 'Timeout') timers.add(id);
      },
      destroy: (id) => timers.delete(id),
    });
    try {
      // The run's signal is a QuickController's (run.ts); `pushcheck cert --live` hands a plain one.
      for (const run of [new QuickController(), new AbortController()]) {
        hook.enable();
        const timedOut = await push(150, run.signal);
        expect(timedOut.failure).toMatchObject({ code: 'tls_handshake_failed', message: expect.stringContaining('no answer within 150 ms') });
        // Ctrl-C in the handshake: at the ClientHello, not at a fixed time, which a busy machine may reach before the connect.
        onHello = () => run.abort(new Error('interrupted'));
        const interrupted = push(60_000, run.signal);
        expect((await interrupted).failure?.code).toBe('tls_handshake_failed');
        expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
        // destroy() of a cleared timer comes in a later turn of the loop.
        for (let i = 0; i < 50 && timers.size > 0; i += 1) await new Promise((resolve) => setImmediate(resolve));
        hook.disable();
        expect(timers.size).toBe(0);
      }
      // A push after Ctrl-C (the next credential's): no connection at all, where it had no bound.
      const spent = new QuickController();
      spent.abort(new Error('interrupted'));
      const accepted = silent.accepted;
      expect((await push(60_000, spent.signal)).failure?.code).toBe('tcp_timeout');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(silent.accepted).toBe(accepted);
    } finally {
      hook.disable();
      await silent.close();
    }
  });
});
