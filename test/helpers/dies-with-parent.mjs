// A command line that ends its process when the process that started it ends, however that one ended (a crash,
// SIGKILL, a Ctrl-C to its process group): util-linux's setpriv (Essential on Debian) sets the kernel's parent-death
// signal (prctl PR_SET_PDEATHSIG) to SIGKILL and then runs the command in its place. Node's spawn has no such option,
// and an 'exit' handler of the parent does not run when a signal ends it. For the servers tests start (tinyproxy,
// microsocks, mosquitto), which would otherwise outlive a test process killed outright, as orphans of init.
//   const [command, args] = diesWithParent('microsocks', ['-p', '1080']);
//   spawn(command, args, ...);
// Where setpriv is missing (no util-linux) or too old for --pdeathsig (before 2.33), such a spawn fails with an
// 'error' event nothing listens for: diesWithParentUnavailable() says so first, for the tests to skip with the reason.
import { spawnSync } from 'node:child_process';

/** `command args` as [setpriv, [--pdeathsig, KILL, command, ...args]], for spawn(). */
export function diesWithParent(command, args) {
  return ['setpriv', ['--pdeathsig', 'KILL', command, ...args]];
}

/** Why diesWithParent cannot work here (tried for real, with `true` as the command), or undefined when it can. */
export function diesWithParentUnavailable() {
  const { error, status, stderr } = spawnSync(...diesWithParent('true', []), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (error) return error.code === 'ENOENT' ? 'setpriv not found (apt-get install util-linux)' : `setpriv failed: ${error.message}`;
  return status === 0 ? undefined : `setpriv --pdeathsig KILL failed: ${stderr.trim().split('\n')[0]}`;
}
