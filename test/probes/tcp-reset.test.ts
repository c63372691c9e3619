/**
 * How a tcp check closes its connection: by a reset (SO_LINGER 0), as nmap -sT does, where tls and http checks end
 * theirs in order (FIN). What the server sees, what is left on this machine (no TIME_WAIT), on IPv4 and IPv6, and
 * that the pool's re-used sockets go on connecting and closing so.
 */
import { execFileSync } from 'node:child_process';
import type net from 'node:net';
import http from 'node:http';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { SocketPool } from '../../src/probes/tcp.js';
import { runChecks } from '../../src/run/run.js';
import type { CheckKind, Report } from '../../src/types.js';
import { checkSettings, rule, ruleSet } from '../helpers/literals.js';
import { ipv6Available, startTcpServer, track, type TestServer } from '../helpers/servers.js';

/** An address of this file's own under 127.0.0.0/8: TIME_WAIT sockets to it are this file's, whatever runs beside. */
const OWN_V4 = '127.0.7.1';
const never = new AbortController().signal;

/** How the server saw its connections end: the client's FIN ('end') or its RST ('error' ECONNRESET). */
class Ends {
  fins = 0;
  resets = 0;
  others: string[] = [];
  closed = 0;

  readonly watch = (socket: net.Socket): void => {
    socket.once('end', () => (this.fins += 1));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? (this.resets += 1) : this.others.push(err.code ?? err.message)));
    socket.once('close', () => (this.closed += 1));
  };

  /** Waits (bounded) until `count` connections have closed on the server's side. */
  async closedAll(count: number): Promise<void> {
    await vi.waitFor(() => expect(this.closed).toBeGreaterThanOrEqual(count), { timeout: 5000, interval: 10 });
  }
}

/**
 * TIME_WAIT sockets on this machine whose peer is `host`:`port`: the client's side of connections the client closed
 * first, in order. Tests compare counts before and after, so that one left by an earlier run on a port the kernel has
 * since handed out again (they last 60 s) cannot fail them.
 */
