/**
 * The tarball `npm pack` makes of the built tree, packed once per test run and shared: test/ship/pack (a global
 * install) and test/package/pack (a project's install) both install it. Packing takes about 3.4 s of CPU; vitest runs
 * the two files in parallel workers, so whichever asks first packs (under a lock) and the other waits for it, in
 * either order. It is kept in a folder of this run (test/setup/packed-folder.ts), so it is always this build's, and
 * is only ever seen whole (it is renamed into place).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** The longest one worker waits for another's packing (npm pack takes 4 s here, a minute at load 14). */
const WAIT_MS = 240_000;

const tarballIn = (folder: string): string | undefined => readdirSync(folder).find((name) => name.endsWith('.tgz'));

function holderAlive(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(path.join(lock, 'pid'), 'utf8')), 0);
    return true;
  } catch (err) {
    // No pid file yet: its holder has only just made the lock.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** The path of this run's tarball, packing it if no worker has yet. dist/ must be built (npm test builds first). */
export async function packedTarball(): Promise<string> {
  const folder = process.env.PUSHCHECK_PACKED_FOLDER;
  if (!folder) throw new Error('PUSHCHECK_PACKED_FOLDER is not set: run the tests through vitest (test/setup/packed-folder.ts)');
  const lock = path.join(folder, 'lock');
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const packed = tarballIn(folder);
    if (packed) return path.join(folder, packed);
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
        execFileSync(npm, ['pack', '--ignore-scripts', '--pack-destination', lock], { cwd: ROOT, stdio: 'ignore' });
        const tarball = tarballIn(lock);
        if (!tarball) throw new Error(`npm pack left no tarball in ${lock}`);
        renameSync(path.join(lock, tarball), path.join(folder, tarball));
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
