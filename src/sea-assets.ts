/**
 * In a single executable (npm run build:sea) there is no package folder: rules/, schemas/ and package.json are
 * embedded as assets. This module, imported before anything else there, writes them once to a folder of the
 * temporary directory named by their content (length and CRC-32; used again only while it is the user's own), and tells package-root.ts
 * to read them from it. Outside a single
 * executable it does nothing.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { cacheChecksum } from './cache-folder.js';

interface Sea {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
}

function seaModule(): Sea | undefined {
  try {
    // node:sea exists from Node 20.12; required (not imported) so that older Nodes still load this file.
    return createRequire(__filename)('node:sea') as Sea;
  } catch {
    return undefined;
  }
}

declare const __filename: string;

const sea = typeof __filename === 'string' ? seaModule() : undefined;
if (sea?.isSea()) {
  const files = JSON.parse(sea.getAsset('manifest.json', 'utf8')) as string[];
  const contents = files.map((file) => [file, sea.getAsset(file, 'utf8')] as const);
  // Named by what it holds, so that another build's assets get a folder of their own. By length and CRC-32, not a
  // cryptographic hash: loading node:crypto for a sha256 was 2% of every start's instructions (`--version`: 683 -> 669
  // million), and a folder of that name is used only while it is the user's own and no one else may write it
  // (unpackedBefore), so only the user could plant a collision.
  const root = path.join(os.tmpdir(), `pushcheck-sea-${cacheChecksum(contents.map(([file, text]) => `${file}\0${text}\0`).join(''))}`);
  let folder = root;
  if (!unpackedBefore(root)) {
    // Written beside (a private folder of this run), then renamed into place: two first runs at once never see half
    // a folder.
    const staging = mkdtempSync(`${root}.`);
    for (const [file, text] of contents) {
      mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
      writeFileSync(path.join(staging, file), text);
    }
    try {
      renameSync(staging, root);
    } catch {
      // Another run got there first, or the name is taken by someone else: judged below.
    }
    if (!unpackedBefore(root)) {
      // Not ours to trust (another user's, or one others may write): this run reads its own copy, and removes it.
      folder = staging;
      process.on('exit', () => rmSync(staging, { recursive: true, force: true }));
    } else if (existsSync(staging)) {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  (globalThis as { __pushcheckPackageRoot?: URL }).__pushcheckPackageRoot = pathToFileURL(`${folder}${path.sep}`);
}

/**
 * Whether `folder` holds a finished copy that only this user can have written. The temporary directory is shared:
 * a folder of that name made by another user, or one others may write, could hold rule sets other than the ones
 * built in, and its verdicts would not be this executable's.
 */
function unpackedBefore(folder: string): boolean {
  try {
    const stat = lstatSync(folder);
    if (!stat.isDirectory()) return false;
    // Windows has no uids, and its temporary directory is the user's own.
    if (process.getuid && (stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0)) return false;
    return existsSync(path.join(folder, 'package.json'));
  } catch {
    return false;
  }
}
