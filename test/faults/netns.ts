/**
 * A small network of the fault matrix's own, built with network namespaces: pushcheck runs in a client namespace,
 * the misbehaving servers and the firewall (nftables) live in a server namespace, and a veth pair joins them on a
 * private /30 (10.213.0.1 ↔ 10.213.0.2) that exists only on that pair, and with `{ ipv6: true }` a private /126 beside
 * it (fd00:213::1 ↔ fd00:213::2). Nothing is added to the machine's own namespace: no address, no route, no firewall
 * rule; pushcheck in the client namespace has no route anywhere else.
 *
 *   const net = await createFaultNetwork();
 *   await net.firewall(['tcp dport 7003 drop']);
 *   await net.startServer('silent', '7006');
 *   const run = await net.pushcheck([file, '--format', 'json']);
 *   await net.close();   // kills every process started in it, deletes both namespaces (and so the veth pair)
 *
 * Needs root, Linux, iproute2 and nftables (dnsmasq for the DNS faults); {@link faultNetworkUnavailable} says why
 * not, for the tests to print when they skip.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { describeWitness, type LoopWitness } from '../helpers/witness.js';
import type { Report } from '../../src/types.js';
import { deleteNamespaceSync, removed, removeIfKilled, removeSync } from './cleanup.mjs';

export { namespacePids } from './cleanup.mjs';

const run = promisify(execFile);

export const NS_SERVER = fileURLToPath(new URL('./ns-server.mjs', import.meta.url));
export const CLIENT_ADDRESS = '10.213.0.1';
export const SERVER_ADDRESS = '10.213.0.2';
const PREFIX = 30;
/** The IPv6 pair of a network made with `{ ipv6: true }` (unique local addresses, on the veth pair only). */
export const CLIENT_ADDRESS6 = 'fd00:213::1';
export const SERVER_ADDRESS6 = 'fd00:213::2';
const PREFIX6 = 126;

/** Namespaces this helper creates: `pc-<pid>-<random>-c` and `-s` (random: test files may share a pid as threads). */
const NAME_PATTERN = /^pc-(\d+)-[0-9a-f]+-[cs]$/;

/** The bound a run must end within (docs/contributing.md, "Bounded time"): timeout × ⌈targets / concurrency⌉ × (retries + 1) + 1 s. */
export function boundMs(timeoutMs: number, targets: number, concurrency: number, retries: number): number {
  return timeoutMs * Math.ceil(targets / concurrency) * (retries + 1) + 1000;
}

/**
 * The bound of a run whose probes a busy machine starved, counting the one overload retry (docs/timeouts.md):
 * ⌈targets / concurrency⌉ × ((retries + 2) × timeout + 300 ms) + 1 s.
 */
export function starvedBoundMs(timeoutMs: number, targets: number, concurrency: number, retries: number): number {
  return Math.ceil(targets / concurrency) * ((retries + 2) * timeoutMs + 300) + 1000;
}

/**
 * The bound a run's report must keep: boundMs, or starvedBoundMs when the report shows that a busy machine starved a
 * probe (a local_overload, or a try more than --retries allows: the one overload retry).
 */
export function reportBoundMs(report: Report, timeoutMs: number, concurrency: number, retries: number): number {
  const targets = report.results.length;
  const starved = report.results.some((r) => r.error?.code === 'local_overload' || r.attempts > retries + 1);
  return starved ? starvedBoundMs(timeoutMs, targets, concurrency, retries) : boundMs(timeoutMs, targets, concurrency, retries);
}

export type ServerMode = 'tls' | 'plain-text' | 'silent' | 'reset-after-clienthello';

