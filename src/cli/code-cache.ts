/**
 * Runs a CommonJS bundle (dist/bundle/check.cjs, rules.cjs and program.cjs, and the libraries the first two load on
 * demand from dist/bundle/lib/) with V8's code cache: Node 20 keeps no compile cache of its own
 * (module.enableCompileCache is Node 22.1+), so every `pushcheck ios` compiled the same few hundred KB again before its
 * first connect. The cache is V8's cachedData taken at the end of a run, so it holds every function that run compiled,
 * not only the top level (what a cache made before running holds; docs/contributing.md has the figures).
 *
 * Where: beside the bundle (`<bundle>.<node version>-<arch>.cache`; with V8's tag of its flags where a check changed
 * them: runtime()) when that folder is writable, else in the user's cache folder (`$XDG_CACHE_HOME/pushcheck` or
 * `~/.cache/pushcheck`). One file per Node version and architecture (and V8 flags), since V8's data fits only the V8
 * that made it: one installation used by Node 20 and 22 in turns (a CI job's matrix) would otherwise rewrite a single
 * cache on every switch. Writing one removes the same bundle's caches beyond the KEPT_CACHES most recently written
 * (Node versions gone by), so they do not pile up. A cache counts only for the very file it was made from (device,
 * inode, size, modification and change time), the same Node version, architecture and V8 flags, and bytes whose length
 * and CRC-32 hold; anything else (another build, another Node, a damaged file) is ignored, as is what V8 itself refuses
 * (cachedDataRejected), and the run writes a new one. NODE_DISABLE_COMPILE_CACHE=1, Node's own switch, turns it off.
 * `NODE_DEBUG=pushcheck` says what happened.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { debuglog } from 'node:util';
// Named, not the default import: esbuild's interop copies a default-imported module's every export behind a getter
// (__toESM), at each start.
import { Script } from 'node:vm';
import { cacheChecksum as checksum, pathTag, removeAllButNewest, removeLeftovers, userCacheFolder, writeWhole } from '../cache-folder.js';
import { changedV8FlagsTag } from '../v8-defaults.js';

const debug = debuglog('pushcheck');
const MAGIC = 'pushcheck-code-cache 2';
/**
 * How many caches of one bundle (for as many Node versions, architectures or V8 flag sets) a folder keeps: a library
 * of lib/ has two on Node 20 (below), and one each on 22 and 24.
 */
export const KEPT_CACHES = 4;

/**
 * This process's part of a cache file's name: `v20.18.0-x64`, and where it changed V8 flags (a check on Node 20,
 * src/cli/v8-flags.ts) V8's tag of them too, `v20.18.0-x64-1a2b3c4d`. V8 refuses a cache made under other flags, and
 * the libraries of lib/ that both a check and the rules command load (yaml, cli-table3, undici, basic-ftp) had one
 * file for both: each switch between the two commands compiled the library again and wrote its cache anew.
 */
const runtime = (): string => {
  const flags = changedV8FlagsTag();
  return `${process.version}-${process.arch}${flags === undefined ? '' : `-${flags}`}`;
};

/** The cache file beside the bundle `file`, for this Node (and its V8 flags: runtime()). */
function besideCacheFile(file: string, at: string): string {
  return `${file}.${at}.cache`;
}

/** The user's cache folder for pushcheck; one file per installed bundle (its path, hashed, names it) and Node. */
function userCacheFile(file: string, at: string): string {
  return join(userCacheFolder(), `${pathTag(file)}-${file.replace(/^.*[\\/]/, '')}.${at}.cache`);
}

/** A cache in the user's folder named as this build names them (userCacheFile): any other `.cache` there an older build named. */
const USER_CACHE_NAME = /^[0-9a-f]{8}-.+\.v\d[\w.-]*\.cache$/;

/**
 * Removes the caches of the same bundle as `place` (other Nodes', or the older name without one) but the newest few,
 * and what is left over in its folder (removeLeftovers): the temporary files of killed runs, and in the user's folder
 * the caches an older build named otherwise (a sha1 of the bundle's path; no Node version).
 */
