// The benchmarks' settings from the environment, checked before anything starts: `BENCH_RUNS=abc` ran no round and
// printed NaN ms, and a PUSHCHECK_BEFORE that named a checkout instead of its bin/pushcheck.js failed only after the
// listeners and the warm-up. A wrong value ends the bench with one line naming the variable, and exit code 2.
import { statSync } from 'node:fs';
import path from 'node:path';

export class OptionError extends Error {}

/** The whole number of rounds in env[name] (1 or more), or `fallback` when it is unset or empty. */
export function rounds(env, name, fallback) {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[1-9]\d*$/.test(text)) throw new OptionError(`${name}=${text}: not a number of rounds (a whole number, 1 or more, as ${name}=${fallback})`);
  return Number(text);
}

/** The absolute path of the pushcheck build in env[name] (a checkout's bin/pushcheck.js), or `fallback` when unset. */
export function build(env, name, fallback) {
  const file = env[name] || fallback;
  if (file === undefined) return undefined;
  const kind = statSync(file, { throwIfNoEntry: false });
  if (!kind?.isFile()) throw new OptionError(`${name}=${file}: ${kind ? 'not a file' : 'no such file'} (give a checkout's bin/pushcheck.js)`);
  return path.resolve(file);
}

/** read(process.env), or, when a value is wrong, its one line on stderr and exit code 2 (no stack trace). */
export function benchOptions(read) {
  try {
    return read(process.env);
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    console.error(`${path.basename(process.argv[1] ?? 'bench')}: ${err.message}`);
    process.exit(2);
  }
}
