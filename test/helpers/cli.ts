/** Runs the built CLI as a user would: a child process, with its stdout, stderr and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { prepareWitness, type LoopWitness } from './witness.js';

export const BIN = fileURLToPath(new URL('../../bin/pushcheck.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** What the child's loop witness saw (only with CliOptions.witness; undefined if the child never reached its exit). */
  witness?: LoopWitness;
}

export interface CliOptions {
  /** Merged over a colour-free, non-CI environment; an empty value removes the variable. */
  env?: NodeJS.ProcessEnv;
  /** The environment `env` is merged over (default: this process's), e.g. only PATH and HOME, as a fresh login has. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Node's own options, before bin/pushcheck.js: e.g. `['-r', preload]`. */
  nodeArgs?: string[];
  /** What to run instead of `node bin/pushcheck.js`: another entry (`[process.execPath, 'dist/bundle/main.js']`), an installed `pushcheck`; nodeArgs do not apply. */
  command?: string[];
  /** The process is killed if it outlives this (default 60 s). */
  killAfterMs?: number;
  cwd?: string;
  /** A command to run the CLI under, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrapper?: string[];
  /** Holds the child while it runs, so that a suite can kill what is left if it fails half-way. */
  running?: Set<ChildProcess>;
  /**
   * Watch the child with an independent witness of its stalls (loop-witness.cjs, preloaded with `node -r`): its
   * longest event-loop stall and its wait for a CPU, in CliRun.witness. Not with `command`.
   */
  witness?: boolean;
}

const PROXY_ENVIRONMENT = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const started = performance.now();
  // No proxy from this machine's environment either: a test names the proxy it means.
  const noProxies = Object.fromEntries(PROXY_ENVIRONMENT.map((name) => [name, '']));
  const env: NodeJS.ProcessEnv = { ...(options.baseEnv ?? process.env), NO_COLOR: '', FORCE_COLOR: '', CI: '', ...noProxies, ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === '') delete env[key];
  if (options.witness && options.command) throw new Error('runCli: a witness needs the default command (node bin/pushcheck.js)');
  const witness = options.witness ? prepareWitness() : undefined;
  Object.assign(env, witness?.env);
  const nodeArgs = [...(witness?.nodeArgs ?? []), ...(options.nodeArgs ?? [])];
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = [...(options.wrapper ?? []), ...(options.command ?? [process.execPath, ...nodeArgs, BIN])];
    const child = spawn(command!, [...prefix, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const durationMs = performance.now() - started;
      resolve({ code, signal, stdout, stderr, durationMs, witness: witness?.collect() });
    });
  });
}

export type InProcessRun = Omit<CliRun, 'signal' | 'durationMs'>;

const QUIET_ENVIRONMENT = ['NO_COLOR', 'FORCE_COLOR', 'CI', ...PROXY_ENVIRONMENT];

/**
 * Runs the CLI's program (src/cli/program.ts) in this process: the same parsing, commands, messages and exit
 * codes as the built CLI, without a process's start-up. For what needs no process: usage and input errors, what a
 * command prints. Exit codes as such, signals, terminals and the bin wrapper are shown by {@link runCli}.
 * stdout and stderr are captured while it runs, and the environment is the one {@link runCli} gives a child.
 */
export async function runInProcess(args: string[], options: Pick<CliOptions, 'env'> = {}): Promise<InProcessRun> {
  const { runProgram, exitCodeFor } = await import('../../src/cli/program.js');
  const saved = { env: { ...process.env }, exitCode: process.exitCode, out: process.stdout.write, err: process.stderr.write };
  let stdout = '';
  let stderr = '';
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stdout.write;
  for (const name of QUIET_ENVIRONMENT) delete process.env[name];
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined || value === '') delete process.env[key];
    else process.env[key] = value;
  }
  process.exitCode = undefined;
  process.stdout.write = capture((text) => (stdout += text));
  process.stderr.write = capture((text) => (stderr += text));
  try {
    let code: number | undefined;
    try {
      await runProgram(['node', 'pushcheck', ...args]);
      code = typeof process.exitCode === 'number' ? process.exitCode : 0;
    } catch (err) {
      code = exitCodeFor(err);
      if (code === undefined) throw err; // a bug, as the process would show it
    }
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exitCode = saved.exitCode;
    for (const key of Object.keys(process.env)) if (!(key in saved.env)) delete process.env[key];
    Object.assign(process.env, saved.env);
  }
}
