/**
 * Checking APNs credentials: read the file, inspect every push certificate (or the token key) in it, and with
 * `live` push once to APNs with it. Each credential becomes a Result with `check: cert`, like any probed target.
 * This module sits at the probes layer: it imports only the shared types and the failure vocabulary.
 */
import { performance } from 'node:perf_hooks';
import type { CredentialSpec, Result } from '../types.js';
import { FileError } from '../errors.js';
import { inspectCredential, resultOf, type InspectOptions, type Inspected } from './inspect.js';
import { pushOnce, type LiveAuth } from './live.js';
import { readCredential, type AskPassphrase } from './read.js';

export { readCredential, type AskPassphrase } from './read.js';

export interface CredentialCheckOptions {
  /** The rule set the results belong to. */
  ruleset: string;
  now: () => Date;
  warnDays: number;
  /** For --live: extra CA certificates (PEM) trusted for the APNs endpoint, and the bound of the push. */
  ca: readonly string[];
  timeoutMs: number;
  signal?: AbortSignal;
  /** Asks for a passphrase on a terminal; absent elsewhere. */
  ask?: AskPassphrase;
}

function inspectOptions(options: CredentialCheckOptions): InspectOptions {
  return { now: options.now(), warnDays: options.warnDays, ruleset: options.ruleset };
}

/** One result per push certificate in the file (or one for the token key). Throws FileError for an unreadable file. */
export async function checkCredential(spec: CredentialSpec, options: CredentialCheckOptions): Promise<Result[]> {
  const start = performance.now();
  const credential = await readCredential(spec, options.ask);
  const inspected = inspectCredential(credential, inspectOptions(options));
  return Promise.all(
    inspected.map(async (one) => {
      const offline = resultOf(one, inspectOptions(options), performance.now() - start);
      if (!spec.live) return offline;
      const result = await withLive(offline, one, spec, options);
      return { ...result, timings: { totalMs: Math.round((performance.now() - start) * 10) / 10 } };
    }),
  );
}

/** How to authenticate the live push; a string says why it cannot be sent (the offline check already failed then). */
function liveAuth(one: Inspected): LiveAuth | string {
  const { info, key } = one;
  if (info.kind === 'token-key') {
    if (!key || info.keyId === undefined || info.teamId === undefined) return 'the token key is not usable';
    return { kind: 'token', key, keyId: info.keyId, teamId: info.teamId };
  }
  if (info.keyMatches === undefined) {
    throw new FileError(info.file, 0, '', "--live needs the certificate's private key: in the file, or give --key FILE");
  }
  if (!key || !one.certificatePem) return 'the key does not match the certificate';
  return { kind: 'certificate', certificatePem: one.certificatePem, key };
}

function joinNotes(...notes: Array<string | undefined>): string | undefined {
  const text = notes.filter((n): n is string => n !== undefined && n !== '').join('; ');
  return text === '' ? undefined : text;
}

/** Adds the live push to an offline result: a refused push fails it; an accepted one adds a note. */
async function withLive(result: Result, one: Inspected, spec: CredentialSpec, options: CredentialCheckOptions): Promise<Result> {
  const topic = spec.topic ?? one.info.topic;
  if (topic === undefined) {
    throw new FileError(one.info.file, 0, '', '--live with a token key needs the topic to push to (the app bundle id): give --topic');
  }
  const auth = liveAuth(one);
  if (typeof auth === 'string') return { ...result, note: joinNotes(`live push not sent: ${auth}`, result.note)! };
  const outcome = await pushOnce(auth, one.info.environment, {
    ...(spec.apnsUrl !== undefined && { url: spec.apnsUrl }),
    topic,
    ca: options.ca,
    timeoutMs: options.timeoutMs,
    now: options.now,
    ...(options.signal && { signal: options.signal }),
  });
  const credential = { ...result.credential!, live: outcome.live };
  if (!outcome.failure) {
    const note = joinNotes(outcome.note, result.note);
    return { ...result, credential, ...(note !== undefined && { note }) };
  }
  if (result.status === 'fail') {
    return { ...result, credential, note: joinNotes(`live: ${outcome.failure.message}`, outcome.note, result.note)! };
  }
  const note = joinNotes(result.error?.message, outcome.note, result.note);
  return { ...result, credential, status: 'fail', error: outcome.failure, ...(note !== undefined && { note }) };
}
