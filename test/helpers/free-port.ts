/**
 * A loopback TCP port that is free now, for a child process that must be told its port before it listens (a harness
 * --admin-port, an MDM server named in --mdm-url, Prometheus's scrape target). Taken below the kernel's ephemeral
 * range (/proc/sys/net/ipv4/ip_local_port_range): a port there is handed out by neither `listen(0)` nor an outgoing
 * connect, so between this check and the child's listen only another explicit bind can take it. A port from
 * `listen(0)`, closed and handed on, was taken by the other tests' connects on a busy machine (EADDRINUSE).
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

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const high = ephemeralStart();
  const low = high - 10_000;
  for (let i = 0; i < TRIES; i += 1) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await bindable(port, host)) return port;
  }
  throw new Error(`no free port in ${low}-${high - 1} on ${host} after ${TRIES} tries`);
}
