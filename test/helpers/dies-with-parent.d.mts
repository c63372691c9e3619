/** `command args` as [setpriv, [--pdeathsig, KILL, command, ...args]], for spawn(): the command ends with its parent. */
export function diesWithParent(command: string, args: readonly string[]): [string, string[]];
