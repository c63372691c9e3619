/**
 * vitest's globalSetup: the folder of this test run in which test/helpers/packed.ts keeps the one tarball its files
 * install, removed at the run's end. A new run (after a new build: npm test builds first) packs again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const folder = mkdtempSync(join(tmpdir(), 'pushcheck-packed-'));
  process.env.PUSHCHECK_PACKED_FOLDER = folder;
  return () => rmSync(folder, { recursive: true, force: true });
}
