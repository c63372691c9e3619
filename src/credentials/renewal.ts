/**
 * `pushcheck cert --renewal OLD NEW`: is NEW a renewal of OLD? Devices enrolled under a push certificate stay
 * bound to its topic (AirWatch: "When an APNs certificate is properly renewed each year, the topic of that
 * certificate will be identical"). A certificate created anew instead of renewed has another topic: APNs accepts
 * its pushes, and none reaches the devices.
 */
import { basename } from 'node:path';
import { failure } from '../probes/classify.js';
import type { CredentialSpec, Failure, Result } from '../types.js';
import type { CredentialCheckOptions } from './index.js';
import { inspectCredential, resultOf } from './inspect.js';
import { readCredential } from './read.js';

const CUT_OFF = 'devices enrolled under the old certificate will stop receiving commands and must be re-enrolled';

async function pushCertificate(spec: CredentialSpec, options: CredentialCheckOptions) {
  const credential = await readCredential(spec, options.ask);
  const [first] = inspectCredential(credential, { now: options.now(), warnDays: options.warnDays, ruleset: options.ruleset });
  return first!;
}

/** The renewal verdict first, then NEW's own result (expiry, key, Apple's marks). */
export async function checkRenewal(oldSpec: CredentialSpec, newSpec: CredentialSpec, options: CredentialCheckOptions): Promise<Result[]> {
  const start = performance.now();
  const before = await pushCertificate(oldSpec, options);
  const after = await pushCertificate(newSpec, options);
  const [oldInfo, newInfo] = [before.info, after.info];
  let problem: Failure | undefined;
  if (oldInfo.kind !== 'certificate' || newInfo.kind !== 'certificate') {
    problem = failure('cert_not_apns', 'cert', 'a renewal compares two push certificates, not token keys');
  } else if (oldInfo.topic !== newInfo.topic) {
    problem = failure('cert_renewal_topic', 'cert', `old ${oldInfo.topic ?? 'no topic'}, new ${newInfo.topic ?? 'no topic'}: ${CUT_OFF}`);
  } else if (Date.parse(newInfo.validTo!) <= Date.parse(oldInfo.validTo!)) {
    problem = failure(
      'cert_renewal_older',
      'cert',
      `old expires ${oldInfo.validTo!.slice(0, 10)}, new ${newInfo.validTo!.slice(0, 10)}`,
    );
  }
  const durationMs = performance.now() - start;
  const own = resultOf(after, { now: options.now(), warnDays: options.warnDays, ruleset: options.ruleset }, durationMs);
  const renewal: Result = {
    ...own,
    rule: 'renewal',
    documentedHost: oldSpec.file,
    purpose: `renewal of ${basename(oldSpec.file)} by ${basename(newSpec.file)}`,
    status: problem ? 'fail' : 'pass',
    ...(problem
      ? { error: problem, note: `old topic ${oldInfo.topic ?? 'none'}, new topic ${newInfo.topic ?? 'none'}` }
      : { note: `same topic ${newInfo.topic}, expires later (${oldInfo.validTo!.slice(0, 10)} → ${newInfo.validTo!.slice(0, 10)}): enrolled devices stay managed` }),
  };
  if (!problem) delete renewal.error;
  return [renewal, own];
}
