/**
 * In a single executable (npm run build:sea) there is no package folder: rules/, schemas/ and package.json are
 * embedded as assets. This module, imported before anything else there, writes them once to a folder of the
 * temporary directory named by their content, and tells package-root.ts to read them from it. Outside a single
 * executable it does nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

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
  const digest = createHash('sha256');
  for (const [file, text] of contents) digest.update(file).update('\0').update(text).update('\0');
  const root = path.join(os.tmpdir(), `pushcheck-sea-${digest.digest('hex').slice(0, 16)}`);
  if (!existsSync(path.join(root, 'package.json'))) {
    // Written beside, then renamed into place: two first runs at once never see half a folder.
    const staging = `${root}.${process.pid}`;
    for (const [file, text] of contents) {
      mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
      writeFileSync(path.join(staging, file), text);
    }
    try {
      renameSync(staging, root);
    } catch {
      // Another run got there first; its copy is the same.
    }
  }
  (globalThis as { __pushcheckPackageRoot?: URL }).__pushcheckPackageRoot = pathToFileURL(`${root}${path.sep}`);
}
