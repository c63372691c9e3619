/**
 * A user's rule file as an earlier run parsed it, so that the next run of the same text skips YAML and the schema:
 * for the 1,000 targets of bench/cli.bench.js (an 11-line file), parsing was about 12 ms of the 90 ms of CPU before
 * the first connect, nearly all of it YAML's cold code and the garbage it leaves. The built-in rule sets are parsed
 * at build time instead (stored.ts). A rule set parsed before is used only
 *  - by the build that parsed it (PUSHCHECK_BUILD_ID, new at every `npm run build`): a change to the parser is never
 *    hidden behind an older build's result, and vitest and tsc's output parse every time; and by the same Node version
 *    (the rule reader leans on Node's URL and IP address parsers);
 *  - while the file reads as the very text it was parsed from (kept with it), at the same absolute path;
 *  - when nothing but that text made it: a rule set with `credentials` (whose files are looked at) is never kept, nor
 *    one that JSON would not bring back the same.
 * One file per rule file in the user's cache folder (`rule-files/`, its absolute path hashed in the name); writing one
 * removes all but the KEPT_FILES most recently written; its JSON follows a line with its length and CRC-32, as the
 * code cache's data does, so that a byte changed on disk is not read as another port or host. Anything unreadable,
 * damaged or out of date is ignored and the file is parsed. NODE_DISABLE_COMPILE_CACHE=1 turns it off with the code
 * cache; `NODE_DEBUG=pushcheck` says what happened.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { debuglog, isDeepStrictEqual } from 'node:util';
import { cacheChecksum, pathTag, removeAllButNewest, removeLeftovers, userCacheFolder, writeWhole } from '../cache-folder.js';
import type { RuleSet } from '../types.js';

declare const PUSHCHECK_BUILD_ID: string | undefined;
/** The id of the build this code was bundled by (scripts/bundle.mjs); undefined outside a bundle. */
export const bundledBuildId: string | undefined = typeof PUSHCHECK_BUILD_ID === 'string' ? PUSHCHECK_BUILD_ID : undefined;

/** How many parsed rule files the cache folder keeps. */
export const KEPT_FILES = 32;

/** One kept file: which build parsed which file's text into which rule set. */
interface Kept {
  build: string;
  node: string;
  path: string;
  text: string;
  set: RuleSet;
}

const debug = debuglog('pushcheck');

/** Where the parsed form of the rule file `file` is kept. */
export function keptPlace(file: string, folder: string = userCacheFolder()): string {
  const path = resolve(file);
  return join(folder, 'rule-files', `${pathTag(path)}-${basename(path)}.json`);
}

function enabled(build: string | undefined): build is string {
  return build !== undefined && !process.env.NODE_DISABLE_COMPILE_CACHE;
}

/** The rule set an earlier run of this build parsed from exactly `text` at `file`'s path, or undefined. */
export function parsedBefore(file: string, text: string, build = bundledBuildId, folder?: string): RuleSet | undefined {
  if (!enabled(build)) return undefined;
  const place = keptPlace(file, folder);
  let kept: Kept;
  try {
    const whole = readFileSync(place, 'utf8');
    const end = whole.indexOf('\n');
    const json = whole.slice(end + 1);
    if (end < 0 || whole.slice(0, end) !== cacheChecksum(json)) {
      debug('rule file %s: parsed (%s damaged: checksum)', file, place);
      return undefined;
    }
    kept = JSON.parse(json) as Kept;
  } catch {
    return undefined; // none kept yet, or not readable: parsed
  }
  if (kept?.build !== build || kept.node !== process.version || kept.path !== resolve(file) || kept.text !== text || typeof kept.set !== 'object') {
    debug('rule file %s: parsed (%s)', file, kept?.build !== build || kept.node !== process.version ? 'kept by another build or Node' : 'the file changed since');
    return undefined;
  }
  debug('rule file %s: as parsed before (%s)', file, place);
  return { ...kept.set, file };
}

/** Keeps `set`, just parsed from `text` at `file`, for the next run (when it may be kept: see above). */
export function keepParsed(file: string, text: string, set: RuleSet, build = bundledBuildId, folder?: string): void {
  if (!enabled(build) || set.credentials !== undefined) return;
  const place = keptPlace(file, folder);
  const json = JSON.stringify({ build, node: process.version, path: resolve(file), text, set } satisfies Kept);
  if (!isDeepStrictEqual((JSON.parse(json) as Kept).set, set)) {
    debug('rule file %s: not kept (JSON does not bring it back the same)', file);
    return;
  }
  try {
    // The user's own: a rule file's text may name hosts and addresses they would not show others.
    mkdirSync(join(place, '..'), { recursive: true, mode: 0o700 });
    writeWhole(place, `${cacheChecksum(json)}\n${json}`, 0o600);
    debug('rule file %s: kept (%s)', file, place);
    prune(join(place, '..'));
  } catch (err) {
    debug('rule file %s: not kept (%s)', file, (err as NodeJS.ErrnoException).code ?? err);
  }
}

/** Removes all but the KEPT_FILES most recently written, and the temporary files of killed runs (removeLeftovers). */
function prune(folder: string): void {
  try {
    removeAllButNewest(folder, readdirSync(folder).filter((name) => name.endsWith('.json')), KEPT_FILES);
    removeLeftovers(folder);
  } catch (err) {
    debug('rule files %s: not pruned (%s)', folder, (err as NodeJS.ErrnoException).code ?? err);
  }
}
