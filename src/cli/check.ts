/** `pushcheck [rulesets...]`: the checker. Parses options, runs, renders; nothing else lives here. */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { fitSystemResolver, parseDnsServer, parsePin } from '../probes/dns.js';
import { QuickController } from '../probes/phases.js';
import { formatNames } from '../report/index.js';
import { resolveRuleSets } from '../rules/builtin.js';
import { countTargets, parseVars, parsePortRange } from '../rules/expand.js';
import { runChecks, type CheckSettings } from '../run/run.js';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_MS } from '../run/settings.js';
import { abortOnStopSignals } from '../signals.js';
import { showStatusLine } from '../terminal.js';
import type { FamilyChoice, Report, RuleSet } from '../types.js';
import { readCaFile } from './ca-file.js';
import { collect, DEFAULT_WARN_DAYS, formatOption, guardTerminalSize, holdDuration, integer, noColorOption, useColor, wantSpinner, warnDaysOption } from './options.js';
import { doneOnceOutputWritten } from './messages.js';
import { parseProxy, proxyFromEnvironment, proxyUrl } from './proxy-option.js';
import { addOutputOptions, checkOutputs, emitReport, outputsFrom } from './report-files.js';

/** A run larger than this is refused unless --max-targets says otherwise: `pushcheck all` is 61 targets. */
export const DEFAULT_MAX_TARGETS = 10_000;

export interface CheckFlags {
  format: string;
  timeout: number;
  concurrency: number;
  retries: number;
  dnsServer?: string;
  resolve: string[];
  ca: string[];
  var: string[];
  courier?: string;
  courierSample?: number;
  /** --max-targets; absent (callers that build flags by hand): DEFAULT_MAX_TARGETS. */
  maxTargets?: number;
  /** --proxy URL; false: --no-proxy (ignore the environment's proxy). */
  proxy?: string | false;
  /** --family; absent (callers that build flags by hand): both. */
  family?: FamilyChoice;
  /** --warn-days; absent (callers that build flags by hand): the default. */
  warnDays?: number;
  /** --hold, ms: keep long-lived channels' connections idle this long after their checks pass. */
  hold?: number;
  strict: boolean;
  insecure: boolean;
  color?: boolean;
  /** Further reports of the same run (`--json FILE`, `--junit FILE`, …; `-` is stdout). */
  json?: string;
  junit?: string;
  markdown?: string;
  prometheus?: string;
}

/** The options of a run; `pushcheck demo` reuses them. */
export function addCheckOptions(command: Command): Command {
  command.addOption(formatOption(formatNames, 'what goes to stdout'));
  return addProbeOptions(addOutputOptions(command))
    .option('--max-targets <n>', 'refuse a run of more targets than this', integer(1, Number.MAX_SAFE_INTEGER), DEFAULT_MAX_TARGETS)
    .option('--hold <duration>', 'keep the connections of long-lived channels (hold: true) open and idle this long after their checks pass, then prove they still answer: 90s, 5m, 30m, 1h', holdDuration)
    .addOption(noColorOption());
}

/** How to probe (timeouts, DNS, proxy, trust, variables): a check's options less its outputs; `pushcheck serve` uses them. */
export function addProbeOptions(command: Command): Command {
  return command
    .option('-t, --timeout <ms>', 'bound for each probe, in milliseconds', integer(1, 600_000), DEFAULT_TIMEOUT_MS)
    .option('-c, --concurrency <n>', 'probes in flight at once', integer(1, 1024), DEFAULT_CONCURRENCY)
    .option('-r, --retries <n>', 'tries again after a failure, for flaky links', integer(0, 10), 0)
    .option('--dns-server <ip[:port]>', 'ask this DNS server instead of the system resolver')
    .option('--resolve <host=ip>', 'pin a host (or *.domain) to an address, like curl --resolve; repeatable', collect, [])
    .option('--proxy <url>', 'connect through this proxy: http://[user:pass@]host:port (CONNECT) or socks5://[user:pass@]host:port (default: HTTPS_PROXY or ALL_PROXY, less NO_PROXY)')
    .option('--no-proxy', 'connect directly, whatever HTTPS_PROXY, ALL_PROXY and their lower-case forms say')
    .addOption(
      new Option('--family <4|6|both>', 'IP families to probe: each one a name has (both), or only IPv4 or IPv6')
        .choices(['4', '6', 'both'])
        .default('both'),
    )
    .option('--ca <file>', 'also trust the CA certificates in this PEM file; repeatable', collect, [])
    .option('--var <name=value>', 'a value for a ${name} in a rule, e.g. messageUrl=https://…; repeatable', collect, [])
    .option('--courier <from-to>', 'numbers to try for # in host names (default 0-50)')
    .option('--courier-sample <n>', 'how many of those numbers to probe (default 5)', integer(1, 1000))
    .addOption(warnDaysOption('a server certificate of your own rules expiring within this many days warns (a note on built-in rules)'))
    .option('--strict', 'warnings fail the run too (retired ports never do)', false)
    .option('--insecure', 'do not fail on certificate problems (still reported)', false);
}

