/**
 * An interrupted test run leaves nothing behind: not the network namespaces of test/faults/netns.ts (with their
 * nftables tables and veth pairs, which go with them), not what runs in them, not a server when-listening.mjs
 * started. A test process ended by a signal runs no 'exit' handler, so these are the cases that matter: each
 * starts a vitest of its own on interrupted/holds-network.fixture.ts, waits until its worker holds a fault network,
 * interrupts it the way a user or CI does, and waits (up to 20 s) for all of it to be gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { proxyTestsSkipped } from '../helpers/proxies.js';
import { announceSkip, faultNetworkUnavailable, namespaceExists } from './netns.js';

const missing = proxyTestsSkipped('interrupted test runs: the proxy started in a fault network');
const unavailable = missing ?? (await faultNetworkUnavailable());
if (!missing) announceSkip('interrupted test runs: what a killed test process made in network namespaces', unavailable);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
const CONFIG = fileURLToPath(new URL('./interrupted/vitest.config.ts', import.meta.url));
const WHEN_LISTENING = fileURLToPath(new URL('../helpers/when-listening.mjs', import.meta.url));
/** How long what an interruption ends may take to be gone, polled every 50 ms (vi.waitFor's options). */
const GONE_WITHIN = { timeout: 20_000, interval: 50 };

