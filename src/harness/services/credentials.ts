/**
 * Everything a client of the harness needs to be trusted by it, made at start: the CA that signs the mock
 * servers' certificates, the server certificate (valid for Apple's and Google's host names), the MDM push
 * certificate (topic com.apple.mgmt.External.<uuid>), a provider certificate for an app topic, a token
 * signing key (.p8) with its key id and team id, and an FCM service account key.
 */
import type { KeyObject } from 'node:crypto';
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../certs.js';
import { generateProviderKey } from '../jwt.js';
import { randomUuid, type Rng } from '../random.js';
import { MDM_TOPIC_PREFIX } from './apns.js';
import { issuePushCertificate } from './push-certificates.js';
import { FCM_DEFAULT_PROJECT } from './fcm.js';
import { generateServiceAccount, type ServiceAccount } from './google-oauth.js';

/** Names every harness server certificate is valid for, so clients can pin real host names to loopback. */
export const HARNESS_NAMES = [
  'localhost',
  '127.0.0.1',
  '::1',
  'api.push.apple.com',
  'api.sandbox.push.apple.com',
  'courier.push.apple.com',
  'courier.sandbox.push.apple.com',
  '*.push.apple.com',
  'fcm.googleapis.com',
  'oauth2.googleapis.com',
  'mtalk.google.com',
  'mdm.pushcheck.test',
];

/** The app topic of the harness's provider certificate and token key. */
export const APP_TOPIC = 'com.pushcheck.harness.app';
/** Ten letters and digits each, as Apple's key ids and team ids are (`pushcheck cert` refuses others). */
export const TOKEN_KEY_ID = 'HARNESSKEY';
export const TOKEN_TEAM_ID = 'HARNESST01';

/** A push topic with its client certificate. */
export interface TopicCertificate {
  topic: string;
  certificate: CertificatePem;
}

export interface TokenKey {
  keyId: string;
  teamId: string;
  /** The app topic the key is handed out for (the harness accepts it for any topic, as Apple does for a team's apps). */
  topic: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** PKCS#8 PEM, the content of an AuthKey_<keyId>.p8 file. */
  privateKeyPem: string;
}

export interface HarnessCredentials {
  ca: CertificateAuthority;
  /** The mock servers' certificate. */
  server: CertificatePem;
  /** The MDM push certificate (UID com.apple.mgmt.External.<uuid>). */
  mdmPush: TopicCertificate;
  /** A provider certificate for an app topic. */
  provider: TopicCertificate;
  token: TokenKey;
  /** A service account of the harness's FCM project: its key gets OAuth access tokens for FCM. */
  fcmServiceAccount: ServiceAccount;
}

export async function createHarnessCredentials(rng: Rng, ca?: CertificateAuthority): Promise<HarnessCredentials> {
  const authority = ca ?? (await createCertificateAuthority('pushcheck harness CA'));
  const mdmUuid = randomUuid(rng.fork('topic')).toLowerCase();
  const appUuid = randomUuid(rng.fork('app-topic')).toLowerCase();
  const mdmTopic = `${MDM_TOPIC_PREFIX}${mdmUuid}`;
  // The two RSA keys take most of the start-up: make them side by side.
  const [server, mdmPush, provider, fcmServiceAccount] = await Promise.all([
    authority.issue({ names: HARNESS_NAMES }),
    issuePushCertificate(authority, { topic: mdmTopic, uuid: mdmUuid }),
    issuePushCertificate(authority, { topic: APP_TOPIC, uuid: appUuid }),
    generateServiceAccount(FCM_DEFAULT_PROJECT),
  ]);
  return {
    ca: authority,
    server,
    mdmPush: { topic: mdmTopic, certificate: mdmPush },
    provider: { topic: APP_TOPIC, certificate: provider },
    token: { keyId: TOKEN_KEY_ID, teamId: TOKEN_TEAM_ID, topic: APP_TOPIC, ...generateProviderKey() },
    fcmServiceAccount,
  };
}