/** Turns command-line flags into run settings; every mistake is a one-line UsageError. */
export function settingsFrom(flags: CheckFlags, env: NodeJS.ProcessEnv = process.env): CheckSettings {
  const numbered = flags.courier !== undefined ? parsePortRange(flags.courier, '--courier', 0, 1_000_000) : undefined;
  // --proxy wins; then the environment (curl's variables), unless --no-proxy.
  const fromEnvironment = flags.proxy === undefined ? proxyFromEnvironment(env) : undefined;
  const proxy = typeof flags.proxy === 'string' ? parseProxy(flags.proxy) : fromEnvironment?.proxy;
  const vars = parseVars(flags.var);
  return {
    timeoutMs: flags.timeout,
    concurrency: flags.concurrency,
    retries: flags.retries,
    strict: flags.strict,
    warnDays: flags.warnDays ?? DEFAULT_WARN_DAYS,
    insecure: flags.insecure,
    ...(flags.dnsServer !== undefined && { dnsServer: parseDnsServer(flags.dnsServer) }),
    pins: flags.resolve.map(parsePin),
    ...(proxy && { proxy }),
    ...(fromEnvironment && fromEnvironment.noProxy.length > 0 && { noProxy: fromEnvironment.noProxy }),
    family: flags.family ?? 'both',
    ...(flags.hold !== undefined && { holdMs: flags.hold }),
    caPems: flags.ca.map((file) => readCaFile('--ca', file)),
    vars,
    numbered: {
      ...(numbered && { from: numbered[0], to: numbered[1] }),
      ...(flags.courierSample !== undefined && { sample: flags.courierSample }),
    },
    recorded: {
      timeoutMs: flags.timeout,
      concurrency: flags.concurrency,
      retries: flags.retries,
      ...(flags.dnsServer !== undefined && { dnsServer: flags.dnsServer }),
      resolve: flags.resolve,
      caFiles: flags.ca,
      // Values may be private URLs with credentials in them: record the names only.
      vars: Object.keys(vars),
      strict: flags.strict,
      warnDays: flags.warnDays ?? DEFAULT_WARN_DAYS,
      insecure: flags.insecure,
      ...(flags.courier !== undefined && { courier: flags.courier }),
      ...(flags.courierSample !== undefined && { courierSample: flags.courierSample }),
      // user:***@, never the password.
      ...(proxy && { proxy: proxyUrl(proxy), proxySource: fromEnvironment?.source ?? '--proxy' }),
      ...(fromEnvironment && fromEnvironment.noProxyText.length > 0 && { noProxy: fromEnvironment.noProxyText }),
      family: flags.family ?? 'both',
      ...(flags.hold !== undefined && { holdMs: flags.hold }),
    },
  };
}

