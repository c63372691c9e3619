/** `command args` as [setpriv, [--pdeathsig, KILL, command, ...args]], for spawn(): the command ends with its parent. */
export function diesWithParent(command: string, args: readonly string[]): [string, string[]];
/** Why diesWithParent cannot work here (setpriv missing, or without --pdeathsig), or undefined when it can. */
export function diesWithParentUnavailable(): string | undefined;
