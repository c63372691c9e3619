/**
 * Real proxies for tests, run as child processes on 127.0.0.1: tinyproxy (HTTP CONNECT) and microsocks (SOCKS5),
 * the Debian packages .ci/run installs. A factory resolves once its proxy listens; stop() kills it. Whatever is
 * still running when the test process exits is killed then, so a failing suite leaves no proxy behind; a proxy
 * also dies with a test process that a signal ended (diesWithParent), where no 'exit' handler runs.
 *
 *   const http = await startTinyproxy({ connectPorts: [server.port], auth: { user: 'u', password: 'p' } });
 *   const socks = await startMicrosocks();
 *   ... --proxy socks.url ...
 *   await Promise.all([http.stop(), socks.stop()]);
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { diesWithParent, diesWithParentUnavailable } from './dies-with-parent.mjs';
import { closedPort, LOOPBACK } from './servers.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface TestProxy {
  /** `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT`, without credentials. */
  url: string;
  port: number;
  /** The URL with `user:password@` in it. */
  urlWith(credentials: Credentials): string;
  /** Kills the proxy and waits for it to exit. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the proxy tests cannot run here (a program missing), or undefined. */
export function proxyToolsMissing(): string | undefined {
  const missing = ['tinyproxy', 'microsocks'].filter((command) => !onPath(command));
  if (missing.length > 0) return `${missing.join(' and ')} not found (apt-get install ${missing.join(' ')})`;
  // Both are started through setpriv (diesWithParent).
  return diesWithParentUnavailable();
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts `command`, resolves once `port` accepts connections; rejects with its output if it exits or takes 5 s. */
async function startProcess(
  command: string,
  args: string[],
  port: number,
  scheme: string,
  cleanup = (): void => undefined,
  host = LOOPBACK,
): Promise<TestProxy> {
  const child = spawn(...diesWithParent(command, args), { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
    running.delete(child);
    cleanup();
  });
  const stop = async (): Promise<void> => {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = performance.now() + 5000;
  while (!(await canConnect(port, host))) {
    if (gone || performance.now() > deadline) {
      await stop();
      throw new Error(`${command} ${args.join(' ')} did not listen on ${port}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const authority = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  const url = `${scheme}://${authority}`;
  return {
    url,
    port,
    urlWith: ({ user, password }) => `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${authority}`,
    stop,
  };
}

export interface TinyproxyOptions {
  /** The only ports CONNECT may reach; tinyproxy answers any other with "403 Access violation". */
  connectPorts: number[];
  /** Basic authentication the proxy demands (407 without it). */
  auth?: Credentials;
}

/** tinyproxy on 127.0.0.1, an HTTP proxy that tunnels with CONNECT, configured by a temporary file. */
export async function startTinyproxy(options: TinyproxyOptions): Promise<TestProxy> {
  const port = await closedPort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-tinyproxy-'));
  const config = path.join(dir, 'tinyproxy.conf');
  writeFileSync(config, tinyproxyConfig(port, options));
  return startProcess('tinyproxy', ['-d', '-c', config], port, 'http', () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * tinyproxy's configuration: listening on `listen` (127.0.0.1 by default), serving clients from `allow` (the same by
 * default). Also for a tinyproxy run elsewhere, e.g. in a fault network's namespace (`tinyproxy -d -c FILE`).
 */
export function tinyproxyConfig(port: number, options: TinyproxyOptions & { listen?: string; allow?: string }): string {
  const { listen = LOOPBACK, allow = listen } = options;
  return [
    `Port ${port}`,
    `Listen ${listen}`,
    `Allow ${allow}`,
    'Timeout 30',
    'MaxClients 50',
    'LogLevel Critical',
    ...options.connectPorts.map((p) => `ConnectPort ${p}`),
    ...(options.auth ? [`BasicAuth ${options.auth.user} ${options.auth.password}`] : []),
    '',
  ].join('\n');
}

/** microsocks's arguments: listening on `host`:`port`; with `auth`, it accepts only that user name and password. */
export function microsocksArgs(host: string, port: number, auth?: Credentials): string[] {
  return ['-i', host, '-p', String(port), ...(auth ? ['-u', auth.user, '-P', auth.password] : [])];
}

/** microsocks on `host` (127.0.0.1 by default), a SOCKS5 proxy; with `auth`, it accepts only that user name and password. */
export async function startMicrosocks(options: { auth?: Credentials; host?: string } = {}): Promise<TestProxy> {
  const port = await closedPort();
  const host = options.host ?? LOOPBACK;
  return startProcess('microsocks', microsocksArgs(host, port, options.auth), port, 'socks5', undefined, host);
}

/**
 * Why `what` is skipped here (printed), or undefined when tinyproxy and microsocks are installed. Under CI, which
 * installs both (.ci/run), a missing one fails the suite instead of skipping it.
 */
export function proxyTestsSkipped(what: string): string | undefined {
  const missing = proxyToolsMissing();
  if (missing === undefined) return undefined;
  if (process.env.CI) throw new Error(`${what} need tinyproxy and microsocks, which CI installs: ${missing}`);
  console.log(`${what} skipped: ${missing}`);
  return missing;
}
