/**
 * A check is one short run. On Node 20 (V8 11) TurboFan compiles the probe path on background threads for more CPU
 * than the run can win back: 1,000 loopback targets took 530 ms of CPU, 370 ms with a 16-fold tier-up budget, and
 * 5,000 targets with a table were no slower (docs/contributing.md). Node 22 and later tier up otherwise (Maglev, and
 * no such flag) and keep V8's defaults.
 *
 * Set before the check's code is compiled: start.ts calls this before it runs check.cjs, main.ts for the single
 * executable and main.js. V8 refuses a code cache made under other flags, so a flag set after check.cjs was compiled
 * from its cache made every next run's cache unusable (code-cache.ts); setting it again to the same value is harmless.
 */
import { commandFor, defaultCommand } from './commands.js';

export function tierUpForCheck(args: string[]): void {
  if (process.versions.v8.startsWith('11.') && commandFor(args) === defaultCommand) {
    process.getBuiltinModule('node:v8').setFlagsFromString('--interrupt-budget=1081344');
  }
}