function pruneSiblings(place: string, inUserFolder: boolean, at: string): void {
  const folder = dirname(place);
  const own = basename(place);
  const stem = own.slice(0, -`.${at}.cache`.length);
  const escaped = stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const sibling = new RegExp(`^${escaped}(\\.v\\d[\\w.-]*)?\\.cache$`);
  try {
    const others = readdirSync(folder).filter((name) => name !== own && sibling.test(name));
    for (const name of removeAllButNewest(folder, others, KEPT_CACHES - 1)) {
      debug('code cache %s: removed (only the %d newest are kept)', join(folder, name), KEPT_CACHES);
    }
    const former = inUserFolder ? (name: string) => name.endsWith('.cache') && !USER_CACHE_NAME.test(name) : undefined;
    for (const name of removeLeftovers(folder, former)) debug('code cache %s: removed (left over)', join(folder, name));
  } catch (err) {
    debug('code cache %s: older caches not pruned (%s)', folder, (err as NodeJS.ErrnoException).code ?? err);
  }
}

/**
 * What a cache must have been made for: this file as it is now, this Node. With the change time: V8 checks no more of
 * the source than its length, and a build that stamps its files with one time (SOURCE_DATE_EPOCH) and writes them in
 * place keeps size, inode and modification time, so the old code would run.
 */
function cacheKey(stat: Stats, at: string): string {
  return [at, stat.dev, stat.ino, stat.size, stat.mtimeMs, stat.ctimeMs].join(' ');
}

/** Reads the first `size` bytes of the file open as `fd` into `buffer` at `offset`; how many (fewer if it is shorter now). */
function readStart(fd: number, buffer: Buffer, offset: number, size: number): number {
  let read = 0;
  for (let got = -1; read < size && got !== 0; read += got) got = readSync(fd, buffer, offset + read, size - read, read);
  return read;
}

/**
 * The bytes of the file `place`: read into `scratch` when they fit (the buffer check.cjs's text was read into, so that
 * the cache takes no fresh memory of its own: about 80 page faults for check.cjs's 340 KB), else a buffer of their own.
 */
function readBytes(place: string, scratch: Buffer): Buffer {
  const fd = openSync(place, 'r');
  try {
    const size = fstatSync(fd).size;
    return size > scratch.length ? readFileSync(fd) : scratch.subarray(0, readStart(fd, scratch, 0, size));
  } finally {
    closeSync(fd);
  }
}

/** The V8 data in the cache file `place`, when it was made for `key` and its checksum holds. */
function readCache(place: string, key: string, scratch: Buffer): { data: Buffer; place: string } | undefined {
  let bytes: Buffer;
  try {
    bytes = readBytes(place, scratch);
  } catch {
    return undefined;
  }
  const end = bytes.indexOf(10);
  const [magic, sum, ...rest] = (end < 0 ? '' : bytes.toString('latin1', 0, end).trimEnd()).split(' | ');
  const data = bytes.subarray(end + 1);
  if (magic !== MAGIC || rest.join(' | ') !== key) debug('code cache %s: made for another file or Node, ignored', place);
  else if (sum !== checksum(data)) debug('code cache %s: damaged (checksum), ignored', place);
  else return { data, place };
  return undefined;
}

/**
 * The header line of a cache: magic, checksum and key, padded with spaces to a multiple of 8 bytes, so that the V8 data
 * after it starts on an 8-byte boundary of the buffer it is read into: V8 copies data that is not pointer-aligned
 * before it deserializes (its AlignedCachedData), which cost a copy of the 340 KB cache and about 80 page faults.
 */
function cacheHeader(key: string, data: Buffer): Buffer {
  const line = [MAGIC, checksum(data), key].join(' | ');
  return Buffer.from(`${line.padEnd(Math.ceil((line.length + 1) / 8) * 8 - 1)}\n`, 'latin1');
}

/** Writes the cache to the first place that takes it, whole or not at all (a temporary file, then a rename). */
function writeCache(places: string[], key: string, data: Buffer, at: string): void {
  const header = cacheHeader(key, data);
  for (const place of places) {
    try {
      mkdirSync(dirname(place), { recursive: true });
      writeWhole(place, Buffer.concat([header, data]));
      debug('code cache %s: written (%d bytes)', place, data.length);
      pruneSiblings(place, dirname(place) === userCacheFolder(), at);
      return;
    } catch (err) {
      debug('code cache %s: not written (%s)', place, (err as NodeJS.ErrnoException).code ?? err);
    }
  }
}