function timeWaitTo(host: string, port: number): number {
  if (!ssFound) return 0;
  const peer = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const out = execFileSync('ss', ['-Htan', 'state', 'time-wait', 'dst', peer], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

async function check(server: TestServer, kind: CheckKind, count: number, extra: { caPems?: string[]; host?: string } = {}): Promise<Report> {
  const host = extra.host ?? 'reset.test';
  const set = ruleSet([
    rule({ id: kind, host, probe: Array.from({ length: count }, (_, i) => `h${i}.${host}`), ports: [server.port], check: kind }),
  ]);
  return runChecks([set], checkSettings({ concurrency: 8, pins: [{ host: `*.${host}`, address: server.host }], ...(extra.caPems && { caPems: extra.caPems }) }));
}

const ssFound = (() => {
  try {
    execFileSync('ss', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!ssFound && process.env.CI) throw new Error('CI must have ss (iproute2) for the TIME_WAIT tests');
if (!ssFound) console.log('tcp reset: the TIME_WAIT checks are left out: no ss (iproute2) on this machine');

const v6 = await ipv6Available();
if (!v6) console.log('tcp reset: the IPv6 cases are left out: no IPv6 loopback on this machine');
const families = [OWN_V4, ...(v6 ? ['::1'] : [])];

describe.each(families)('the tcp check on %s', (host) => {
  let ends: Ends;
  let server: TestServer;
  beforeAll(async () => {
    ends = new Ends();
    server = await startTcpServer({ host, onConnection: ends.watch });
  });
  afterAll(() => server.close());

  it('closes by a reset: the server sees ECONNRESET, never an orderly end, and no TIME_WAIT is left here', async () => {
    const waiting = timeWaitTo(host, server.port);
    const report = await check(server, 'tcp', 20);
    expect(report.results.map((r) => [r.status, r.address])).toEqual(Array.from({ length: 20 }, () => ['pass', host]));
    await ends.closedAll(20);
    expect(timeWaitTo(host, server.port)).toBe(waiting);
    expect({ fins: ends.fins, resets: ends.resets, others: ends.others }).toEqual({ fins: 0, resets: 20, others: [] });
  });

  it('re-uses a pooled socket after a reset: it connects and resets again, and goes back to the pool', async () => {
    const pool = new SocketPool(1);
    const before = { resets: ends.resets, accepted: server.accepted, waiting: timeWaitTo(host, server.port) };
    await pool.connectAndClose(host, server.port, { signal: never, timeoutMs: 2000 });
    await vi.waitFor(() => expect(pool.idleSockets()).toHaveLength(1), { timeout: 2000, interval: 5 });
    const [socket] = pool.idleSockets();
    for (let i = 0; i < 3; i += 1) {
      await pool.connectAndClose(host, server.port, { signal: never, timeoutMs: 2000 });
      await vi.waitFor(() => expect(pool.idleSockets()).toEqual([socket]), { timeout: 2000, interval: 5 });
    }
    expect(server.accepted - before.accepted).toBe(4);
    await vi.waitFor(() => expect(ends.resets - before.resets).toBe(4), { timeout: 5000, interval: 10 });
    expect(ends.fins).toBe(0);
    // Nothing of a close carried over: the socket waits closed, with only the pool's own listeners.
    expect({ destroyed: socket?.destroyed, connecting: socket?.connecting, connect: socket?.listenerCount('connect'), error: socket?.listenerCount('error') }).toEqual({
      destroyed: true,
      connecting: false,
      connect: 1,
      error: 1,
    });
    expect(timeWaitTo(host, server.port)).toBe(before.waiting);
  });
});

describe.each(families)('tls and http checks on %s', (host) => {
  let caPem: string;
  let tlsEnds: Ends;
  let httpEnds: Ends;
  let tlsServer: TestServer;
  let httpServer: TestServer;
  beforeAll(async () => {
    const ca = await createCertificateAuthority('tcp reset test CA');
    caPem = ca.cert;
    const leaf = await ca.issue({ names: ['*.reset.test'] });
    tlsEnds = new Ends();
    httpEnds = new Ends();
    // The TLS server's connections are watched after the handshake: a reset or FIN before it is a tlsClientError.
    const raw = tls.createServer(leaf, (socket) => {
      tlsEnds.watch(socket);
      socket.resume();
    });
    tlsServer = await track(raw, host);
    const web = http.createServer((_req, res) => res.end('ok'));
    web.on('connection', httpEnds.watch);
    httpServer = await track(web, host);
  });
  afterAll(async () => {
    await Promise.all([tlsServer.close(), httpServer.close()]);
  });

  // A TLS server sees a close before its side of the handshake completes as a tlsClientError, FIN or RST alike: the
  // client's TIME_WAIT tells them apart (only the side that closes first in order keeps one).
  it('a tls check ends its connection in order (FIN): the client keeps its TIME_WAIT, as before', async () => {
    const waiting = timeWaitTo(host, tlsServer.port);
    const report = await check(tlsServer, 'tls', 4, { caPems: [caPem] });
    expect(report.results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    if (ssFound) await vi.waitFor(() => expect(timeWaitTo(host, tlsServer.port)).toBe(waiting + 4), { timeout: 5000, interval: 20 });
    else await tlsServer.idle();
  });

  it('an http check ends its connection in order (FIN)', async () => {
    const waiting = timeWaitTo(host, httpServer.port);
    const report = await check(httpServer, 'http', 4);
    expect(report.results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    await httpEnds.closedAll(4);
    expect({ fins: httpEnds.fins, resets: httpEnds.resets }).toEqual({ fins: 4, resets: 0 });
    if (ssFound) expect(timeWaitTo(host, httpServer.port)).toBe(waiting + 4);
  });

  it('a tcp check against the same servers closes by a reset, and leaves no TIME_WAIT', async () => {
    const web = { fins: httpEnds.fins, resets: httpEnds.resets, closed: httpEnds.closed };
    const waiting = { tls: timeWaitTo(host, tlsServer.port), http: timeWaitTo(host, httpServer.port) };
    for (const server of [httpServer, tlsServer]) {
      const report = await check(server, 'tcp', 4);
      expect(report.results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    }
    await httpEnds.closedAll(web.closed + 4);
    expect({ fins: httpEnds.fins - web.fins, resets: httpEnds.resets - web.resets }).toEqual({ fins: 0, resets: 4 });
    await tlsServer.idle();
    // The tls and http checks' TIME_WAIT sockets (60 s on Linux) are still there; none was added.
    expect({ tls: timeWaitTo(host, tlsServer.port), http: timeWaitTo(host, httpServer.port) }).toEqual(waiting);
  });
});
