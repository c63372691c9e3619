/**
 * The ports the run tests rely on to be refused (holdClosedPort, besideClosedPort): refused while held, and no
 * other socket can listen there in the meantime, on that address or the wildcard.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { besideClosedPort, holdClosedPort, ipv6Available, startTcpServer } from './servers.js';

const haveIpv6 = await ipv6Available();
if (!haveIpv6) {
  if (process.env.CI) throw new Error('CI needs ::1 for the held-port tests on IPv6');
  console.warn('skipping the held-port tests on ::1: this machine cannot listen on ::1');
}

/** What a connect to host:port ends in: 'connected' or the error's code. */
function connectEnd(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** What listening on host:port ends in: 'listening' (closed again at once) or the error's code. */
function listenEnd(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port }, () => server.close(() => resolve('listening')));
  });
}

const families = [
  { host: '127.0.0.1', wildcard: '0.0.0.0', other: '::1', run: true },
  { host: '::1', wildcard: '::', other: '127.0.0.1', run: haveIpv6 },
];

describe.each(families)('a port held closed on $host', ({ host, wildcard, other, run }) => {
  it.skipIf(!run)('is refused, and nothing can listen on it, there or on the wildcard, while it is held', async () => {
    const closed = await holdClosedPort(host);
    try {
      expect(await connectEnd(host, closed.port)).toBe('ECONNREFUSED');
      expect(await listenEnd(host, closed.port)).toBe('EADDRINUSE');
      expect(await listenEnd(wildcard, closed.port)).toBe('EADDRINUSE');
    } finally {
      await closed.close();
    }
    // Not asked: that the port is free once let go. It is one the kernel hands out for connects, which other processes'
    // connects on this address may share (a loaded machine did): their sockets too keep a bind() out.
  });

  it.skipIf(!haveIpv6)(`besideClosedPort: a server on ${host}, refused at its port on ${other}`, async () => {
    const { server, closed } = await besideClosedPort(host, (at, port) => startTcpServer({ host: at, port }));
    try {
      expect([server.host, closed.host, closed.port]).toEqual([host, other, server.port]);
      expect(await connectEnd(host, server.port)).toBe('connected');
      expect(await connectEnd(other, server.port)).toBe('ECONNREFUSED');
    } finally {
      await Promise.all([server.close(), closed.close()]);
    }
  });
});
