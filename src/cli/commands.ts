/**
 * The command registry: each command is one file exporting `register(program)`, and one line here.
 * `main.ts` imports only the command that runs; `pushcheck --help` lists these lines without importing any.
 * `synopsis` is what the help list shows after the name (a test holds it, and the description, to the command's own).
 * The first entry (`pushcheck [rulesets...]`) is the default command.
 */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandEntry {
  name: string;
  synopsis: string;
  description: string;
  load: () => Promise<{ register: RegisterCommand }>;
  /**
   * Has a CommonJS bundle of its own, dist/bundle/<name>.cjs, which bin/pushcheck.js runs through V8's code cache
   * (start.ts); scripts/bundle.mjs builds one for each command marked so. Others run from the ES module bundle main.js.
   */
  bundled?: true;
}

export const commands: readonly CommandEntry[] = [
  { name: 'check', synopsis: '[options] [rulesets...]', description: 'check rule sets against this network: built-in names or aliases (ios, android, apns, …), "all", or rule files', load: () => import('./check.js'), bundled: true },
  { name: 'cert', synopsis: '[options] <files...>', description: 'check APNs credentials: push certificates (PEM, DER, .p12/.pfx) and token keys (.p8); --live pushes once to APNs', load: () => import('./cert.js') },
  { name: 'rules', synopsis: '', description: 'list, show and validate rule sets', load: () => import('./rules.js'), bundled: true },
  { name: 'report', synopsis: '[options] <file>', description: 'render a saved JSON report again (as the run showed it, with its exit code), or in another format', load: () => import('./report.js') },
  { name: 'diff', synopsis: '[options] <old> <new>', description: 'compare two saved JSON reports target by target; exit 1 when a target newly fails', load: () => import('./diff.js') },
  { name: 'harness', synopsis: '[options]', description: 'run the mock APNs, MDM server, FCM and admin API on loopback until interrupted', load: () => import('./harness.js') },
  { name: 'simulate', synopsis: '[options]', description: 'run a simulated fleet (APNs, FCM, MDM, devices) on a virtual clock and report what reached whom', load: () => import('./simulate.js') },
  { name: 'demo', synopsis: '[options] [rulesets...]', description: 'check the built-in rule sets against a simulated network on loopback: every verdict, no setup, no Internet', load: () => import('./demo.js') },
  { name: 'serve', synopsis: '[options]', description: 'a Prometheus exporter: /probe?ruleset=NAME runs those checks when Prometheus scrapes (see docs/serve.md)', load: () => import('./serve.js') },
  { name: 'burst', synopsis: '[options] <rulesets...>', description: 'load your own message-file server as clients do after a publication (N clients, HEAD then GET each) and hold it to an SLO; vendor hosts are never loaded (see docs/burst.md)', load: () => import('./burst.js') },
];

/** The default command, run when the first argument names no command (`pushcheck ios`). */
export const defaultCommand: CommandEntry = commands[0]!;

/** `--version` or `-V` alone: answered before commander is even loaded. */
export function isVersionOnly(args: readonly string[]): boolean {
  return args.length === 1 && (args[0] === '--version' || args[0] === '-V');
}

/** `--help`, `-h` or `help` alone: the program's own help, on stdout, which start.ts may print as the build stored it. */
export function isHelpOnly(args: readonly string[]): boolean {
  return args.length === 1 && (args[0] === '--help' || args[0] === '-h' || args[0] === 'help');
}

/**
 * Which command an argument list runs: `undefined` for the program's own help and version,
 * which need no command module.
 */
export function commandFor(args: readonly string[]): CommandEntry | undefined {
  const [first, second] = args;
  // `pushcheck` alone: the program's help (every command), as git and curl print theirs.
  if (first === undefined) return undefined;
  if (['-h', '--help', '-V', '--version'].includes(first)) return undefined;
  if (first === 'help') return commands.find((entry) => entry.name === second);
  return commands.find((entry) => entry.name === first) ?? defaultCommand;
}
