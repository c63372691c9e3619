/**
 * Provider certificates that look like the ones Apple issues, so that client libraries which inspect them
 * accept them: subject `UID=<topic>, CN=APSP:<uuid>`, an RSA 2048 key, valid for a year (as OpManager's
 * seed says of Apple's), and Apple's extensions (OIDs as in Apple's WWDR certificate policy):
 *   1.2.840.113635.100.6.3.1  APNs development (sandbox) environment, value NULL
 *   1.2.840.113635.100.6.3.2  APNs production environment, value NULL
 *   1.2.840.113635.100.6.3.6  the topics: SEQUENCE { UTF8String topic, SEQUENCE { UTF8String "app" }, … }
 * node-apn, for one, refuses a certificate without the extension of the environment it is set up for.
 */
import type { CertificateAuthority, CertificatePem } from '../certs.js';
import { nullValue, sequence, utf8String } from '../der.js';

export const APPLE_PUSH_OIDS = {
  development: '1.2.840.113635.100.6.3.1',
  production: '1.2.840.113635.100.6.3.2',
  topics: '1.2.840.113635.100.6.3.6',
} as const;

export type PushEnvironment = 'development' | 'production';

const DAY_MS = 86_400_000;

/** The topics extension's value: each topic followed by the kinds of push it may carry. */
export function topicsExtension(topics: ReadonlyArray<{ topic: string; kinds: readonly string[] }>): Uint8Array {
  return sequence(...topics.flatMap(({ topic, kinds }) => [utf8String(topic), sequence(...kinds.map(utf8String))]));
}

export interface PushCertificateOptions {
  /** The certificate's topic: the subject UID (an app's bundle id, or com.apple.mgmt.External.<uuid>). */
  topic: string;
  /** The UUID in the CN (`APSP:<uuid>`); for an MDM topic, the one in its name. */
  uuid: string;
  environments?: readonly PushEnvironment[];
  notBefore?: Date;
  notAfter?: Date;
}

/** Issues an Apple-like push (provider) client certificate signed by `ca`. */
export function issuePushCertificate(ca: CertificateAuthority, options: PushCertificateOptions): Promise<CertificatePem> {
  const environments = options.environments ?? ['development', 'production'];
  const now = Date.now();
  return ca.issue({
    names: [],
    uid: options.topic,
    commonName: `APSP:${options.uuid}`,
    client: true,
    keyType: 'rsa',
    notBefore: options.notBefore ?? new Date(now - DAY_MS),
    notAfter: options.notAfter ?? new Date(now + 365 * DAY_MS),
    extensions: [
      ...environments.map((env) => ({ oid: APPLE_PUSH_OIDS[env], value: nullValue() })),
      { oid: APPLE_PUSH_OIDS.topics, value: topicsExtension([{ topic: options.topic, kinds: ['app'] }]) },
    ],
  });
}
