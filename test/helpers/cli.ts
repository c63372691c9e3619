/** Runs the built CLI as a user would: a child process, with its stdout, stderr and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/pushcheck.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CliOptions {
  /** Merged over a colour-free, non-CI environment; an empty value removes the variable. */
  env?: NodeJS.ProcessEnv;
  /** The process is killed if it outlives this (default 60 s). */
  killAfterMs?: number;
  cwd?: string;
  /** A command to run the CLI under, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrapper?: string[];
  /** Holds the child while it runs, so that a suite can kill what is left if it fails half-way. */
  running?: Set<ChildProcess>;
}

const PROXY_ENVIRONMENT = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const started = performance.now();
  // No proxy from this machine's environment either: a test names the proxy it means.
  const noProxies = Object.fromEntries(PROXY_ENVIRONMENT.map((name) => [name, '']));
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '', FORCE_COLOR: '', CI: '', ...noProxies, ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === '') delete env[key];
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = [...(options.wrapper ?? []), process.execPath];
    const child = spawn(command!, [...prefix, BIN, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    options.running?.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.running?.delete(child);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started });
    });
  });
}
