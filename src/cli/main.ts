/**
 * Entry point: runs the program (program.ts) as this process and turns the known error classes into exit codes.
 * 0 ok, 1 a critical check failed, 2 usage or input error, 130 interrupted. Unknown errors are bugs: re-thrown
 * (no top-level await: the single executable is CommonJS). bin/pushcheck.js answers the program's own help and
 * version without this file (start.ts); the single executable runs it for everything.
 */
import { exitIfDone, exitOnStdoutError } from './messages.js';
import { handle, runProgram } from './program.js';
import { mapUncaughtStacks } from './source-stack.js';
import { v8FlagsForCheck } from './v8-flags.js';

v8FlagsForCheck(process.argv.slice(2));
mapUncaughtStacks();
exitOnStdoutError();
runProgram(process.argv).then(exitIfDone, handle);
