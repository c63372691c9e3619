/**
 * Files shipped beside the code (package.json, rules/, schemas/), found from wherever the code runs: src/ under
 * vitest, dist/ after tsc, dist/bundle/ as one bundled file. The nearest folder up with a package.json is the root;
 * in a single executable, the folder sea-assets.ts unpacked its assets to.
 */
import { existsSync } from 'node:fs';

function findRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (let depth = 0; depth < 6; depth += 1) {
    if (existsSync(new URL('package.json', dir))) return dir;
    dir = new URL('../', dir);
  }
  throw new Error(`pushcheck: no package.json above ${import.meta.url}; the installation is incomplete`);
}

let root: URL | undefined;

/**
 * The package root, as a folder URL ending in `/`. Found on first use, not at load: a check of a user's rule file
 * wants no file of the package, and the search (URLs, a file test per folder) was part of every start.
 */
function packageRoot(): URL {
  root ??= (globalThis as { __pushcheckPackageRoot?: URL }).__pushcheckPackageRoot ?? findRoot();
  return root;
}

/** A file or folder of the package, e.g. `packageUrl('rules/')`. */
export function packageUrl(relative: string): URL {
  return new URL(relative, packageRoot());
}
