/**
 * `pushcheck cert`: checks credential files (or a renewal) and assembles the same Report a network check makes,
 * so every output format, the exit codes and `--strict` work unchanged. Credentials are checked one after another:
 * a passphrase prompt must not interleave with another.
 */
import type { CredentialSpec, Report, Result, RunOptions } from '../types.js';
import { checkCredential, type AskPassphrase } from '../credentials/index.js';
import { checkRenewal } from '../credentials/renewal.js';
import { findingsOf } from '../findings/index.js';
import { version } from '../version.js';
import { verdictOf } from '../verdict.js';
import { summarise } from './outcome.js';
import { reportEnvironment } from './run.js';

/** The rule set id and title of the credentials named on the command line. */
export const CREDENTIALS_RULESET = { id: 'credentials', title: 'APNs credentials' } as const;

export interface CredentialSettings {
  warnDays: number;
  timeoutMs: number;
  strict: boolean;
  /** Extra trusted CA certificates (PEM) for --live. */
  caPems: string[];
  ask?: AskPassphrase;
  signal?: AbortSignal;
  now?: () => Date;
  /** The options as the report records them (file names, never a passphrase). */
  recorded: RunOptions;
}

function optionsOf(settings: CredentialSettings) {
  return {
    ruleset: CREDENTIALS_RULESET.id,
    now: settings.now ?? (() => new Date()),
    warnDays: settings.warnDays,
    ca: settings.caPems,
    timeoutMs: settings.timeoutMs,
    ...(settings.signal && { signal: settings.signal }),
    ...(settings.ask && { ask: settings.ask }),
  };
}

function reportOf(results: Result[], settings: CredentialSettings, startedAt: Date, started: number): Report {
  const verdict = verdictOf(results, settings.strict);
  const interrupted = settings.signal?.aborted ?? false;
  return {
    schemaVersion: 1,
    tool: { name: 'pushcheck', version },
    environment: reportEnvironment(),
    startedAt: startedAt.toISOString(),
    durationMs: Math.round((performance.now() - started) * 10) / 10,
    options: settings.recorded,
    rulesets: [{ ...CREDENTIALS_RULESET, notes: [], file: 'command line' }],
    summary: summarise(results),
    verdict,
    exitCode: interrupted ? 130 : verdict === 'fail' ? 1 : 0,
    interrupted,
    findings: findingsOf(results, { startedAt: startedAt.toISOString() }),
    results,
    rules: [],
  };
}

/** Checks each file in turn; an unreadable file stops the run with its FileError (exit 2). */
export async function runCredentialChecks(specs: CredentialSpec[], settings: CredentialSettings): Promise<Report> {
  const startedAt = (settings.now ?? (() => new Date()))();
  const started = performance.now();
  const results: Result[] = [];
  for (const spec of specs) results.push(...(await checkCredential(spec, optionsOf(settings))));
  return reportOf(results, settings, startedAt, started);
}

export async function runRenewalCheck(oldSpec: CredentialSpec, newSpec: CredentialSpec, settings: CredentialSettings): Promise<Report> {
  const startedAt = (settings.now ?? (() => new Date()))();
  const started = performance.now();
  return reportOf(await checkRenewal(oldSpec, newSpec, optionsOf(settings)), settings, startedAt, started);
}
