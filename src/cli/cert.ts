/** `pushcheck cert FILE...` and `pushcheck cert --renewal OLD NEW`: APNs credentials, offline or `--live`. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { abortOnStopSignals } from '../signals.js';
import { formatNames } from '../report/index.js';
import type { CredentialSettings } from '../run/credentials.js';
import type { CredentialSpec, Report } from '../types.js';
import { DEFAULT_TIMEOUT_MS } from '../run/settings.js';
import { readCaFile } from './ca-file.js';
import { collect, formatOption, integer, noColorOption, useColor, warnDaysOption } from './options.js';
import { askPassphrase } from './prompt.js';
import { addOutputOptions, checkOutputs, emitReport, outputsFrom } from './report-files.js';

interface CertFlags {
  key?: string;
  passphraseEnv?: string;
  keyId?: string;
  teamId?: string;
  topic?: string;
  renewal: boolean;
  live: boolean;
  apnsUrl?: string;
  ca: string[];
  warnDays: number;
  timeout: number;
  strict: boolean;
  format: string;
  color?: boolean;
}

function parseApnsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--apns-url ${value}: not a URL (expected https://host[:port])`);
  }
  if (url.protocol !== 'https:') throw new UsageError(`--apns-url ${value}: APNs speaks HTTPS only (https://host[:port])`);
  if (url.username || url.password) throw new UsageError('--apns-url: no user or password in the URL');
  return url.origin;
}

function specsFrom(files: string[], flags: CertFlags): CredentialSpec[] {
  if (flags.key !== undefined && files.length > 1 && !flags.renewal) {
    throw new UsageError('--key goes with one certificate file; check the others in a run of their own');
  }
  const apnsUrl = flags.apnsUrl !== undefined ? parseApnsUrl(flags.apnsUrl) : undefined;
  return files.map((file) => ({
    file,
    ...(flags.key !== undefined && { keyFile: flags.key }),
    ...(flags.passphraseEnv !== undefined && { passphraseEnv: flags.passphraseEnv }),
    ...(flags.keyId !== undefined && { keyId: flags.keyId }),
    ...(flags.teamId !== undefined && { teamId: flags.teamId }),
    ...(flags.topic !== undefined && { topic: flags.topic }),
    ...(flags.live && { live: true }),
    ...(apnsUrl !== undefined && { apnsUrl }),
  }));
}

function settingsFrom(flags: CertFlags): CredentialSettings {
  return {
    warnDays: flags.warnDays,
    timeoutMs: flags.timeout,
    strict: flags.strict,
    caPems: flags.ca.map((file) => readCaFile('--ca', file)),
    ask: askPassphrase,
    recorded: {
      timeoutMs: flags.timeout,
      concurrency: 1,
      retries: 0,
      resolve: [],
      caFiles: flags.ca,
      vars: [],
      strict: flags.strict,
      insecure: false,
      warnDays: flags.warnDays,
    },
  };
}

export function register(program: Command): void {
  const command = program
    .command('cert')
    .description('check APNs credentials: push certificates (PEM, DER, .p12/.pfx) and token keys (.p8); --live pushes once to APNs')
    .argument('<files...>', 'credential files; with --renewal: OLD NEW')
    .option('--key <file>', 'the private key, when it is not in the certificate file')
    .option('--passphrase-env <var>', 'read the passphrase (PKCS#12, encrypted key) from this environment variable; without it a terminal asks')
    .option('--key-id <id>', 'token key (.p8): its key id (default: from an AuthKey_<KEYID>.p8 name)')
    .option('--team-id <id>', 'token key (.p8): the team id')
    .option('--topic <topic>', 'the topic a --live push uses (needed for a token key; default: the certificate’s)')
    .option('--renewal', 'compare two certificates: OLD NEW must have the same topic, NEW expiring later', false)
    .option('--live', 'push once to APNs with the credential, to a device token of 64 zeros (BadDeviceToken = accepted)', false)
    .option('--apns-url <url>', 'the APNs provider endpoint for --live (default: Apple’s, for the certificate’s environment)')
    .option('--ca <file>', 'also trust the CA certificates in this PEM file (for --apns-url); repeatable', collect, [])
    .addOption(warnDaysOption())
    .option('-t, --timeout <ms>', 'bound for the --live push, in milliseconds', integer(1, 600_000), DEFAULT_TIMEOUT_MS)
    .option('--strict', 'warnings (expiring soon) fail the run too', false)
    .addOption(formatOption(formatNames, 'what goes to stdout'))
    .addOption(noColorOption());
  addOutputOptions(command).action(async (files: string[], flags: CertFlags) => {
    if (flags.renewal && files.length !== 2) throw new UsageError(`--renewal compares two certificates: OLD NEW (got ${files.length} files)`);
    const specs = specsFrom(files, flags);
    const settings = settingsFrom(flags);
    const outputs = outputsFrom(flags);
    checkOutputs(outputs);
    // Loaded here, not at start-up: the PKCS#12 and X.509 code is only for this command.
    const { runCredentialChecks, runRenewalCheck } = await import('../run/credentials.js');
    // Ctrl-C or SIGTERM during a --live push: the report says what finished, with the signal's exit code.
    const interrupt = abortOnStopSignals();
    let report: Report;
    try {
      const run = { ...settings, signal: interrupt.signal };
      report = flags.renewal ? await runRenewalCheck(specs[0]!, specs[1]!, run) : await runCredentialChecks(specs, run);
    } finally {
      interrupt.release();
    }
    await emitReport(report, { format: flags.format, outputs, color: useColor(flags.color) });
    process.exitCode = report.exitCode;
  });
}
