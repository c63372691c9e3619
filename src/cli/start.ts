/**
 * The CLI's first file: bin/pushcheck.js requires its CommonJS bundle (dist/bundle/start.cjs), which answers the
 * program's own help and version and hands every command to main.ts's ES module bundle.
 * Why CommonJS first: on Node 20, which has no compile cache, an ES module entry pays for Node's ES module loader
 * and for each file it imports, and `pushcheck --help` spent longer there than on its own work (the figures are in
 * docs/contributing.md, "Benchmarks"). --version loads neither commander (program.cjs) nor Node's stream modules.
 * The check command, the one that runs most, has a CommonJS bundle of its own (check.cjs), and so has the rules command
 * (rules.cjs: `rules list` spent longer in Node 20's ES module loader than on its work): those marked `bundled` in the
 * registry (commands.ts). bin/pushcheck.js runs those bundles and program.cjs with V8's code cache (code-cache.cjs,
 * from code-cache.ts).
 * The program's own help (`--help`, `-h`, `help`) is printed as commander wrote it when the bundles were built
 * (scripts/bundle.mjs, with program.ts's programHelp), without loading commander, whenever commander would write the
 * same: a stdout that is not a terminal, or a terminal as wide as the build's. Any other help runs commander.
 */
import { fstatSync, statSync, type Stats } from 'node:fs';
import { commandFor, defaultCommand, isHelpOnly, isVersionOnly } from './commands.js';
import { resumeExtraCaCerts } from '../extra-ca-certs.js';
import { exitOnStdoutError, writeStdoutNow } from './messages.js';
import { mapUncaughtStacks } from './source-stack.js';
import { v8FlagsForCheck } from './v8-flags.js';
import { version } from '../version.js';
import type * as Program from './program.js';

/**
 * How the entry loads the rest: the program for the help (program.cjs), the bundle of a command marked `bundled`
 * (`<name>.cjs`) for it, and main.js for any other (each runs the command it is loaded for).
 */
export interface Loaders {
  program: () => typeof Program;
  /** A command marked `bundled` in the registry (commands.ts): runs dist/bundle/<name>.cjs. */
  command: (name: string) => unknown;
  main: () => Promise<unknown>;
}

/** The program's help as the build stored it: commander's text for a stdout of `columns` columns or none. */
interface BuiltHelp {
  text: string;
  columns: number;
}

declare const PUSHCHECK_PROGRAM_HELP: BuiltHelp | undefined;
/** Only in the bundle (scripts/bundle.mjs defines it); vitest and tsc's output always run commander. */
const builtHelp: BuiltHelp | undefined = typeof PUSHCHECK_PROGRAM_HELP === 'object' ? PUSHCHECK_PROGRAM_HELP : undefined;

/**
 * The help text the build stored, when commander would write exactly that now: it reads the width of stdout if it is
 * a terminal (80 when it is not) and nothing else that changes the text (the build checked it is the same in colour).
 */
function storedHelp(): string | undefined {
  if (builtHelp === undefined) return undefined;
  const terminal = stdoutMayBeTerminal();
  if (terminal === undefined) return undefined; // no stdout at all: commander's way
  return !terminal || !process.stdout.isTTY || process.stdout.columns === builtHelp.columns ? builtHelp.text : undefined;
}

/**
 * `false` for a stdout that is surely no terminal: no character device, or the null device (`> /dev/null`). Told by
 * fstat, without creating `process.stdout`, whose stream modules cost more than the help (docs/contributing.md,
 * "Start-up"). `true` for any other character device, which `process.stdout.isTTY` then tells; `undefined` without fd 1.
 */
function stdoutMayBeTerminal(): boolean | undefined {
  let stdout: Stats;
  try {
    stdout = fstatSync(1);
  } catch {
    return undefined;
  }
  if (!stdout.isCharacterDevice()) return false;
  try {
    return stdout.rdev !== statSync('/dev/null').rdev;
  } catch {
    return true; // no /dev/null here (Windows)
  }
}

export function start(argv: string[], load: Loaders): Promise<unknown> {
  // First, before anything could start a process: NODE_EXTRA_CA_CERTS back as the user set it (bin/pushcheck.js).
  resumeExtraCaCerts();
  const args = argv.slice(2);
  const command = commandFor(args);
  if (command?.bundled) {
    if (command === defaultCommand) v8FlagsForCheck(args);
    return Promise.resolve().then(() => load.command(command.name));
  }
  if (command !== undefined) return load.main();
  mapUncaughtStacks();
  if (isVersionOnly(args)) {
    writeStdoutNow(`${version}\n`);
    return Promise.resolve();
  }
  const help = isHelpOnly(args) ? storedHelp() : undefined;
  if (help !== undefined) {
    writeStdoutNow(help);
    return Promise.resolve();
  }
  exitOnStdoutError();
  const { handle, runProgram } = load.program();
  return runProgram(argv).catch(handle);
}
