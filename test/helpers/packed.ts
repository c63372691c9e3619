/**
 * The tarball `npm pack` makes of the built tree, packed once per build and shared: test/ship/pack (a global
 * install) and test/package/pack (a project's install) both install it. Packing takes about 3.4 s of CPU; vitest runs
 * the two files in parallel workers, so whichever asks first packs (under a lock) and the other waits for it, in
 * either order. The cache is keyed by a hash of every file the package may hold, so a rebuild, an edited doc or a
 * new version packs again, and a tarball is only ever seen whole (it is renamed into place).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const CACHE = path.join(os.tmpdir(), 'pushcheck-packed');
/** The longest one worker waits for another's packing (npm pack takes 4 s here, a minute at load 14). */
const WAIT_MS = 240_000;

/** A `files` entry's glob (`dist/bundle/*.cache*`) as a pattern for paths relative to the root. */
function globPattern(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}(/|$)`);
}

/**
 * A hash of package.json, the README and licence, and every file under package.json's `files` less its `!`
 * entries: a superset of what npm packs, so the key changes whenever the tarball would.
 */
export function buildKey(root = ROOT): string {
  const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { files: string[] };
  const excluded = manifest.files.filter((f) => f.startsWith('!')).map((f) => globPattern(f.slice(1)));
  const hash = createHash('sha256');
  const add = (relative: string): void => {
    if (excluded.some((pattern) => pattern.test(relative))) return;
    const full = path.join(root, relative);
    if (!existsSync(full)) return;
    if (statSync(full).isDirectory()) {
      for (const name of readdirSync(full).sort()) add(path.posix.join(relative, name));
      return;
    }
    hash.update(`${relative}\0`).update(readFileSync(full)).update('\0');
  };
  const always = readdirSync(root).filter((name) => /^(package\.json|readme|licen[cs]e)/i.test(name));
  for (const entry of [...always.sort(), ...manifest.files.filter((f) => !f.startsWith('!'))]) add(entry);
  return hash.digest('hex').slice(0, 16);
}

function holderAlive(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(path.join(lock, 'pid'), 'utf8')), 0);
    return true;
  } catch (err) {
    // No pid file yet: its holder has only just made the lock.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Tarballs of other builds not used for a day: each is 3 MB. */
function forgetOldBuilds(current: string): void {
  for (const name of readdirSync(CACHE)) {
    const folder = path.join(CACHE, name);
    if (folder !== current && !name.endsWith('.lock') && Date.now() - statSync(folder).mtimeMs > 86_400_000) rmSync(folder, { recursive: true, force: true });
  }
}

/** The path of this build's tarball, packing it if no worker has yet. dist/ must be built (npm test builds first). */
export async function packedTarball(): Promise<string> {
  const folder = path.join(CACHE, buildKey());
  const lock = `${folder}.lock`;
  const deadline = Date.now() + WAIT_MS;
  mkdirSync(CACHE, { recursive: true });
  for (;;) {
    if (existsSync(folder)) {
      const [tarball] = readdirSync(folder).filter((name) => name.endsWith('.tgz'));
      if (tarball) return path.join(folder, tarball);
    }
    let mine = false;
    try {
      mkdirSync(lock);
      mine = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (mine) {
      try {
        writeFileSync(path.join(lock, 'pid'), String(process.pid));
        const staging = path.join(lock, 'out');
        mkdirSync(staging);
        execFileSync(npm, ['pack', '--ignore-scripts', '--pack-destination', staging], { cwd: ROOT, stdio: 'ignore' });
        rmSync(folder, { recursive: true, force: true });
        renameSync(staging, folder);
        forgetOldBuilds(folder);
      } finally {
        rmSync(lock, { recursive: true, force: true });
      }
      continue;
    }
    if (!holderAlive(lock)) rmSync(lock, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error(`npm pack: ${lock} was held for more than ${WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
