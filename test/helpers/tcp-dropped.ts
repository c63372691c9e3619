/**
 * Runs one case of tcp-dropped.mjs (a connect or a run to a port a firewall drops) in the client namespace of a fault
 * network (test/faults/netns.ts), and gives back the JSON it printed. The cases and their inputs are listed there.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { FaultNetwork } from '../faults/netns.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('./tcp-dropped.mjs', import.meta.url));

/**
 * Killed after 50 s: before the 60 s its callers' tests are given, so that a case that hangs ends as a failure of the
 * test with its network closed, not as a process left running in a namespace after vitest gave up on the test.
 */
const KILL_AFTER_MS = 50_000;

export async function droppedInClient<T>(net: FaultNetwork | undefined, input: Record<string, unknown>): Promise<T> {
  if (!net) throw new Error('no fault network: the test should have been skipped');
  const args = ['netns', 'exec', net.client, process.execPath, SCRIPT, JSON.stringify(input)];
  const { stdout } = await run('ip', args, { timeout: KILL_AFTER_MS, killSignal: 'SIGKILL' });
  return JSON.parse(stdout) as T;
}
