/** Where pushcheck keeps what it may throw away: the user's cache folder, `$XDG_CACHE_HOME/pushcheck` or `~/.cache/pushcheck`. */
import { join } from 'node:path';

export function userCacheFolder(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(process.getBuiltinModule('node:os').homedir(), '.cache'), 'pushcheck');
}
