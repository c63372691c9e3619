/**
 * `pushcheck serve`: a Prometheus exporter for push connectivity, one per site, scraped by the Prometheus the
 * operations team already runs (as blackbox_exporter is). Parses options, starts the server, stops on SIGTERM/SIGINT;
 * the exporter itself lives in src/serve/.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { resolveRuleSets } from '../rules/builtin.js';
import { runChecks } from '../run/run.js';
import { Exporter } from '../serve/exporter.js';
import { startServeServer } from '../serve/server.js';
import { addProbeOptions, settingsFrom, type CheckFlags } from './check.js';
import { collect } from './options.js';

export const DEFAULT_LISTEN = '127.0.0.1:9595';
/** How long shutdown waits for scrapes in flight before it aborts them. */
const MAX_SHUTDOWN_GRACE_MS = 30_000;

interface ServeFlags extends Omit<CheckFlags, 'format'> {
  listen: string;
  rules: string[];
  allowTargets: boolean;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every interface, as Prometheus's own --web.listen-address). */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--listen "${text}": expected HOST:PORT, [IPv6]:PORT or :PORT (e.g. ${DEFAULT_LISTEN})`);
  const host = match[1] ?? match[2] ?? '';
  if (match[1] !== undefined && isIP(host) !== 6) throw new UsageError(`--listen "${text}": "${host}" is not an IPv6 address`);
  return { host: host === '' ? '::' : host, port };
}

/** Said before listening anywhere but on one address: an exporter runs checks for whoever reaches it. */
export function listenWarning(host: string, port: number): string | undefined {
  if (host !== '::' && host !== '0.0.0.0') return undefined;
  return `listening on every interface: anyone who can reach port ${port} can make this machine run the loaded checks; restrict it with a firewall or --listen 127.0.0.1:${port}`;
}

export function register(program: Command): void {
  const command = program
    .command('serve')
    .description('a Prometheus exporter: /probe?ruleset=NAME runs those checks when Prometheus scrapes (see docs/serve.md)')
    .option('--listen <host:port>', 'where to listen; ":9595" means every interface (anyone who reaches it can run the checks)', DEFAULT_LISTEN)
    .option('--rules <file>', 'also serve the rule sets of this file; repeatable', collect, [])
    .option('--allow-targets', 'let a scrape name its own target=HOST:PORT (off: only loaded rule sets can be probed)', false);
  addProbeOptions(command).action(async (flags: ServeFlags) => {
    const listen = parseListen(flags.listen);
    const ruleSets = resolveRuleSets(['all', ...flags.rules]);
    const settings = settingsFrom({ ...flags, format: 'table' });
    const exporter = new Exporter({ ruleSets, settings, allowTargets: flags.allowTargets, runChecks });
    const warning = listenWarning(listen.host, listen.port);
    if (warning) process.stderr.write(`pushcheck serve: WARNING: ${warning}\n`);
    const server = await startServeServer(exporter, listen);
    process.stderr.write(`pushcheck serve: listening on ${server.url} (rule sets: ${ruleSets.map((s) => s.id).join(', ')})\n`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) {
          // A second signal: stop waiting for anything.
          process.exit(signal === 'SIGINT' ? 130 : 143);
        }
        stopping = true;
        process.stderr.write(`pushcheck serve: ${signal}: finishing the scrapes in flight, then stopping\n`);
        const graceMs = Math.min(settings.timeoutMs + 1000, MAX_SHUTDOWN_GRACE_MS);
        void server.close(graceMs).then(resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    process.stderr.write('pushcheck serve: stopped\n');
    process.exitCode = 0;
  });
}
