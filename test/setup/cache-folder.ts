/**
 * vitest's globalSetup: the CLIs the tests start keep their caches (parsed rule files, code caches that cannot go
 * beside the bundle) in a folder of this test run, removed at its end, not in the user's own cache folder.
 * Tests of the cache folder itself set XDG_CACHE_HOME for their own processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const folder = mkdtempSync(join(tmpdir(), 'pushcheck-test-cache-'));
  process.env.XDG_CACHE_HOME = folder;
  return () => rmSync(folder, { recursive: true, force: true });
}
