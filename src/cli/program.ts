/**
 * The program without the process: parses the arguments, loads and runs the one command they name, and says which
 * exit code an error means. `main.ts` wires it to `process`; tests run it in process for what needs no process
 * (usage errors, rule-file errors, what a command prints), and spawn the CLI only for what only a process shows.
 * Start-up cost is the price of every run and of every test that spawns the CLI, so nothing is imported
 * before the arguments say what is needed (see commands.ts).
 */
import { Command, CommanderError, Help } from 'commander';
import { commandFor, commands, isVersionOnly } from './commands.js';
import { isUsageError } from '../errors.js';
import { printable, printError } from './messages.js';
import { mapStack } from './source-stack.js';
import { version } from '../version.js';

/** Runs the command `argv` names (`argv` as in `process.argv`: node, script, arguments); sets `process.exitCode`. */
export async function runProgram(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (isVersionOnly(args)) {
    process.stdout.write(`${version}\n`);
    return;
  }
  const entry = commandFor(args);
  const program = entry ? newProgram() : programWithCommandList();
  if (entry) (await entry.load()).register(program);
  await program.parseAsync(argv);
}

/** The program with none of its commands yet. */
function newProgram(): Command {
  return new Command('pushcheck')
    .description('Checks whether this network lets MDM push traffic through, and what breaks if it does not.')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(printable(text.replace(/^error: /, 'pushcheck: '))) });
}

/** The program for its own help: every command listed from the registry, none imported. */
function programWithCommandList(): Command {
  const program = newProgram();
  const synopses = new Map(commands.map((c) => [c.name, `${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`]));
  program.configureHelp({ subcommandTerm: (cmd) => synopses.get(cmd.name()) ?? new Help().subcommandTerm(cmd) });
  for (const c of commands) program.command(c.name).description(c.description);
  return program;
}

/**
 * The program's own help as commander writes it for `pushcheck --help` to a stdout of `helpWidth` columns
 * (`undefined`: not a terminal), with or without colour. scripts/bundle.mjs stores it in start.cjs (start.ts).
 */
export function programHelp(helpWidth: number | undefined, hasColors: boolean): string {
  let text = '';
  // commander's own getOutHelpWidth gives undefined for a stdout that is not a terminal, though its type says number.
  const getOutHelpWidth = () => helpWidth as number;
  programWithCommandList()
    .configureOutput({ writeOut: (chunk) => (text += chunk), getOutHelpWidth, getOutHasColors: () => hasColors })
    .outputHelp();
  return text;
}

/**
 * The exit code of an error the CLI knows, its one line printed (commander prints its own); `undefined` for a bug,
 * which the caller re-throws. Help and --version end in a CommanderError too: they are not failures.
 */
export function exitCodeFor(err: unknown): number | undefined {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
  if (isUsageError(err)) {
    printError(err.message);
    return 2;
  }
  return undefined;
}

/** What the entries (main.ts, start.ts) do with an error: its exit code, or a bug re-thrown with its stack mapped to src/. */
export function handle(err: unknown): void {
  const code = exitCodeFor(err);
  if (code === undefined) {
    mapStack(err);
    throw err;
  }
  process.exitCode = code;
}
