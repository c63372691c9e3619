// Removing what test/faults/netns.ts makes (network namespaces, with everything that runs in them, their nftables
// tables and veth pairs; its temporary folders), in plain JavaScript so that the reaper (reaper.mjs, plain Node)
// shares it with netns.ts.
//
// Why a reaper: a test process ended by a signal runs no 'exit' handler. On Ctrl-C the terminal sends SIGINT to the
// whole process group, vitest's fork workers included, and vitest stops its workers with SIGTERM (then SIGKILL);
// the workers keep Node's default action for both, which ends the process without an 'exit' event. So each test
// process that makes a fault network starts one reaper: a detached Node process (its own session, which a Ctrl-C to
// the terminal does not reach) whose stdin is a pipe from the test process. The test process writes to it what to
// remove should it die, and what it has removed itself; when the test process is gone, however it ended (SIGKILL
// too), the kernel closes its end of the pipe, the reaper reads the end of its stdin, removes what is left and exits.
// One case ends no process at all: on SIGTERM vitest exits at once and leaves its fork workers running, orphans that
// report to no one. A worker notices by its IPC channel closing ('disconnect'), and ends itself by SIGTERM: then its
// reaper removes what it made, and the servers it started end with it (helpers/dies-with-parent.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REAPER = fileURLToPath(new URL('./reaper.mjs', import.meta.url));

/** The pids of what runs in a namespace (`ip netns pids`); throws if there is no such namespace. */
export function namespacePids(name) {
  return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split(/\s+/).filter(Boolean).map(Number);
}

/** Deletes a namespace after killing what still runs in it (only our own processes can be in it). */
export function deleteNamespaceSync(name) {
  try {
    for (const pid of namespacePids(name)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    // the namespace is already gone
  }
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** Removes what a reaper was told to: `namespace NAME` or `folder PATH`. */
export function removeSync(entry) {
  const space = entry.indexOf(' ');
  const kind = entry.slice(0, space);
  const value = entry.slice(space + 1);
  if (kind === 'namespace') deleteNamespaceSync(value);
  else if (kind === 'folder') rmSync(value, { recursive: true, force: true });
}

/** This process's reaper's stdin, once started. */
let reaper;

function tell(line) {
  if (!reaper) {
    const child = spawn(process.execPath, [REAPER], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    // Neither the reaper nor the pipe keeps this process alive.
    child.unref();
    child.stdin.unref();
    reaper = child.stdin;
    if (process.send) process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  // A write to an empty pipe is made at once (libuv tries it synchronously): in the pipe before what it guards exists.
  reaper.write(`${line}\n`);
}

/** Has this process's reaper remove `entry` (`namespace NAME`, `folder PATH`) if this process dies first. */
export function removeIfKilled(entry) {
  tell(`+${entry}`);
}

/** Tells the reaper that `entry` is removed (or no longer its to remove). */
export function removed(entry) {
  if (reaper) tell(`-${entry}`);
}
