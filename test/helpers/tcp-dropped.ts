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

export async function droppedInClient<T>(net: FaultNetwork | undefined, input: Record<string, unknown>): Promise<T> {
  if (!net) throw new Error('no fault network: the test should have been skipped');
  const { stdout } = await run('ip', ['netns', 'exec', net.client, process.execPath, SCRIPT, JSON.stringify(input)], { timeout: 60_000 });
  return JSON.parse(stdout) as T;
}
