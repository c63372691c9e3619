/**
 * Entry point: runs the program (program.ts) as this process and turns the known error classes into exit codes.
 * 0 ok, 1 a critical check failed, 2 usage or input error, 130 interrupted. Unknown errors are bugs: re-thrown
 * (no top-level await: the single executable is CommonJS). bin/pushcheck.js answers the program's own help and
 * version without this file (start.ts); the single executable runs it for everything.
 */
import { setFlagsFromString } from 'node:v8';
import { commandFor, defaultCommand } from './commands.js';
import { exitIfDone, exitOnStdoutError } from './messages.js';
import { handle, runProgram } from './program.js';
import { mapUncaughtStacks } from './source-stack.js';

// A check is one short run. On Node 20 (V8 11) TurboFan compiles the probe path on background threads for more CPU
// than the run can win back: 1,000 loopback targets took 530 ms of CPU, 370 ms with a 16-fold tier-up budget, and
// 5,000 targets with a table were no slower (docs/contributing.md). Node 22 and later tier up otherwise (Maglev,
// and no such flag) and keep V8's defaults. Set before the command's own code first runs, for this process only.
if (process.versions.v8.startsWith('11.') && commandFor(process.argv.slice(2)) === defaultCommand) {
  setFlagsFromString('--interrupt-budget=1081344');
}
mapUncaughtStacks();
exitOnStdoutError();
runProgram(process.argv).then(exitIfDone, handle);
