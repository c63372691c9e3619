/**
 * `pushcheck harness --state-dir DIR`: everything an outside client needs, as files, and `harness.json`
 * saying where each is. harness.json is written last, when every server listens, and atomically (a
 * script that waits for it never reads half of it); it is removed when the harness stops, so a file that
 * exists describes a harness that runs. Private keys are written readable by the owner only.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Harness } from './harness.js';
import type { HostPort } from './endpoints.js';
import { toPkcs12 } from './pkcs12.js';
import { serviceAccountKeyFile } from './services/google-oauth.js';

/** The shape of harness.json; every path is absolute. */
export interface HarnessState {
  /** The CA that signs the mock servers' certificates (and the harness's client certificates). */
  ca: string;
  apns: { url: string };
  /** A provider client certificate for an app topic: PEM, key, and both as a .p12 (empty password). */
  provider: { certificate: string; key: string; p12: string; topic: string };
  /** The MDM push certificate, topic com.apple.mgmt.External.<uuid>. */
  mdmPush: { certificate: string; key: string; topic: string };
  /** A .p8 token signing key, its ids, and the app topic it is given out for. */
  token: { key: string; keyId: string; teamId: string; topic: string };
  courier: { url: string };
  mdm: { serverUrl: string; checkInUrl: string };
  /**
   * FCM HTTP v1 (`POST <url>/v1/projects/<projectId>/messages:send` with `Authorization: Bearer <accessToken>`), or
   * with an access token got at `tokenUrl` by a JWT-bearer grant signed with the `serviceAccount` key file.
   */
  fcm: { url: string; projectId: string; accessToken: string; serviceAccount: string; tokenUrl: string };
  admin: { url: string };
  /** The simulated devices: iOS with their APNs token, Android with their FCM token (null without Google Play services). */
  devices: Array<{ udid: string; platform: 'ios' | 'android'; token: string | null }>;
}

export const STATE_FILE = 'harness.json';

const origin = (scheme: string, { host, port }: HostPort): string => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;

/**
 * Makes `dir` if missing and removes a harness.json left by a harness that did not stop cleanly (a script
 * waiting for the file must not read a stale one); returns the absolute path.
 */
export function prepareStateDir(dir: string): string {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  rmSync(join(root, STATE_FILE), { force: true });
  return root;
}

/** Writes the credentials and harness.json into `dir` (made if missing); returns harness.json's path and content. */
export function writeStateDir(dir: string, h: Harness): { file: string; state: HarnessState } {
  const root = prepareStateDir(dir);
  const path = (name: string): string => join(root, name);
  const write = (name: string, content: string | Buffer, secret = false): string => {
    writeFileSync(path(name), content, { mode: secret ? 0o600 : 0o644 });
    return path(name);
  };
  const { provider, mdmPush, token } = h.credentials;
  const e = h.endpoints;
  const state: HarnessState = {
    ca: write('ca.pem', h.caPem),
    apns: { url: origin('https', e.apns) },
    provider: {
      certificate: write('provider.pem', provider.certificate.cert),
      key: write('provider.key', provider.certificate.key, true),
      p12: write('provider.p12', toPkcs12({ ...provider.certificate, password: '' }), true),
      topic: provider.topic,
    },
    mdmPush: {
      certificate: write('mdm-push.pem', mdmPush.certificate.cert),
      key: write('mdm-push.key', mdmPush.certificate.key, true),
      topic: mdmPush.topic,
    },
    token: { key: write(`AuthKey_${token.keyId}.p8`, token.privateKeyPem, true), keyId: token.keyId, teamId: token.teamId, topic: token.topic },
    courier: { url: origin('tls', e.courier5223) },
    mdm: { serverUrl: `${origin('https', e.mdm)}/mdm/connect`, checkInUrl: `${origin('https', e.mdm)}/mdm/checkin` },
    fcm: {
      url: origin('https', e.fcm),
      projectId: h.fcmProject,
      accessToken: h.fcmAccessToken,
      serviceAccount: write(
        'fcm-service-account.json',
        `${JSON.stringify(serviceAccountKeyFile(h.credentials.fcmServiceAccount, `${origin('https', e.fcm)}/token`), null, 2)}\n`,
        true,
      ),
      tokenUrl: `${origin('https', e.fcm)}/token`,
    },
    admin: { url: origin('http', e.admin) },
    devices: h.devices.map(({ profile: p }) => ({ udid: p.udid, platform: p.platform, token: (p.platform === 'ios' ? p.token : p.fcmToken) ?? null })),
  };
  const file = path(STATE_FILE);
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(partial, file);
  return { file, state };
}

/** Removes harness.json (the harness it described is gone); the credentials stay. */
export function removeStateFile(dir: string): void {
  rmSync(join(resolve(dir), STATE_FILE), { force: true });
}
