/**
 * What Apple puts in its push credentials, and what APNs answers about them. Checked against Apple's Certification
 * Practice Statement for its WWDR CA and against APNs client libraries that read the same extensions (node-apn,
 * pushy, lowdown): 1.2.840.113635.100.6.3.1 marks a certificate for the development environment, …6.3.2 for
 * production (a "universal" certificate has both), and …6.3.6 lists the topics it may push to, as a SEQUENCE of
 * UTF8String topic, SEQUENCE { UTF8String kind } pairs (`com.example.app`, `app`, `com.example.app.voip`, `voip`).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import forge from 'node-forge';

export const OID_DEVELOPMENT = '1.2.840.113635.100.6.3.1';
export const OID_PRODUCTION = '1.2.840.113635.100.6.3.2';
export const OID_TOPICS = '1.2.840.113635.100.6.3.6';
/** The subject's UID (userId) attribute: APNs reads a certificate's default topic from it. */
export const OID_UID = '0.9.2342.19200300.100.1.1';

/** MDM push certificates' topics start with this (`com.apple.mgmt.External.<uuid>` from the Push Certificates Portal). */
export const MDM_TOPIC_PREFIX = 'com.apple.mgmt.';

export const APNS_PRODUCTION_URL = 'https://api.push.apple.com';
export const APNS_DEVELOPMENT_URL = 'https://api.sandbox.push.apple.com';

export type ApnsEnvironment = 'production' | 'development' | 'both' | 'unknown';

export interface AppleFacts {
  topic?: string;
  extraTopics: string[];
  environment: ApnsEnvironment;
  mdm: boolean;
  /** A topic, and one of Apple's push extensions or a common name of Apple's push forms. */
  applePush: boolean;
}

/** The UTF8String topics in a 1.2.840.113635.100.6.3.6 extension value; [] when it cannot be read. */
export function topicsOfExtension(value: ArrayBuffer): string[] {
  try {
    const root = forge.asn1.fromDer(forge.util.createBuffer(Buffer.from(value).toString('binary')));
    if (!Array.isArray(root.value)) return [];
    return root.value.flatMap((item) =>
      item.type === forge.asn1.Type.UTF8 && typeof item.value === 'string' ? [forge.util.decodeUtf8(item.value)] : [],
    );
  } catch {
    return [];
  }
}

/** Common names Apple gives push certificates: `Apple Push Services: <topic>`, `Apple Production IOS Push Services: …`, `APSP:<uuid>` (MDM). */
const APPLE_PUSH_NAME = /^(APSP:|Apple .*Push Services)/;

export function appleFactsOf(cert: x509.X509Certificate): AppleFacts {
  const topic = cert.subjectName.getField(OID_UID)[0];
  const development = cert.getExtension(OID_DEVELOPMENT) !== null;
  const production = cert.getExtension(OID_PRODUCTION) !== null;
  const topicsExtension = cert.getExtension(OID_TOPICS);
  const listed = topicsExtension ? topicsOfExtension(topicsExtension.value) : [];
  const environment: ApnsEnvironment =
    development && production ? 'both' : production ? 'production' : development ? 'development' : 'unknown';
  const commonName = cert.subjectName.getField('CN')[0] ?? '';
  const marked = development || production || topicsExtension !== null || APPLE_PUSH_NAME.test(commonName);
  return {
    ...(topic !== undefined && { topic }),
    extraTopics: [...new Set(listed.filter((t) => t !== topic))],
    environment,
    mdm: topic?.startsWith(MDM_TOPIC_PREFIX) ?? false,
    applePush: topic !== undefined && topic !== '' && marked,
  };
}

/**
 * The provider endpoint for a credential: a development-only certificate goes to the sandbox; everything else
 * (production, universal, MDM, token keys) to production. MDM pushes always use production.
 */
export function apnsUrlFor(environment: ApnsEnvironment | undefined): string {
  return environment === 'development' ? APNS_DEVELOPMENT_URL : APNS_PRODUCTION_URL;
}

/**
 * What to do about each reason APNs gives for refusing a push, as Apple's "Handling notification responses from
 * APNs" describes them. A reason not listed gets the generic hint of `apns_rejected`.
 */
export const APNS_REASON_HINTS: Readonly<Record<string, string>> = {
  BadCertificate:
    'APNs does not accept this certificate (revoked, expired or not an APNs certificate): renew it with the Apple ID that made it',
  BadCertificateEnvironment:
    'the certificate is for the other environment: a development certificate needs api.sandbox.push.apple.com, production api.push.apple.com',
  InvalidProviderToken:
    'the key, key id or team id is not what Apple has: check --key-id and --team-id, and that the key was not revoked',
  ExpiredProviderToken: "APNs judged the token too old: check this machine's clock (NTP)",
  MissingProviderToken: 'APNs got neither a client certificate nor a token: the TLS client certificate did not reach it',
  TopicDisallowed: 'the credential may not push to this topic: give the bundle id the key or certificate is for (--topic)',
  BadTopic: 'the topic is not valid for this push: give the app bundle id (or the MDM topic) with --topic',
  MissingTopic: 'APNs needs a topic for this credential: give it with --topic',
  Forbidden: 'APNs refused the request: check that the key or certificate is enabled for push notifications',
  UnrelatedKeyIdInToken: 'the key id does not belong to the team: check --key-id and --team-id',
  BadEnvironmentKeyIdInToken: 'the key is not enabled for this environment: enable it for sandbox and production, or use the other URL',
  TooManyProviderTokenUpdates: 'the key signed new tokens too often: wait 20 minutes and try again',
  TooManyRequests: 'APNs is throttling this credential: try again later',
  InternalServerError: 'APNs failed internally: try again later',
  ServiceUnavailable: 'APNs is unavailable: try again later',
  Shutdown: 'the APNs server was shutting down: try again',
};