const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-interrupted-'));
/** The process groups the cases started, each with the processes in it that a case came to know. */
const started = new Map<ChildProcess, Watched[]>();
afterAll(() => {
  // Each was started in a process group of its own: whatever of it is left goes (a vitest that exited may leave
  // workers), while the group is still ours: else its id may be another group's by now (pid_max is 32768 here).
  for (const child of started.keys()) {
    if (!groupStillOurs(child)) continue;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // nothing of it is left
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A process's start time (clock ticks since boot), from /proc: a pid re-used by another process has another. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has ended: it waits only for its parent to read its status.
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/** A process known by its pid and its start time (undefined: it was not running when first seen). */
interface Watched {
  pid: number;
  started: string | undefined;
}

const watch = (pid: number): Watched => ({ pid, started: startTime(pid) });

/** Whether a watched process still runs (the same one: a pid re-used since has another start time). */
const stillRunning = (p: Watched): boolean => p.started !== undefined && startTime(p.pid) === p.started;

/**
 * Whether the process group `child` leads is still the one it started: its leader not yet reaped (Node reaps it in
 * the event loop, so not between this and a kill right after), or a process of it that a case watched still running.
 */
function groupStillOurs(child: ChildProcess): boolean {
  return (child.exitCode === null && child.signalCode === null) || (started.get(child) ?? []).some(stillRunning);
}

/** Spawns `command` in a process group of its own, collecting its output; killed with its group by afterAll. */
function startGroup(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess & { output: () => string } {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  started.set(child, []);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return Object.assign(child, { output: () => output });
}

/** Waits (up to 60 s: vitest's start beside busy loops) for `ready()` to give something, failing if `child` exits first. */
async function waitFor<T>(child: ChildProcess & { output: () => string }, ready: () => T | undefined, what: string): Promise<T> {
  const deadline = performance.now() + 60_000;
  for (;;) {
    const value = ready();
    if (value !== undefined) return value;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: exited (${child.exitCode ?? child.signalCode}) first: ${child.output()}`);
    if (performance.now() > deadline) throw new Error(`${what}: not within 60 s: ${child.output()}`);
    await sleep(50);
  }
}

interface Held {
  /** The vitest worker that made the network. */
  pid: number;
  namespaces: string[];
  dir: string;
  /** Everything running in the namespaces: servers, when-listening.mjs and its microsocks. */
  pids: number[];
}

const INTERRUPTIONS: Array<{ name: string; interrupt: (vitest: ChildProcess, held: Held) => void }> = [
  { name: 'SIGKILL of the worker that made the network', interrupt: (_vitest, held) => process.kill(held.pid, 'SIGKILL') },
  // The terminal sends Ctrl-C's SIGINT to its foreground process group: vitest, its workers and their children.
  { name: 'Ctrl-C (SIGINT to vitest’s process group)', interrupt: (vitest) => process.kill(-vitest.pid!, 'SIGINT') },
  { name: 'SIGTERM to vitest', interrupt: (vitest) => process.kill(vitest.pid!, 'SIGTERM') },
];

describe.skipIf(unavailable !== undefined)('a test run interrupted while it holds a fault network', () => {
  it.concurrent.for(INTERRUPTIONS)('leaves no namespace, no process in one, no folder: $name', { timeout: 120_000 }, async ({ interrupt }) => {
    const heldFile = path.join(dir, `${Math.random().toString(16).slice(2)}.json`);
    const vitest = startGroup(process.execPath, [VITEST, 'run', '--config', CONFIG], { ...process.env, PUSHCHECK_HELD_FILE: heldFile });
    const held = await waitFor(vitest, () => (existsSync(heldFile) ? (JSON.parse(readFileSync(heldFile, 'utf8')) as Held) : undefined), 'the fixture');
    const processes = held.pids.map(watch);
    started.get(vitest)!.push(watch(held.pid), ...processes);
    // What it holds is there to be removed: two namespaces, a server, when-listening.mjs and its microsocks.
    expect(held.namespaces.filter(namespaceExists)).toHaveLength(2);
    expect(processes.filter((p) => p.started !== undefined).length).toBeGreaterThanOrEqual(3);
    expect(existsSync(held.dir)).toBe(true);

    interrupt(vitest, held);
    const left = (): string[] => [
      ...held.namespaces.filter(namespaceExists).map((name) => `namespace ${name}`),
      ...processes.filter(stillRunning).map((p) => `process ${p.pid}`),
      ...(existsSync(held.dir) ? [`folder ${held.dir}`] : []),
    ];
    await vi.waitFor(() => expect(left(), vitest.output()).toEqual([]), GONE_WITHIN);
  });
});

describe.skipIf(missing !== undefined)('when-listening.mjs', () => {
  /** Starts a parent (plain Node) that starts when-listening.mjs with microsocks on loopback, as runInServer does. */
  async function parentOfMicrosocks(): Promise<{ parent: ChildProcess; script: Watched; microsocks: Watched }> {
    const { closedPort } = await import('../helpers/servers.js');
    const port = await closedPort();
    const start = `const c = require('node:child_process').spawn(process.execPath, process.argv.slice(1), { stdio: ['pipe', 'inherit', 'inherit'] }); console.log('script ' + c.pid);`;
    const parent = startGroup(process.execPath, ['-e', start, WHEN_LISTENING, '127.0.0.1', String(port), 'microsocks', '-i', '127.0.0.1', '-p', String(port)]);
    const [script, microsocks] = await waitFor(parent, () => {
      const text = parent.output();
      const pids = [/^script (\d+)$/m.exec(text)?.[1], /^child (\d+)$/m.exec(text)?.[1]];
      return /^ready$/m.test(text) ? pids.map(Number) : undefined;
    }, 'when-listening.mjs');
    const watched = [watch(script!), watch(microsocks!)];
    expect(watched.every((p) => p.started !== undefined)).toBe(true);
    started.get(parent)!.push(...watched);
    return { parent, script: watched[0]!, microsocks: watched[1]! };
  }

  const gone = (watched: Watched[]): Promise<void> => vi.waitFor(() => expect(watched.filter(stillRunning)).toEqual([]), GONE_WITHIN);

  it('ends, and ends its server, when its parent is killed outright (its stdin, a pipe from the parent, ends)', async () => {
    const { parent, script, microsocks } = await parentOfMicrosocks();
    process.kill(parent.pid!, 'SIGKILL');
    await gone([script, microsocks]);
  }, 90_000);

  it('leaves no server behind when it is killed outright itself (the kernel’s parent-death signal)', async () => {
    const { script, microsocks } = await parentOfMicrosocks();
    process.kill(script.pid, 'SIGKILL');
    await gone([microsocks]);
  }, 90_000);
});

describe('this file’s clean-up', () => {
  it('kills a process group only while it is still its own: the leader not reaped, or a watched process of it running', async () => {
    // A leader that exits at once and leaves a process of its group running, as vitest leaves a worker on SIGTERM.
    const leaves = `const c = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' }); console.log('child ' + c.pid); c.unref();`;
    const leader = startGroup(process.execPath, ['-e', leaves]);
    expect(groupStillOurs(leader)).toBe(true);
    await new Promise((resolve) => leader.once('close', resolve));
    const left = watch(Number(/^child (\d+)$/m.exec(leader.output())?.[1]));
    expect(left.started).toBeDefined();
    started.get(leader)!.push(left);
    expect(groupStillOurs(leader)).toBe(true);
    process.kill(left.pid, 'SIGKILL');
    await vi.waitFor(() => expect(stillRunning(left)).toBe(false), GONE_WITHIN);
    // Its id is free for another process group now: afterAll leaves it alone.
    expect(groupStillOurs(leader)).toBe(false);
  });
});
