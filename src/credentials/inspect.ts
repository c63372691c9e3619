/**
 * What a credential is and whether it will work, offline: one result per push certificate (a chain's CA
 * certificates are not push certificates and are left out) or per token key. Pure given the file's contents and
 * the clock, so every verdict is testable with certificates made by the tests.
 */
import { X509Certificate as NodeCertificate, type KeyObject } from 'node:crypto';
import { basename } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { failure } from '../probes/classify.js';
import type { CredentialInfo, Failure, Result, Status } from '../types.js';
import { appleFactsOf } from './apple.js';
import type { LoadedCredential } from './read.js';

const DAY_MS = 86_400_000;
/** Apple's key ids and team ids: ten upper-case letters and digits. */
const APPLE_ID = /^[A-Z0-9]{10}$/;

export interface InspectOptions {
  now: Date;
  /** A certificate expiring within this many days warns. */
  warnDays: number;
  /** The rule set the results belong to (`credentials` on the command line). */
  ruleset: string;
}

/** A credential's verdict: its facts, and every problem found, the worst first. */
export interface Inspected {
  info: CredentialInfo;
  /** Problems, in order of weight; the first decides the status. */
  problems: Array<{ status: Exclude<Status, 'pass' | 'skip'>; failure: Failure }>;
  notes: string[];
  /** A name for the credential inside its file (`push.p12`, `chain.pem #2`). */
  name: string;
  /** For the live check: the certificate (PEM) and key, when both are there. */
  certificatePem?: string;
  key?: KeyObject;
}