/** Runs with a spinner on a terminal and Ctrl-C handling, then prints the report; sets the exit code. */
export async function runAndPrint(ruleSets: RuleSet[], flags: CheckFlags): Promise<Report> {
  const settings = settingsFrom(flags);
  // A lookup the run gave up on must not keep the process running long after the report (docs/timeouts.md).
  if (!settings.dnsServer) fitSystemResolver(settings.timeoutMs);
  const outputs = outputsFrom(flags);
  // A report that could not be written, or that would overwrite an input, is known before a minute of probing.
  checkOutputs(outputs, [
    ...ruleSets.filter((set) => !set.builtin).map((set) => ({ file: set.file, what: 'the rule file' })),
    ...flags.ca.map((file) => ({ file, what: 'the --ca file' })),
  ]);
  // Millions of targets from a few lines of YAML (numbered hosts × ports × samples) are refused, not attempted.
  const maxTargets = flags.maxTargets ?? DEFAULT_MAX_TARGETS;
  const planned = ruleSets.reduce((sum, set) => sum + countTargets(set, { numbered: settings.numbered }), 0);
  if (planned > maxTargets) {
    throw new UsageError(
      `${ruleSets.map((set) => (set.builtin ? set.id : set.file)).join(', ')}: ${planned.toLocaleString('en-US')} targets, over the limit of ${maxTargets.toLocaleString('en-US')}: ` +
        'probe fewer hosts, ports or numbered samples (--courier-sample), or raise --max-targets',
    );
  }
  // --hold with no long-lived channel among the rules would wait for nothing: a mistake, said before the run.
  if (flags.hold !== undefined && !ruleSets.some((set) => set.rules.some((rule) => rule.hold))) {
    throw new UsageError(
      `--hold: no rule of ${ruleSets.map((set) => (set.builtin ? set.id : set.file)).join(', ')} is a long-lived channel (hold: true); ` +
        'the built-in ones are in apple-push, airwatch-apns, moki-ios, google-fcm and moki-android',
    );
  }
  // SIGTERM (CI job timeouts, `timeout`, `docker stop`) stops a run as Ctrl-C does: reports of what finished. A
  // QuickController's signal, which runChecks follows without adding an event listener to it: the first
  // addEventListener of a process took 0.3-0.6 ms before the first connect, and a TCP run made no other.
  const interrupt = abortOnStopSignals(new QuickController());
  // ora (and its dependencies) only where a person watches the run. The format first: asking whether stderr is a
  // terminal makes Node build process.stderr, which a run of another format may never write to.
  const spinner = flags.format === 'table' && wantSpinner()
    ? (await import('ora')).default({ stream: guardTerminalSize(process.stderr), text: 'starting', discardStdin: false }).start()
    : undefined;
  const status = spinner && progressLine((text) => (spinner.text = text));
  const hideStatusLine = spinner && showStatusLine(spinner);
  try {
    const report = await runChecks(ruleSets, settings, {
      signal: interrupt.signal,
      ...(status && { onProgress: status.progress, onHold: status.hold }),
    });
    status?.stop();
    spinner?.stop();
    hideStatusLine?.();
    // Interrupted or not, every requested report is written with what finished.
    await emitReport(report, { format: flags.format, outputs, color: useColor(flags.color) });
    process.exitCode = report.exitCode;
    return report;
  } finally {
    status?.stop();
    spinner?.stop();
    hideStatusLine?.();
    interrupt.release();
  }
}

/**
 * The spinner's text: targets probed, then, while --hold keeps connections idle, a countdown to the last proof
 * (ticking each second; the tick stops with the holds).
 */
function progressLine(show: (text: string) => void): {
  progress: (done: number, total: number) => void;
  hold: (holding: number, lastEndsAt: number) => void;
  stop: () => void;
} {
  let probing = 'starting';
  let holding = 0;
  let lastEndsAt = 0;
  let tick: NodeJS.Timeout | undefined;
  const render = (): void => {
    if (holding === 0) return show(probing);
    const left = Math.max(0, lastEndsAt - Date.now());
    const clock = `${Math.floor(left / 60_000)}:${String(Math.floor((left % 60_000) / 1000)).padStart(2, '0')}`;
    show(`${probing}; holding ${holding} connection${holding === 1 ? '' : 's'} idle, ${clock} left`);
  };
  const stop = (): void => {
    clearInterval(tick);
    tick = undefined;
  };
  return {
    progress: (done, total) => {
      probing = `probing: ${done}/${total} targets done`;
      render();
    },
    hold: (count, endsAt) => {
      holding = count;
      lastEndsAt = endsAt;
      if (count > 0 && !tick) tick = setInterval(render, 1000).unref();
      if (count === 0) stop();
      render();
    },
    stop,
  };
}

export function register(program: Command): void {
  const command = program
    .command('check', { isDefault: true })
    .description('check rule sets against this network: built-in names or aliases (ios, android, apns, …), "all", or rule files')
    .argument('[rulesets...]', 'rule set names, aliases, "all", or paths to YAML rule files');
  addCheckOptions(command).action(async (names: string[], flags: CheckFlags) => {
    if (names.length === 0) {
      command.outputHelp({ error: true });
      throw new UsageError('name a rule set to check (see `pushcheck rules list`), or "all"');
    }
    await runAndPrint(resolveRuleSets(names), flags);
    doneOnceOutputWritten();
  });
}
