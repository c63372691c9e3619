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
 */
import { commandFor, defaultCommand, isVersionOnly } from './commands.js';
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
  exitOnStdoutError();
  const { handle, runProgram } = load.program();
  return runProgram(argv).catch(handle);
}
