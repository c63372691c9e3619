/**
 * A loopback TCP port that is free now, for a child process that must be told its port before it listens (a harness
 * --admin-port, an MDM server named in --mdm-url, Prometheus's scrape target). Taken below the kernel's ephemeral
 * range (/proc/sys/net/ipv4/ip_local_port_range): a port there is handed out by neither `listen(0)` nor an outgoing
 * connect, so between this check and the child's listen only another explicit bind can take it. A port from
 * `listen(0)`, closed and handed on, was taken by the other tests' connects on a busy machine (EADDRINUSE). For the
 * same reason servers.ts's closedPort, a port a test expects a connect to be refused on, comes from here.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

const TRIES = 50;

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_024) return low;
  } catch {
    // not Linux: the range Linux uses by default
  }
  return 32_768;
}

/**
 * Whether nothing listens on `port` at `host`: a listen there succeeds, or `host` is no address of this machine (::1
 * without IPv6), where nothing can listen either.
 */
function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT'));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port below the ephemeral range that nothing listens on at any of `hosts` now. */
export async function freePort(hosts: string | readonly string[] = '127.0.0.1'): Promise<number> {
  const all = typeof hosts === 'string' ? [hosts] : hosts;
  const high = ephemeralStart();
  const low = high - 10_000;
  for (let i = 0; i < TRIES; i += 1) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await everyBindable(port, all)) return port;
  }
  throw new Error(`no free port in ${low}-${high - 1} on ${all.join(', ')} after ${TRIES} tries`);
}

async function everyBindable(port: number, hosts: readonly string[]): Promise<boolean> {
  for (const host of hosts) if (!(await bindable(port, host))) return false;
  return true;
}
