/** Where pushcheck keeps what it may throw away: the user's cache folder, `$XDG_CACHE_HOME/pushcheck` or `~/.cache/pushcheck`. */
import { lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  return `${Buffer.byteLength(bytes)}-${crc32Hex(bytes)}`;
}

/** A short tag for a path (its CRC-32, hex) to name a cache file after what it caches: a name, not a check. */
export function pathTag(path: string): string {
  return crc32Hex(path);
}

function crc32Hex(bytes: Uint8Array | string): string {
  return process.getBuiltinModule('node:zlib').crc32(bytes).toString(16).padStart(8, '0');
}

/**
 * Writes `contents` to `place` whole or not at all: a temporary file beside it, then a rename, so that a reader (or
 * another run writing at once) never sees half a file. Throws what the file system said, the temporary file removed.
 */
export function writeWhole(place: string, contents: string | Uint8Array, mode?: number): void {
  const temporary = temporaryPlace(place);
  try {
    writeFileSync(temporary, contents, mode === undefined ? undefined : { mode });
    renameSync(temporary, place);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

/**
 * Removes from `folder` all of `names` but the `keep` most recently written; returns the names removed. Only regular
 * files count, as in removeLeftovers: a symlink among them is neither followed (its target's age, or a missing target
 * that threw and left the rest unpruned) nor removed, nor is a folder; a name gone meanwhile is passed over.
 */
export function removeAllButNewest(folder: string, names: string[], keep: number): string[] {
  const files = names.flatMap((name) => {
    const stat = lstatSync(join(folder, name), { throwIfNoEntry: false });
    return stat?.isFile() ? [{ name, written: stat.mtimeMs }] : [];
  });
  if (files.length <= keep) return [];
  const removed = files.sort((a, b) => b.written - a.written).slice(keep).map(({ name }) => name);
  for (const name of removed) rmSync(join(folder, name), { force: true });
  return removed;
}

/** Where writeWhole writes `place` before its rename: named with the writer's pid, which removeLeftovers reads. */
export function temporaryPlace(place: string, pid = process.pid): string {
  return `${place}.${pid}.tmp`;
}

/** A name temporaryPlace() gives, with the writer's pid. */
const TEMPORARY = /\.(\d+)\.tmp$/;
/**
 * Younger than this, a temporary file may be one that a run is writing now (a write takes milliseconds): left alone even
 * when no process of its pid lives here, as a run in another PID namespace that shares the folder (a container) may.
 */
const MAY_BE_WRITING_MS = 60_000;
/** Older than this, a temporary file is left over even if a process of its writer's pid lives: pids are re-used. */
const SURELY_LEFT_MS = 60 * 60_000;

/**
 * Removes from `folder` what no run will read: the temporary files of runs killed between writeWhole's write and its
 * rename, and the files that `former(name)` says only an older build named so. Only regular files right in `folder`:
 * a symlink is neither followed nor removed, nor is anything below it. Returns the names removed.
 */
export function removeLeftovers(folder: string, former: (name: string) => boolean = () => false, now = Date.now()): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const place = join(folder, entry.name);
    const writer = TEMPORARY.exec(entry.name)?.[1];
    if (writer === undefined ? !former(entry.name) : !leftBehind(place, Number(writer), now)) continue;
    rmSync(place, { force: true });
    removed.push(entry.name);
  }
  return removed;
}

/** Whether the temporary file `place` of the process `pid` is left over from a run that ended before its rename. */
function leftBehind(place: string, pid: number, now: number): boolean {
  const ageMs = now - lstatSync(place).mtimeMs;
  return ageMs >= SURELY_LEFT_MS || (ageMs >= MAY_BE_WRITING_MS && !processLives(pid));
}

function processLives(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: sends nothing, says whether the process exists
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // another user's
  }
}
