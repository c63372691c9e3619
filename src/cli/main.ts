/**
 * Entry point: wires the commands and turns the known error classes into exit codes.
 * 0 ok, 1 a critical check failed, 2 usage or input error, 130 interrupted. Unknown errors are bugs: re-thrown.
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands.js';
import { isUsageError } from '../errors.js';
import { version } from '../version.js';

async function main(argv: string[]): Promise<void> {
  const program = new Command('pushcheck')
    .description('Checks whether this network lets MDM push traffic through, and what breaks if it does not.')
    .version(version)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'pushcheck: ')) });
  for (const load of commands) (await load()).register(program);
  await program.parseAsync(argv);
}

try {
  await main(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and --version end in a CommanderError too; they are not failures.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (isUsageError(err)) {
    process.stderr.write(`pushcheck: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