export interface FaultNetwork {
  /** Namespace pushcheck runs in. */
  client: string;
  /** Namespace of the servers and the firewall. */
  server: string;
  /** A temporary folder, removed by close(). */
  dir: string;
  /**
   * Adds nftables rules to the input chain of the server namespace, e.g. `tcp dport 7003 drop`: an `ip` table, or
   * with IPv6 an `inet` one, where a rule that names no family (`tcp dport 7003 drop`) holds for both.
   */
  firewall(rules: string[]): Promise<void>;
  /**
   * Starts ns-server.mjs in the server namespace on SERVER_ADDRESS (or on `address`, one that addAddress gave the
   * server namespace); resolves once every port listens.
   */
  startServer(mode: ServerMode, ports: string, cert?: { cert: string; key: string }, address?: string): Promise<void>;
  /**
   * Runs any server in the server namespace (killed by close()); resolves once its stdout or stderr matches
   * `ready` (within `readyMs`, 20 s by default: a busy machine starts Node slowly).
   */
  runInServer(command: string[], ready: RegExp, what: string, readyMs?: number): Promise<void>;
  /** Gives the server namespace another address (on its loopback) and the client a route to it, for a second host. */
  addAddress(address: string): Promise<void>;
  /** Starts dnsmasq on the client namespace's loopback (127.0.0.1:53); resolves with the --dns-server value. */
  startDnsmasq(args: string[]): Promise<string>;
  /**
   * Runs the built CLI in the client namespace, as a user would; SIGKILLed if it outlives killAfterMs; `witness`:
   * watched by the loop witness (runCli's option).
   */
  pushcheck(args: string[], options?: { killAfterMs?: number; witness?: boolean }): Promise<CliRun>;
  /** Kills what was started, deletes both namespaces. Safe to call twice; never throws. */
  close(): Promise<void>;
}

