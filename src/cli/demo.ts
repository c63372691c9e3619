/**
 * `pushcheck demo [rulesets...]`: the built-in rule sets against a simulated network on loopback, so that anyone can
 * see every verdict without Apple, Google or root. The run is a real one (runAndPrint, the same options, report
 * and exit codes); only the network is pushcheck's own: src/demo/ describes and starts it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { loadBuiltinRuleSets, resolveRuleSets } from '../rules/builtin.js';
import { expandTargets } from '../rules/expand.js';
import { SIGNAL_EXIT_CODES, type StopSignal } from '../signals.js';
import type { RuleSet } from '../types.js';
import { DEMO_PORT_OFFSET, DEMO_TIMEOUT_MS, DEMO_VARS, demoRuleSet, problemsMet, type Problem } from '../demo/network.js';
import { startDemoOffLoop, type RunningDemo } from '../demo/off-loop.js';
import { addCheckOptions, runAndPrint, settingsFrom, type CheckFlags } from './check.js';

interface DemoFlags extends CheckFlags {
  clean: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('demo')
    .description('check the built-in rule sets against a simulated network on loopback: every verdict, no setup, no Internet')
    .argument('[rulesets...]', 'built-in rule set names or aliases (default: all of them)')
    .option('--clean', 'a healthy network: every check passes', false);
  addCheckOptions(command);
  // One silent host costs a whole timeout; the demo's own default keeps it to seconds.
  const timeout = command.options.find((option) => option.attributeName() === 'timeout');
  timeout?.default(DEMO_TIMEOUT_MS);
  command.setOptionValueWithSource('timeout', DEMO_TIMEOUT_MS, 'default');
  // The demo sets these itself or has no use for them (and refuses them): they stay out of its help.
  const hidden = ['resolve', 'dnsServer', 'var', 'proxy']; // proxy: --proxy and --no-proxy
  for (const option of command.options) if (hidden.includes(option.attributeName())) option.hideHelp();
  command.action((names: string[], flags: DemoFlags) => runDemo(names, flags));
}

/**
 * Options the demo sets itself, or that have no place there: its network is simulated, so the user's own would
 * point it elsewhere.
 */
function refuseOwnNetworkOptions(flags: DemoFlags): void {
  const given: Array<[string, boolean]> = [
    ['--resolve', flags.resolve.length > 0],
    ['--dns-server', flags.dnsServer !== undefined],
    ['--var', flags.var.length > 0],
  ];
  for (const [option, isGiven] of given) {
    if (isGiven) throw new UsageError(`demo: ${option} is set by the demo itself, whose network is simulated; leave it out`);
  }
  if (typeof flags.proxy === 'string') throw new UsageError('demo: --proxy does not apply: the simulated network is on loopback, with no proxy in it; leave it out');
}

function demoRuleSets(names: string[]): RuleSet[] {
  const chosen = names.length === 0 ? loadBuiltinRuleSets() : resolveRuleSets(names);
  const file = chosen.find((set) => !set.builtin);
  if (file) throw new UsageError(`demo: runs the built-in rule sets only; check ${file.file} with \`pushcheck ${file.file}\``);
  return chosen.map(demoRuleSet);
}

function preamble(problems: Problem[], options: { clean: boolean; dnsAddress: string; shared: boolean }): string {
  const where = options.shared
    ? `${options.dnsAddress} (this system has no other loopback address)`
    : options.dnsAddress.replace(/\.\d+\.\d+$/, '.x.x');
  const lines = [
    'pushcheck demo: a simulated network on loopback; nothing leaves this machine.',
    `Every host is served by pushcheck itself on ${where}, pinned with --resolve, with certificates of a demo CA`,
    `this run trusts (--ca). Ports are the vendor's plus ${DEMO_PORT_OFFSET} (${443 + DEMO_PORT_OFFSET} stands for 443): ports under 1024 need root.`,
  ];
  if (options.clean) {
    lines.push('This network is healthy. `pushcheck demo` shows one with the problems admins meet.');
  } else if (problems.length > 0) {
    lines.push('What is wrong with this network:', ...problems.map((p) => `  - ${p.story}`));
    lines.push('`pushcheck demo --clean` runs the same checks on a healthy network.');
  }
  return `${lines.join('\n')}\n\n`;
}

async function runDemo(names: string[], flags: DemoFlags): Promise<void> {
  refuseOwnNetworkOptions(flags);
  const ruleSets = demoRuleSets(names);
  const vars = Object.entries(DEMO_VARS).map(([name, value]) => `${name}=${value}`);
  // Also validates --courier and --ca before anything starts.
  const { numbered } = settingsFrom({ ...flags, var: vars, proxy: false });
  const targets = ruleSets.flatMap((set) => expandTargets(set, { vars: DEMO_VARS, ...(numbered && { numbered }) }));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-demo-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  // A second Ctrl-C or SIGTERM makes runAndPrint exit at once: the temporary CA file goes then too. Listening
  // sockets and connections end with the process (the worker thread that holds the demo's servers too).
  process.once('exit', removeDir);
  // While the network starts, a signal is remembered; once it runs, runAndPrint stops the run and writes reports.
  let interruptedDuringStart: StopSignal | undefined;
  const onStartSignal = (signal: StopSignal): void => {
    interruptedDuringStart = signal;
  };
  process.on('SIGINT', onStartSignal);
  process.on('SIGTERM', onStartSignal);
  let network: RunningDemo | undefined;
  try {
    try {
      network = await startDemoOffLoop(targets, { clean: flags.clean });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') {
        throw new UsageError(`demo: cannot listen on ${(err as { address?: string }).address ?? 'loopback'}:${(err as { port?: number }).port ?? '?'} (${code}); another program, or other demos, use the demo's ports (vendor port + ${DEMO_PORT_OFFSET})`);
      }
      throw err;
    }
    process.off('SIGINT', onStartSignal);
    process.off('SIGTERM', onStartSignal);
    if (interruptedDuringStart) {
      process.exitCode = SIGNAL_EXIT_CODES[interruptedDuringStart];
      return;
    }
    const { plan } = network;
    for (const endpoint of network.occupied) {
      process.stderr.write(`pushcheck demo: something else on this machine listens on ${endpoint}, which the demo means to be closed\n`);
    }
    const caFile = path.join(dir, 'pushcheck-demo-ca.pem');
    writeFileSync(caFile, network.caPem);
    if (flags.format === 'table') {
      process.stderr.write(preamble(problemsMet(targets), { clean: flags.clean, dnsAddress: plan.dnsAddress, shared: network.shared }));
    }
    await runAndPrint(ruleSets, {
      ...flags,
      var: vars,
      resolve: plan.pins,
      dnsServer: network.dnsServer,
      ca: [...flags.ca, caFile],
      // The simulated network is on loopback: a proxy from the environment never applies to it.
      proxy: false,
    });
  } finally {
    process.off('SIGINT', onStartSignal);
    process.off('SIGTERM', onStartSignal);
    removeDir();
    process.off('exit', removeDir);
    await network?.close();
  }
}