const required = new Map<string, unknown>();

/** How Node wraps a CommonJS module (Module.wrap), so that the script's value is the module's function. */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_TAIL = '\n});';

/**
 * The text of the file open as `fd` (`size` bytes long) inside the module wrapper, as one string: read into `bytes`
 * (as long as the three) between the wrapper's two halves and decoded once. Joined as strings (Module.wrap), the text
 * and the wrapper made a string that V8 copied again whole before compiling (about 130 page faults for check.cjs).
 */
function wrappedSource(fd: number, size: number, bytes: Buffer): string {
  const head = WRAPPER_HEAD.length;
  bytes.write(WRAPPER_HEAD, 0, 'latin1');
  const read = readStart(fd, bytes, head, size);
  bytes.write(WRAPPER_TAIL, head + read, 'latin1');
  return bytes.toString('utf8', 0, head + read + WRAPPER_TAIL.length);
}

/**
 * The `require` a bundle runs with. For the bundles in this module's own folder and its lib/ (scripts/bundle.mjs
 * writes them: they require Node's built-ins and ./code-cache.cjs, nothing else) this module's own, which resolves
 * those the same: Module.createRequire would load node:module, and Node's ES module loader and source maps with it,
 * on every check (test/cli/start.test.ts holds what a check loads). Any other file (the tests' own) gets its own.
 */
function requireFor(file: string): NodeJS.Require {
  const ownFolder = typeof __dirname === 'string' && typeof require === 'function' ? __dirname : undefined;
  if (ownFolder !== undefined && (dirname(file) === ownFolder || dirname(file) === join(ownFolder, 'lib'))) return require;
  return process.getBuiltinModule('node:module').createRequire(file);
}

/**
 * Runs `file` as a CommonJS module and returns its exports (once: later calls get the same), compiled from the code
 * cache when one fits. A run that ends with exit code 0 or 1 (a check that ran, not a usage error that compiled
 * little) writes the cache when none fitted.
 */
export function requireWithCodeCache(path: string): unknown {
  const file = resolve(path);
  if (required.has(file)) return required.get(file);
  // NODE_DEBUG=pushcheck names each bundle as it runs, with the cache or without (its module object is not Node's, so
  // NODE_DEBUG=module does not name it).
  debug('bundle %s', file);
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return requireFor(file)(file);
  // V8 takes a cache only under the flags it was made under: named by those the bundle compiles under (runtime()).
  const at = runtime();
  const beside = besideCacheFile(file, at);
  // The key and the text from one open file: a build that replaced it meanwhile cannot pair one's cache with the other.
  const fd = openSync(file, 'r');
  let key: string;
  let script: Script;
  let cached: ReturnType<typeof readCache>;
  try {
    const stat = fstatSync(fd);
    key = cacheKey(stat, at);
    // One buffer: the text first (decoded into a string of its own), then the cache, which V8 reads as it compiles.
    const bytes = Buffer.allocUnsafeSlow(WRAPPER_HEAD.length + stat.size + WRAPPER_TAIL.length);
    const source = wrappedSource(fd, stat.size, bytes);
    cached = readCache(beside, key, bytes) ?? readCache(userCacheFile(file, at), key, bytes);
    script = new Script(source, { filename: file, ...(cached && { cachedData: cached.data }) });
  } finally {
    closeSync(fd);
  }
  if (cached) debug('code cache %s: %s', cached.place, script.cachedDataRejected ? 'rejected by V8' : 'used');
  if (!cached || script.cachedDataRejected) {
    process.once('exit', (code) => {
      if (code !== 0 && code !== 1) return;
      // V8 stamps the cache with its flags of now: changed since the bundle compiled, no later run would take it.
      if (runtime() !== at) debug('code cache %s: not written (V8 flags changed since the bundle compiled)', beside);
      else writeCache([beside, userCacheFile(file, at)], key, script.createCachedData(), at);
    });
  }
  // What a bundle uses of its module object is `exports` (esbuild's output); Node's Module would need node:module.
  const module = { id: file, filename: file, path: dirname(file), exports: {} as unknown, loaded: false, children: [] };
  required.set(file, module.exports);
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, requireFor(file), module, file, dirname(file));
  module.loaded = true;
  required.set(file, module.exports);
  return module.exports;
}
