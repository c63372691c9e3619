// A command line that ends its process when the process that started it ends, however that one ended (a crash,
// SIGKILL, a Ctrl-C to its process group): util-linux's setpriv (Essential on Debian) sets the kernel's parent-death
// signal (prctl PR_SET_PDEATHSIG) to SIGKILL and then runs the command in its place. Node's spawn has no such option,
// and an 'exit' handler of the parent does not run when a signal ends it. For the servers tests start (tinyproxy,
// microsocks, mosquitto), which would otherwise outlive a test process killed outright, as orphans of init.
//   const [command, args] = diesWithParent('microsocks', ['-p', '1080']);
//   spawn(command, args, ...);

/** `command args` as [setpriv, [--pdeathsig, KILL, command, ...args]], for spawn(). */
export function diesWithParent(command, args) {
  return ['setpriv', ['--pdeathsig', 'KILL', command, ...args]];
}
