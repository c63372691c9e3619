/**
 * Entry point: runs the program (program.ts) as this process and turns the known error classes into exit codes.
 * 0 ok, 1 a critical check failed, 2 usage or input error, 130 interrupted. Unknown errors are bugs: re-thrown.
 */
import { exitOnStdoutError } from './messages.js';
import { exitCodeFor, runProgram } from './program.js';
import { mapStack, mapUncaughtStacks } from './source-stack.js';

/** Sets the exit code; a bug is re-thrown (no top-level await: the single executable is CommonJS). */
function handle(err: unknown): void {
  const code = exitCodeFor(err);
  if (code === undefined) {
    mapStack(err);
    throw err;
  }
  process.exitCode = code;
}

mapUncaughtStacks();
exitOnStdoutError();
runProgram(process.argv).catch(handle);