/** `UID=…, CN=…, C=US` from Node's one-attribute-per-line form. */
function oneLine(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

/** Whole days since `past`. */
function daysAgo(past: Date, now: Date): number {
  return Math.floor((now.getTime() - past.getTime()) / DAY_MS);
}

function day(iso: string): string {
  return iso.slice(0, 10);
}

function isCa(cert: NodeCertificate): boolean {
  return cert.ca;
}

function inspectCertificate(der: Buffer, key: KeyObject | undefined, credential: LoadedCredential, options: InspectOptions): Omit<Inspected, 'name'> {
  const cert = new NodeCertificate(der);
  const parsed = new x509.X509Certificate(der);
  const apple = appleFactsOf(parsed);
  const validFrom = new Date(cert.validFrom);
  const validTo = new Date(cert.validTo);
  const daysLeft = Math.floor((validTo.getTime() - options.now.getTime()) / DAY_MS);
  const keyMatches = key ? cert.checkPrivateKey(key) : undefined;
  const info: CredentialInfo = {
    file: credential.file,
    format: credential.format,
    kind: 'certificate',
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber.toUpperCase(),
    validFrom: validFrom.toISOString(),
    validTo: validTo.toISOString(),
    daysLeft,
    ...(apple.topic !== undefined && { topic: apple.topic }),
    ...(apple.extraTopics.length > 0 && { extraTopics: apple.extraTopics }),
    environment: apple.environment,
    mdm: apple.mdm,
    ...(keyMatches !== undefined && { keyMatches }),
  };
  const problems: Inspected['problems'] = [];
  const notes: string[] = [];
  if (!apple.applePush) {
    const why = apple.topic === undefined ? 'no subject UID (topic)' : "none of Apple's push extensions";
    problems.push({ status: 'fail', failure: failure('cert_not_apns', 'cert', `subject "${info.subject}", issuer "${info.issuer}": ${why}`) });
  }
  if (validTo.getTime() <= options.now.getTime()) {
    problems.push({ status: 'fail', failure: failure('cert_expired', 'cert', `expired ${day(info.validTo!)}, ${daysAgo(validTo, options.now)} days ago`) });
  } else if (validFrom.getTime() > options.now.getTime()) {
    problems.push({ status: 'fail', failure: failure('cert_not_yet_valid', 'cert', `valid from ${info.validFrom}`) });
  } else if (daysLeft < options.warnDays) {
    const detail = `expires ${day(info.validTo!)}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}; warning at ${options.warnDays} (--warn-days)`;
    problems.push({ status: 'warn', failure: failure('cert_expiring', 'cert', detail) });
  }
  if (keyMatches === false) {
    problems.push({ status: 'fail', failure: failure('cert_key_mismatch', 'cert', `the key in ${basename(credential.file)} is another key pair's`) });
  }
  // The order above is by weight, except that a failure always outweighs the expiry warning.
  problems.sort((a, b) => Number(a.status === 'warn') - Number(b.status === 'warn'));
  if (apple.topic !== undefined) {
    const environment = apple.environment === 'unknown' ? (apple.mdm ? 'production (MDM)' : 'environment not marked') : apple.environment;
    notes.push(`topic ${apple.topic}${apple.mdm ? ' (MDM push certificate)' : ''}, ${environment}, expires ${day(info.validTo!)} (${daysLeft} days)`);
  }
  if (apple.extraTopics.length > 0) notes.push(`also for ${apple.extraTopics.join(', ')}`);
  if (keyMatches === undefined) notes.push('no private key in the file (give --key FILE to check that it matches)');
  return {
    info,
    problems,
    notes,
    certificatePem: cert.toString(),
    ...(key && keyMatches && { key }),
  };
}

function inspectTokenKey(credential: Extract<LoadedCredential, { kind: 'token-key' }>): Omit<Inspected, 'name'> {
  const details = credential.key.asymmetricKeyDetails;
  const keyType =
    credential.key.asymmetricKeyType === 'ec'
      ? `EC ${details?.namedCurve === 'prime256v1' ? 'P-256' : (details?.namedCurve ?? '')}`.trim()
      : `${(credential.key.asymmetricKeyType ?? 'unknown').toUpperCase()}${details?.modulusLength ? ` ${details.modulusLength}` : ''}`;
  const info: CredentialInfo = {
    file: credential.file,
    format: 'p8',
    kind: 'token-key',
    keyType,
    ...(credential.keyId !== undefined && { keyId: credential.keyId }),
    ...(credential.teamId !== undefined && { teamId: credential.teamId }),
  };
  const wrong: string[] = [];
  if (keyType !== 'EC P-256') wrong.push(`the key is ${keyType}, not EC P-256`);
  if (credential.keyId === undefined) wrong.push('no key id (give --key-id, or keep the AuthKey_<KEYID>.p8 name)');
  else if (!APPLE_ID.test(credential.keyId)) wrong.push(`key id "${credential.keyId}" is not ten letters and digits`);
  if (credential.teamId === undefined) wrong.push('no team id (give --team-id)');
  else if (!APPLE_ID.test(credential.teamId)) wrong.push(`team id "${credential.teamId}" is not ten letters and digits`);
  const problems: Inspected['problems'] = wrong.length > 0 ? [{ status: 'fail', failure: failure('key_invalid', 'cert', wrong.join('; ')) }] : [];
  const notes = [`token key ${credential.keyId ?? '?'} of team ${credential.teamId ?? '?'}: it does not expire, but APNs refuses tokens signed over an hour ago`];
  return { info, problems, notes, ...(problems.length === 0 && { key: credential.key }) };
}

/** Every push certificate (or the token key) of a loaded credential, inspected. */
export function inspectCredential(credential: LoadedCredential, options: InspectOptions): Inspected[] {
  const name = basename(credential.file);
  if (credential.kind === 'token-key') return [{ name, ...inspectTokenKey(credential) }];
  const certificates = credential.certificates.map((der) => ({ der, cert: new NodeCertificate(der) }));
  // The push certificate is the one the key belongs to, else every certificate that is not a CA's.
  const owner = credential.key ? certificates.find((c) => c.cert.checkPrivateKey(credential.key!)) : undefined;
  const leaves = owner ? [owner] : certificates.filter((c) => !isCa(c.cert));
  const chosen = leaves.length > 0 ? leaves : certificates.slice(0, 1);
  return chosen.map((c, i) => ({
    name: chosen.length > 1 ? `${name} #${i + 1}` : name,
    ...inspectCertificate(c.der, credential.key, credential, options),
  }));
}

/** The report line of an inspected credential (before any live check). */
export function resultOf(inspected: Inspected, options: InspectOptions, durationMs: number): Result {
  const { info, problems, notes } = inspected;
  const first = problems[0];
  const status: Status = first ? first.status : 'pass';
  const others = problems.slice(1).map((p) => p.failure.message);
  const note = [...others, ...notes].join('; ');
  return {
    ruleset: options.ruleset,
    rule: inspected.name,
    documentedHost: info.file,
    host: info.file,
    port: 0,
    addresses: [],
    check: 'cert',
    status,
    severity: 'critical',
    origin: 'current',
    purpose: purposeOf(info),
    impact: impactOf(info),
    timings: { totalMs: Math.round(durationMs * 10) / 10 },
    attempts: 1,
    ...(first && { error: first.failure }),
    ...(note !== '' && { note }),
    credential: info,
  };
}

function purposeOf(info: CredentialInfo): string {
  if (info.kind === 'token-key') return `APNs token-auth key ${info.keyId ?? ''} of team ${info.teamId ?? '?'}`.replace('  ', ' ');
  if (info.mdm) return `MDM push certificate for ${info.topic}`;
  return info.topic !== undefined ? `APNs certificate for ${info.topic}` : `certificate ${info.subject}`;
}

function impactOf(info: CredentialInfo): string {
  if (info.mdm) {
    return 'no push reaches the enrolled devices, so they receive no MDM commands; a new certificate with another topic in place of a renewal cuts every enrolled device off';
  }
  return 'the push provider cannot send notifications: APNs refuses its connections or tokens, and no push is sent';
}
