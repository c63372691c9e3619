/**
 * `pushcheck cert`: checks credential files (or a renewal) and assembles the same Report a network check makes,
 * so every output format, the exit codes and `--strict` work unchanged. Credentials are checked one after another:
 * a passphrase prompt must not interleave with another.
 */
import { FileError, isUsageError } from '../errors.js';
import type { CredentialSpec, Report, Result, RuleSet, RunOptions } from '../types.js';
import { checkCredential, type AskPassphrase } from '../credentials/index.js';
import { checkRenewal } from '../credentials/renewal.js';
import { findingsOf } from '../findings/index.js';
import { reportOf } from './outcome.js';

/** --warn-days when a caller gives none (the CLI always does; its default is the same). */
const DEFAULT_CREDENTIAL_WARN_DAYS = 30;

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

/** The credentials of the command line, as the rule set their results belong to. */
const COMMAND_LINE: RuleSet = { ...CREDENTIALS_RULESET, aliases: [], notes: [], rules: [], file: 'command line', builtin: false };

function credentialReport(results: Result[], settings: CredentialSettings, startedAt: Date, started: number): Report {
  return reportOf({
    ruleSets: [COMMAND_LINE],
    results,
    rules: [],
    findings: findingsOf(results, { startedAt: startedAt.toISOString() }),
    recorded: settings.recorded,
    strict: settings.strict,
    startedAt,
    durationMs: performance.now() - started,
    interrupted: settings.signal?.aborted ?? false,
    ...(settings.signal?.aborted && { interruptReason: settings.signal.reason }),
  });
}

/** Checks each file in turn; an unreadable file stops the run with its FileError (exit 2). */
export async function runCredentialChecks(specs: CredentialSpec[], settings: CredentialSettings): Promise<Report> {
  const startedAt = (settings.now ?? (() => new Date()))();
  const started = performance.now();
  const results: Result[] = [];
  for (const spec of specs) {
    if (settings.signal?.aborted) break;
    results.push(...(await checkCredential(spec, optionsOf(settings))));
  }
  return credentialReport(results, settings, startedAt, started);
}

export async function runRenewalCheck(oldSpec: CredentialSpec, newSpec: CredentialSpec, settings: CredentialSettings): Promise<Report> {
  const startedAt = (settings.now ?? (() => new Date()))();
  const started = performance.now();
  return credentialReport(await checkRenewal(oldSpec, newSpec, optionsOf(settings)), settings, startedAt, started);
}

/** Where a credential's own error lands when a rule file named it: `rules.yaml:7: credentials[0]: push.p12: …`. */
function inRuleFile(err: unknown, set: RuleSet, spec: CredentialSpec, index: number): unknown {
  if (!isUsageError(err)) return err;
  return new FileError(set.file, spec.line ?? 0, `credentials[${index}]`, err.message);
}

/**
 * The `credentials:` of every rule set of a run, as results of that rule set. A credential that cannot be read is
 * the rule file's mistake: a FileError naming the rule file's line (exit 2), as any other problem in it.
 */
export async function checkRuleSetCredentials(
  ruleSets: RuleSet[],
  settings: { warnDays?: number; caPems: readonly string[]; timeoutMs: number },
  signal: AbortSignal,
  now: () => Date,
): Promise<Result[]> {
  const results: Result[] = [];
  for (const set of ruleSets) {
    for (const [index, spec] of (set.credentials ?? []).entries()) {
      try {
        results.push(
          ...(await checkCredential(spec, {
            ruleset: set.id,
            now,
            warnDays: settings.warnDays ?? DEFAULT_CREDENTIAL_WARN_DAYS,
            ca: settings.caPems,
            timeoutMs: settings.timeoutMs,
            signal,
          })),
        );
      } catch (err) {
        throw inRuleFile(err, set, spec, index);
      }
    }
  }
  return results;
}
