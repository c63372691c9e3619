/** `pushcheck burst RULESET...`: load the user's own message-file server as the clients do after a publication. */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { abortOnStopSignals } from '../signals.js';
import { formatNames } from '../report/index.js';
import { resolveRuleSets } from '../rules/builtin.js';
import {
  DEFAULT_BURST_CLIENTS,
  DEFAULT_BURST_WINDOW_MS,
  DEFAULT_SLO,
  MAX_BURST_CLIENTS,
  MAX_BURST_WINDOW_MS,
  planBurst,
  runBursts,
  sloText,
} from '../run/burst.js';
import { checkOf } from '../probes/index.js';
import { settingsFrom } from './check.js';
import { collect, formatOption, integer, noColorOption, useColor } from './options.js';
import { addOutputOptions, checkOutputs, emitReport, outputsFrom } from './report-files.js';

/** Each client's HEAD and GET together: well above the default SLO, so a slow answer is measured, not cut off. */
const DEFAULT_CLIENT_TIMEOUT_MS = 30_000;

interface BurstFlags {
  clients: number;
  within: number;
  sloSuccess: number;
  sloP99: number;
  timeout: number;
  var: string[];
  resolve: string[];
  dnsServer?: string;
  ca: string[];
  insecure: boolean;
  format: string;
  color?: boolean;
}

/** `2s`, `1.5s`, `500ms`, or a bare number of seconds → ms, within [minMs, maxMs]. */
export function durationMs(minMs: number, maxMs: number) {
  return (text: string): number => {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(text.trim());
    if (!match) throw new InvalidArgumentError(`expected a duration such as 2s or 500ms, got "${text}"`);
    const value = Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : 1000));
    if (value < minMs || value > maxMs) throw new InvalidArgumentError(`expected ${minMs} ms to ${maxMs / 1000} s, got ${text}`);
    return value;
  };
}

function percent(text: string): number {
  const value = Number(text.trim().replace(/%$/, ''));
  if (!Number.isFinite(value) || value < 0 || value > 100) throw new InvalidArgumentError(`expected a percentage 0-100, got "${text}"`);
  return value;
}

export function register(program: Command): void {
  const command = program
    .command('burst')
    .description('load your own message-file server as clients do after a publication (N clients, HEAD then GET each) and hold it to an SLO; vendor hosts are never loaded (see docs/burst.md)')
    .argument('<rulesets...>', 'rule set names or files; their URLs from --var or your own files are loaded')
    .addOption(formatOption(formatNames, 'what goes to stdout'))
    .option('-n, --clients <n>', `how many clients (1-${MAX_BURST_CLIENTS})`, integer(1, MAX_BURST_CLIENTS), DEFAULT_BURST_CLIENTS)
    .addOption(
      new Option('-w, --within <duration>', 'the window all clients start in, e.g. 2s, 500ms (at most 60s)')
        .argParser(durationMs(0, MAX_BURST_WINDOW_MS))
        .default(DEFAULT_BURST_WINDOW_MS, `${DEFAULT_BURST_WINDOW_MS / 1000}s`),
    )
    .option('--slo-success <percent>', 'SLO: share of clients that must succeed, e.g. 99.9', percent, DEFAULT_SLO.successPercent)
    .addOption(
      new Option('--slo-p99 <duration>', 'SLO: p99 time to the last byte must be under this')
        .argParser(durationMs(1, 600_000))
        .default(DEFAULT_SLO.p99Ms, `${DEFAULT_SLO.p99Ms / 1000}s`),
    )
    .option('-t, --timeout <ms>', "bound for each client's HEAD and GET together, in milliseconds", integer(1, 600_000), DEFAULT_CLIENT_TIMEOUT_MS)
    .option('--var <name=value>', 'a value for a ${name} in a rule, e.g. messageUrl=https://…; repeatable', collect, [])
    .option('--resolve <host=ip>', 'pin a host to an address, like curl --resolve; repeatable', collect, [])
    .option('--dns-server <ip[:port]>', 'ask this DNS server instead of the system resolver')
    .option('--ca <file>', 'also trust the CA certificates in this PEM file; repeatable', collect, [])
    .option('--insecure', 'do not verify certificates', false)
    .addOption(noColorOption());
  addOutputOptions(command).action(async (names: string[], flags: BurstFlags) => {
    const ruleSets = resolveRuleSets(names);
    const check = settingsFrom({ ...flags, concurrency: flags.clients, retries: 0, strict: false });
    const planned = planBurst(ruleSets, check.vars);
    if (planned.every((p) => p.skipReason !== undefined)) {
      // The missing --var of an HTTP rule is what the user can supply; vendor hosts and other kinds are never loaded.
      const reasons = [...new Set(planned.flatMap((p) => (p.skipReason?.startsWith('set --var') && checkOf(p.target.check).speaks.http ? [p.skipReason] : [])))];
      const how = reasons.length > 0 ? reasons.join('; ') : 'its rules name only vendor hosts';
      throw new UsageError(`burst ${names.join(' ')}: nothing of yours to load: ${how} (vendor hosts are never loaded)`);
    }
    const slo = { successPercent: flags.sloSuccess, p99Ms: flags.sloP99 };
    const outputs = outputsFrom(flags);
    checkOutputs(outputs);
    const stop = abortOnStopSignals();
    try {
      const report = await runBursts(
        ruleSets,
        {
          ...check,
          clients: flags.clients,
          withinMs: flags.within,
          timeoutMs: flags.timeout,
          slo,
          recorded: { ...check.recorded, burst: { clients: flags.clients, withinMs: flags.within, slo } },
        },
        {
          signal: stop.signal,
          onStart: (target) =>
            process.stderr.write(
              `pushcheck burst: loading ${target.host}:${target.port} with ${flags.clients} clients (HEAD then GET) ` +
                `within ${flags.within / 1000} s; SLO: ${sloText(slo)}; Ctrl-C stops\n`,
            ),
        },
      );
      await emitReport(report, { format: flags.format, outputs, color: useColor(flags.color) });
      process.exitCode = report.exitCode;
    } finally {
      stop.release();
    }
  });
}
