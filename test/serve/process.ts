/** `pushcheck serve` as a child process: started, its URL read from stderr, stopped with a signal. */
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from '../helpers/cli.js';
import { prepareWitness, type LoopWitness } from '../helpers/witness.js';

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  /** Sends the signal and waits for the exit (SIGKILL after `killAfterMs`). */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** After the exit: what the child's loop witness saw (only with `{ witness: true }`; undefined if it was killed). */
  witness(): LoopWitness | undefined;
}

/**
 * `witness`: watch the child's event loop as runCli's `witness` does (test/helpers/witness.ts), for a test that
 * allows a starved child only as far as it stood still.
 */
export function startServeProcess(args: string[], options: { witness?: boolean; startTimeoutMs?: number } = {}): Promise<ServeProcess> {
  const { startTimeoutMs = 20_000 } = options;
  const witness = options.witness ? prepareWitness() : undefined;
  const env = { ...process.env, CI: '', ...witness?.env };
  const child = spawn(process.execPath, [...(witness?.nodeArgs ?? []), BIN, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let witnessed: LoopWitness | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      witnessed = witness?.collect();
      resolve({ code, signal });
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pushcheck serve did not start within ${startTimeoutMs} ms: ${stderr}`));
    }, startTimeoutMs);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`pushcheck serve exited (${code}) before listening: ${stderr}`));
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        child,
        url: match[1]!,
        stderr: () => stderr,
        witness: () => witnessed,
        async stop(signal = 'SIGTERM', killAfterMs = 15_000) {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
          try {
            return await exited;
          } finally {
            clearTimeout(killer);
          }
        },
      });
    });
  });
}
