/**
 * V8 flags for the check command on Node 20 (V8 11), set before the check's code is compiled: start.ts calls this
 * before it runs check.cjs, main.ts for the single executable and main.js. V8 refuses a code cache made under other
 * flags, so a flag set after check.cjs was compiled from its cache made every next run's cache unusable
 * (code-cache.ts); a process sets them once (v8FlagsForCheck). Only flags V8 reads while running take effect here:
 * the young generation's starting size (--min-semi-space-size) is fixed when the heap is made and is ignored later.
 */
import { commandFor, defaultCommand } from './commands.js';
import { changedV8Flags, noteChangedV8Flags, type ChangedV8Flags } from '../v8-defaults.js';

/**
 * The Node built-ins every check loads (connects, timings, the code cache and its checksum, the report's machine),
 * loaded before the flags below are set: Node compiles its built-ins from a code cache made under V8's default flags,
 * and V8 refuses a cache made under other flags, so each built-in first loaded after them was compiled from source.
 * 1,000 loopback TCP targets loaded 18 built-ins so; 25 million instructions (valgrind), about 5 ms of a 130 ms run.
 */
const CHECK_BUILTINS = ['node:net', 'node:perf_hooks', 'node:vm', 'node:zlib', 'node:os'] as const;

/** The flags a check sets, each with V8 11's default (`node --v8-options`), which src/v8-defaults.ts sets back for a while. */
const CHECK_FLAGS: ChangedV8Flags = [
  // TurboFan compiles the probe path on background threads for more CPU than the run can win back: 1,000 loopback
  // targets took 530 ms of CPU, 370 ms with a 16-fold tier-up budget, and 5,000 targets with a table were no slower.
  // Re-measured at 200 ms (dbf8dc6): V8's budget costs 33-46 ms, any from 2-fold up saves it, as --max-opt=1 does
  // (docs/contributing.md, "Garbage collection in a check", has every variant tried).
  // Node 22 and later tier up otherwise (Maglev, and no such flag).
  ['--interrupt-budget=1081344', '--interrupt-budget=67584'],
  // The young generation stays at V8's first size (1 MB a semi-space) and is scavenged by the main thread alone, when
  // full. A check allocates about 11 KB a target and keeps less than 1 KB of it: grown to 16 MB at once (as from
  // e5a03ee to this change, for fewer scavenges), every byte of the connects and the report landed on a page touched
  // for the first time, about 2,300 of a 1,000-target run's 6,400 page faults and 10 MB of peak RSS; kept at 1 MB, the
  // same few pages serve every scavenge, about 18 of them, each too small to pay for waking V8's helper threads
  // (--no-parallel-scavenge). 1,000 loopback targets: 2,300 fewer page faults, 4-5 ms less CPU, peak RSS 64 → 55 MB.
  // On Node 22 and 24 V8's defaults stay (docs/contributing.md, "Garbage collection in a check", has every variant).
  ['--semi-space-growth-factor=1', '--semi-space-growth-factor=2'],
  ['--no-minor-gc-task', '--minor-gc-task'],
  ['--no-parallel-scavenge', '--parallel-scavenge'],
];

/**
 * Sets CHECK_FLAGS for a check on Node 20. Once a process has set them, a later call does nothing: check.cjs holds a
 * copy of this module (main.ts calls it for the single executable and main.js) and runs after start.cjs's has set the
 * flags; had it set its own copy's (another build's, a hand-edited trial's), check.cjs's code cache, written at exit
 * under V8's flags then, would be refused by every next run, whose check.cjs compiles under start.cjs's.
 */
export function v8FlagsForCheck(args: string[]): void {
  if (!process.versions.v8.startsWith('11.') || commandFor(args) !== defaultCommand || changedV8Flags()) return;
  for (const name of CHECK_BUILTINS) process.getBuiltinModule(name);
  const v8 = process.getBuiltinModule('node:v8');
  for (const [set] of CHECK_FLAGS) v8.setFlagsFromString(set);
  // A built-in that a check loads later (node:tls, at its first TLS context) is loaded under the defaults again.
  noteChangedV8Flags(CHECK_FLAGS);
}
