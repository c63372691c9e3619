/** Runs the built CLI in a real pseudo-terminal (util-linux `script`), as a person at a terminal runs it. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { BIN } from './cli.js';

/** Runs pushcheck in a pseudo-terminal: as `node bin/pushcheck.js`, or with `asProgram` as the file itself (its shell part). */
export function inTerminal(
  args: string[],
  size = 'cols 120 rows 40',
  killAfterMs = 20_000,
  { extraEnv = {}, asProgram = false }: { extraEnv?: NodeJS.ProcessEnv; asProgram?: boolean } = {},
): Promise<{ code: number | null; output: string; durationMs: number }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };
  delete env.CI;
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  // `timeout` inside the terminal too: a CLI that hangs there would outlive `script` when the test kills it.
  const command = [`stty ${size};`, 'timeout', '-s', 'KILL', String(Math.round(killAfterMs / 1000) - 1), ...(asProgram ? [] : [process.execPath]), BIN, ...args].join(' ');
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, durationMs: performance.now() - started });
    });
  });
}