async function missingTool(command: string, args: string[], pkg: string): Promise<string | undefined> {
  try {
    await run(command, args);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${command} not found (apt-get install ${pkg})` : `${command} ${args.join(' ')} failed: ${String(err)}`;
  }
}

/** Why namespaces, veth pairs and nftables cannot be used here; undefined when they can (tried for real). */
export async function faultNetworkUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return `network namespaces need Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root for ip netns, veth and nftables (CI runs it as root via .ci/run)';
  const missing = (await missingTool('ip', ['-V'], 'iproute2')) ?? (await missingTool('nft', ['--version'], 'nftables'));
  if (missing) return missing;
  const name = `pc-${process.pid}-0-c`;
  try {
    await run('ip', ['netns', 'add', name]);
    await run('ip', ['netns', 'exec', name, 'nft', 'list', 'ruleset']);
    return undefined;
  } catch (err) {
    return `cannot create a network namespace with nftables in it (${firstLine(err)})`;
  } finally {
    await run('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

/**
 * Prints why `what` is skipped. With PUSHCHECK_REQUIRE_NETNS=1 (for a CI that must not skip silently), or under any
 * CI (CI set), it throws instead, so the suite fails to load and is counted as failed.
 */
export function announceSkip(what: string, reason: string | undefined): void {
  if (reason === undefined) return;
  if (process.env.PUSHCHECK_REQUIRE_NETNS === '1') throw new Error(`${what} cannot run: ${reason} (PUSHCHECK_REQUIRE_NETNS=1)`);
  if (process.env.CI) throw new Error(`${what} cannot run: ${reason} (CI runs as root with nft and ip: .ci/run)`);
  console.log(`${what} skipped: ${reason}`);
}

/** Why dnsmasq cannot be run; undefined when it can. */
export function dnsmasqUnavailable(): Promise<string | undefined> {
  return missingTool('dnsmasq', ['--version'], 'dnsmasq-base');
}

function firstLine(err: unknown): string {
  const text = (err as { stderr?: string }).stderr?.trim() || (err as Error).message || String(err);
  return text.split('\n')[0] ?? text;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The names of the machine's network namespaces (`ip netns list`; none where it fails). Its stderr is kept: it asks the
 * kernel for each namespace's id, and one that another test process is deleting at that moment prints "Peer netns
 * reference is invalid." (the listing itself is whole, the exit code 0).
 */
function namespaceNames(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '');
  } catch {
    return [];
  }
}

/** Namespaces left by an earlier run of these tests whose process and reaper (cleanup.mjs) both died before cleaning up. */
function sweepStaleNamespaces(): void {
  for (const name of namespaceNames()) {
    const match = NAME_PATTERN.exec(name);
    if (match && !pidAlive(Number(match[1]))) deleteNamespaceSync(name);
  }
}

/**
 * Resolves once `child` prints a line matching `pattern`. A helper's start-up is not what a test checks: 20 s, where
 * 5 s ran out for a Node server beside busy loops at load 10-20.
 */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (pattern.test(output)) done();
    };
    const onExit = (code: number | null): void => done(new Error(`${what} exited (${code}) before it was ready: ${output.trim()}`));
    const timer = setTimeout(() => done(new Error(`${what} not ready after ${timeoutMs} ms: ${output.trim()}`)), timeoutMs);
    const done = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
function stopChild(child: ChildProcess, graceMs = 1000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A bare Node's start in a namespace that says at its end how long it waited for a CPU (schedstat.cjs). */
const BARE_START = `process.stdout.write(String(require(${JSON.stringify(fileURLToPath(new URL('../helpers/schedstat.cjs', import.meta.url)))}).runQueueWaitMs('/proc/self/schedstat') ?? 0))`;

/**
 * What `ip netns exec` and Node's start-up may add to a child's wall time in `namespace` beside its waits for a CPU:
 * four times a bare Node's start there, measured now, less the time that start waited for a CPU; at least 1.5 s (a
 * fixed allowance failed on a busy machine, where a bare Node start alone took over a second). The child's own waits,
 * start-up included, are its loop witness's run queue, which expectWallWithin adds: when this counted them too, a busy
 * machine's start-up waits were allowed for five times over (a bare start at load 5: 170-290 ms, 10-165 ms of it
 * waiting for a CPU).
 */
export async function startupAllowanceMs(namespace: string): Promise<number> {
  const started = performance.now();
  const { stdout } = await run('ip', ['netns', 'exec', namespace, process.execPath, '-e', BARE_START]);
  const waitedMs = Number(stdout) || 0;
  return Math.max(1500, 4 * (performance.now() - started - waitedMs));
}

/**
 * Holds a child's wall time to a run's bound plus startupAllowanceMs(namespace), plus the time the child's main
 * thread waited for a CPU (its loop witness's run queue, start-up included): that much a machine busy with other
 * work withheld, not pushcheck. Counted once: startupAllowanceMs leaves waits out.
 */
export async function expectWallWithin(wallMs: number, bound: number, namespace: string, witness: LoopWitness): Promise<void> {
  const allowanceMs = await startupAllowanceMs(namespace);
  expect(wallMs, `wall time: the bound ${bound} ms, start-up ${Math.round(allowanceMs)} ms, ${describeWitness(witness)}`).toBeLessThanOrEqual(
    bound + allowanceMs + (witness.runQueueMs ?? 0),
  );
}

/** `ipv6`: the veth pair gets the IPv6 addresses too (CLIENT_ADDRESS6, SERVER_ADDRESS6), and the firewall both families. */
export async function createFaultNetwork(options: { ipv6?: boolean } = {}): Promise<FaultNetwork> {
  sweepStaleNamespaces();
  const id = randomBytes(3).toString('hex');
  const client = `pc-${process.pid}-${id}-c`;
  const server = `pc-${process.pid}-${id}-s`;
  // Interface names live only inside the namespaces, but must still fit in 15 characters.
  const vethClient = `pcv${id}c`;
  const vethServer = `pcv${id}s`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-faults-'));
  const children = new Set<ChildProcess>();
  let closed = false;

  // If the test process ends without close(): at a plain exit its 'exit' handler removes them at once; if a signal
  // ends it (Ctrl-C, vitest stopping its worker, SIGKILL), which runs no 'exit' handler, its reaper does
  // (cleanup.mjs). Listed with the reaper before they exist.
  const entries = [`namespace ${client}`, `namespace ${server}`, `folder ${dir}`] as const;
  for (const entry of entries) removeIfKilled(entry);
  const onExit = (): void => {
    for (const child of children) child.kill('SIGKILL');
    for (const entry of entries) removeSync(entry);
  };
  process.once('exit', onExit);

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all([...children].map((child) => stopChild(child)));
    process.off('exit', onExit);
    onExit();
    for (const entry of entries) removed(entry);
  };

  const ip = (...args: string[]) => run('ip', args);
  try {
    await ip('netns', 'add', client);
    await ip('netns', 'add', server);
    await ip('link', 'add', vethClient, 'netns', client, 'type', 'veth', 'peer', 'name', vethServer, 'netns', server);
    for (const [ns, dev, address] of [
      [client, vethClient, CLIENT_ADDRESS],
      [server, vethServer, SERVER_ADDRESS],
    ] as const) {
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/${PREFIX}`, 'dev', dev);
      await ip('-n', ns, 'link', 'set', dev, 'up');
    }
    if (options.ipv6) {
      // nodad: usable at once, not after duplicate address detection (no one else is on the pair).
      await ip('-n', client, 'addr', 'add', `${CLIENT_ADDRESS6}/${PREFIX6}`, 'dev', vethClient, 'nodad');
      await ip('-n', server, 'addr', 'add', `${SERVER_ADDRESS6}/${PREFIX6}`, 'dev', vethServer, 'nodad');
    }
  } catch (err) {
    await close();
    throw new Error(`building the fault network failed: ${firstLine(err)}`);
  }

  const spawnTracked = (args: string[]): ChildProcess => {
    const child = spawn('ip', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.on('error', () => undefined);
    return child;
  };

  let servers = 0;
  return {
    client,
    server,
    dir,

    async firewall(rules) {
      const script = [
        `table ${options.ipv6 ? 'inet' : 'ip'} pushcheck_faults {`,
        '  chain input {',
        '    type filter hook input priority 0; policy accept;',
        ...rules.map((rule) => `    ${rule}`),
        '  }',
        '}',
        '',
      ].join('\n');
      const file = path.join(dir, 'firewall.nft');
      writeFileSync(file, script);
      await run('ip', ['netns', 'exec', server, 'nft', '-f', file]);
    },

    async runInServer(command, ready, what, readyMs) {
      await waitForLine(spawnTracked(['netns', 'exec', server, ...command]), ready, what, readyMs);
    },

    async addAddress(address) {
      await run('ip', ['-n', server, 'addr', 'add', `${address}/32`, 'dev', 'lo']);
      await run('ip', ['-n', client, 'route', 'add', `${address}/32`, 'via', SERVER_ADDRESS]);
    },

    async startServer(mode, ports, cert, address = SERVER_ADDRESS) {
      servers += 1;
      const args = ['netns', 'exec', server, process.execPath, NS_SERVER, mode, address, ports];
      if (cert) {
        const certFile = path.join(dir, `server-${servers}.crt`);
        const keyFile = path.join(dir, `server-${servers}.key`);
        writeFileSync(certFile, cert.cert);
        writeFileSync(keyFile, cert.key, { mode: 0o600 });
        args.push(certFile, keyFile);
      }
      await waitForLine(spawnTracked(args), /^ready$/m, `ns-server ${mode} ${ports}`);
    },

    async startDnsmasq(extra) {
      const child = spawnTracked([
        'netns', 'exec', client, 'dnsmasq',
        '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
        '--bind-interfaces', '--listen-address=127.0.0.1', '--port=53',
        `--pid-file=${path.join(dir, 'dnsmasq.pid')}`, '--log-facility=-',
        ...extra,
      ]);
      // dnsmasq binds its sockets before it logs "started".
      await waitForLine(child, /started, version/, 'dnsmasq');
      return '127.0.0.1:53';
    },

    pushcheck(args, options = {}) {
      return runCli(args, { ...options, wrapper: ['ip', 'netns', 'exec', client], running: children });
    },

    close,
  };
}

/** Whether a namespace of this name exists (for tests of the cleanup itself). */
export function namespaceExists(name: string): boolean {
  return namespaceNames().includes(name);
}

/**
 * A fault network whose firewall drops the SYNs to port `dropped` (both families with `ipv6`), with a silent server
 * listening behind the rule, so that it is the firewall, not an empty port, that leaves a SYN unanswered; and on
 * `open` where given, a port that connects.
 */
export async function createDroppingNetwork(options: { dropped: number; open?: number; ipv6?: boolean }): Promise<FaultNetwork> {
  const net = await createFaultNetwork({ ipv6: options.ipv6 });
  try {
    await net.firewall([`tcp dport ${options.dropped} drop`]);
    await net.startServer('silent', [options.open, options.dropped].filter((port) => port !== undefined).join(','));
    return net;
  } catch (err) {
    await net.close();
    throw err;
  }
}
