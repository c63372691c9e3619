import { readFileSync } from 'node:fs';
import { packageUrl } from './package-root.js';

declare const PUSHCHECK_VERSION: string | undefined;

/**
 * pushcheck's own version: package.json's, stored by the build in the bundles (scripts/bundle.mjs), or read once from
 * package.json (tsc's output, the single executable). Read at every start, it was package.json's read and parse, and
 * the package root's search, twice in a check (start.cjs and check.cjs).
 */
export const version: string =
  typeof PUSHCHECK_VERSION === 'string'
    ? PUSHCHECK_VERSION
    : (JSON.parse(readFileSync(packageUrl('package.json'), 'utf8')) as { version: string }).version;
