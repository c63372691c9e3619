/**
 * Entry point: wires the one command that runs and turns the known error classes into exit codes.
 * 0 ok, 1 a critical check failed, 2 usage or input error, 130 interrupted. Unknown errors are bugs: re-thrown.
 * Start-up cost is the price of every run and of every test that spawns the CLI, so nothing is imported
 * before the arguments say what is needed (see commands.ts).
 */
import { Command, CommanderError, Help } from 'commander';
import { commandFor, commands } from './commands.js';
import { isUsageError } from '../errors.js';
import { exitOnStdoutError, printable, printError } from './messages.js';
import { mapStack, mapUncaughtStacks } from './source-stack.js';
import { version } from '../version.js';

async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
    process.stdout.write(`${version}\n`);
    return;
  }
  const program = new Command('pushcheck')
    .description('Checks whether this network lets MDM push traffic through, and what breaks if it does not.')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(printable(text.replace(/^error: /, 'pushcheck: '))) });
  const entry = commandFor(args);
  if (entry) {
    (await entry.load()).register(program);
  } else {
    // The program's own help: every command listed from the registry, none imported.
    const synopses = new Map(commands.map((c) => [c.name, `${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`]));
    program.configureHelp({ subcommandTerm: (cmd) => synopses.get(cmd.name()) ?? new Help().subcommandTerm(cmd) });
    for (const c of commands) program.command(c.name).description(c.description);
  }
  await program.parseAsync(argv);
}

/** Runs the CLI and sets the exit code; a bug is re-thrown (no top-level await: the single executable is CommonJS). */
function handle(err: unknown): void {
  if (err instanceof CommanderError) {
    // Help and --version end in a CommanderError too; they are not failures.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (isUsageError(err)) {
    printError(err.message);
    process.exitCode = 2;
  } else {
    mapStack(err);
    throw err;
  }
}

mapUncaughtStacks();
exitOnStdoutError();
main(process.argv).catch(handle);
