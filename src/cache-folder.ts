/** Where pushcheck keeps what it may throw away: the user's cache folder, `$XDG_CACHE_HOME/pushcheck` or `~/.cache/pushcheck`. */
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function userCacheFolder(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(process.getBuiltinModule('node:os').homedir(), '.cache'), 'pushcheck');
}

/**
 * The length and zlib's CRC-32 of what a cache file holds (the code cache's V8 data, a parsed rule file's JSON): they
 * catch a file cut short or damaged on disk, as a sha1 did, without loading node:crypto (about 7 ms of a TCP run's
 * start; zlib about 1 ms). Neither would stop someone who can write the cache, who can write the bundle as well.
 */
export function cacheChecksum(bytes: Uint8Array | string): string {
  return `${Buffer.byteLength(bytes)}-${process.getBuiltinModule('node:zlib').crc32(bytes).toString(16).padStart(8, '0')}`;
}

/** A short tag for a path (its CRC-32, hex) to name a cache file after what it caches: a name, not a check. */
export function pathTag(path: string): string {
  return process.getBuiltinModule('node:zlib').crc32(path).toString(16).padStart(8, '0');
}

/**
 * Writes `contents` to `place` whole or not at all: a temporary file beside it, then a rename, so that a reader (or
 * another run writing at once) never sees half a file. Throws what the file system said, the temporary file removed.
 */
export function writeWhole(place: string, contents: string | Uint8Array, mode?: number): void {
  const temporary = `${place}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, contents, mode === undefined ? undefined : { mode });
    renameSync(temporary, place);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

/** Removes from `folder` all of `names` but the `keep` most recently written; returns the names removed. */
export function removeAllButNewest(folder: string, names: string[], keep: number): string[] {
  if (names.length <= keep) return [];
  const byAge = names.map((name) => ({ name, written: statSync(join(folder, name)).mtimeMs })).sort((a, b) => b.written - a.written);
  const removed = byAge.slice(keep).map(({ name }) => name);
  for (const name of removed) rmSync(join(folder, name), { force: true });
  return removed;
}

