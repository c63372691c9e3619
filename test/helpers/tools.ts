/** Tests that need a program of the machine's (openssl, script, curl). */
import { execFileSync } from 'node:child_process';

/**
 * Whether `command` runs (`command ...versionArgs`). CI installs every tool the tests use (.ci/run), and there a
 * missing one fails the tests loudly (they run and fail); elsewhere they skip, printing `skipping` and the reason.
 */
export function hasTool(command: string, versionArgs: string[], skipping: string): boolean {
  try {
    execFileSync(command, versionArgs, { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) return true;
    console.warn(`skipping ${skipping}`);
    return false;
  }
}
