/** Where pushcheck keeps what it may throw away: the user's cache folder, `$XDG_CACHE_HOME/pushcheck` or `~/.cache/pushcheck`. */
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
