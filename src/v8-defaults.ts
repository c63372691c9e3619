/**
 * Node's built-ins loaded under V8's default flags. On Node 20 a check changes a few V8 flags (src/cli/v8-flags.ts),
 * and V8 refuses a code cache made under other flags: Node compiles its built-ins from a cache made under the
 * defaults, so a built-in first loaded after the change was compiled from source. node:tls with what it loads
 * (node:crypto, the TLS wrap and streams) took 10-18 ms so, against 3 ms from the cache, at the first TLS context of
 * a run, after its connects. V8 hashes only the flags that differ from their defaults, so setting them back for the
 * load and again afterwards gives Node's cache the hash it was made under. Shared (src/) because trust.ts is.
 */

/** Set by cli/v8-flags.ts where it changed V8 flags: each flag as set, with V8's default for it. */
const CHANGED_V8_FLAGS = Symbol.for('pushcheck.changedV8Flags');

export type ChangedV8Flags = ReadonlyArray<readonly [set: string, byDefault: string]>;

type WithChangedFlags = { [CHANGED_V8_FLAGS]?: ChangedV8Flags };

/** Notes the flags a check changed (cli/v8-flags.ts), on the process object: every bundle of the process sees it. */
export function noteChangedV8Flags(flags: ChangedV8Flags): void {
  (process as WithChangedFlags)[CHANGED_V8_FLAGS] = flags;
}

/** Whether this process changed V8 flags for a check (by any bundle's copy of cli/v8-flags.ts). */
export function changedV8Flags(): ChangedV8Flags | undefined {
  return (process as WithChangedFlags)[CHANGED_V8_FLAGS];
}

/**
 * Where this process changed V8 flags, V8's tag of what a code cache must have been made under (its version, flags and
 * the CPU's features: v8.cachedDataVersionTag()) in hex; undefined where it changed none (and may not have loaded
 * node:v8). The code cache names its files by it (src/cli/code-cache.ts).
 */
export function changedV8FlagsTag(): string | undefined {
  return changedV8Flags() && process.getBuiltinModule('node:v8').cachedDataVersionTag().toString(16);
}

/** `load()` under V8's default flags where this process changed some, the changed ones set again afterwards. */
export function underDefaultV8Flags<T>(load: () => T): T {
  const changed = changedV8Flags();
  if (!changed) return load();
  const v8 = process.getBuiltinModule('node:v8');
  for (const [, byDefault] of changed) v8.setFlagsFromString(byDefault);
  try {
    return load();
  } finally {
    for (const [set] of changed) v8.setFlagsFromString(set);
  }
}

/** The built-ins loaded so far through loadUnderDefaults (node:tls loads node:crypto: both, once it is). */
const loadedUnderDefaults = new Set<'node:tls' | 'node:crypto'>();

/** Loads `name` under V8's default flags if it is not loaded yet. */
function loadUnderDefaults(name: 'node:tls' | 'node:crypto'): void {
  if (loadedUnderDefaults.has(name)) return;
  underDefaultV8Flags(() => process.getBuiltinModule(name));
  loadedUnderDefaults.add(name);
  if (name === 'node:tls') loadedUnderDefaults.add('node:crypto');
}

/**
 * node:tls (and node:crypto, which it loads), the first time under V8's default flags. Also for code that does not
 * use it but loads something that requires it (basic-ftp, the credentials' modules): call it just before that load.
 */
export function tlsModule(): typeof import('node:tls') {
  loadUnderDefaults('node:tls');
  return process.getBuiltinModule('node:tls');
}

/** node:crypto, the first time under V8's default flags. */
export function cryptoModule(): typeof import('node:crypto') {
  loadUnderDefaults('node:crypto');
  return process.getBuiltinModule('node:crypto');
}
