/**
 * Real servers for tests, listening on loopback only (127.0.0.1 by default, ::1 where asked), each misbehaving in
 * one known way. Every factory returns a TestServer: close it in afterAll; close() also destroys the connections
 * still open, so a test never hangs on a socket it forgot.
 *
 *   startTcpServer        accepts, reads and discards, never writes (also: the "silent" server)
 *   startResetServer      accepts, then resets (RST) at the first data or at once
 *   startPlainTextServer  answers the first data with a fixed text and closes: "not TLS"
 *   startTlsServer        a TLS server with any tls.TlsOptions (certificates from src/harness/certs.ts)
 *   startHttpServer       http, https or HTTP/2 (with HTTP/1.1 fallback) with a request handler
 *   closedPort            a port nothing listens on: connects are refused
 *   holdClosedPort        a port on one address that nothing can listen on while the test holds it: certainly refused
 *   onBothLoopbacks       a server on 127.0.0.1 and ::1 at one port
 *   besideClosedPort      a server on one loopback at a port refused on the other
 * A dropped flow (a SYN no one answers) is made with network namespaces and nftables: test/faults/netns.ts.
 */
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { freePort } from './free-port.js';

export interface TestServer {
  host: string;
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Server-side connections still open. */
  readonly open: number;
  /** Resolves once no connection is open (rejects after `timeoutMs`): proves the client closed its socket. */
  idle(timeoutMs?: number): Promise<void>;
  /** Destroys the open connections and stops listening. */
  close(): Promise<void>;
}

export const LOOPBACK = '127.0.0.1';

/** Listens on `host` and `port` (0: any free one), and keeps track of connections (the raw TCP sockets, under TLS too). */
export async function track(server: net.Server, host = LOOPBACK, port = 0): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const waiters = new Set<() => void>();
  let accepted = 0;
  server.on('connection', (socket: net.Socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    idle(timeoutMs = 2000) {
      if (sockets.size === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`${sockets.size} connection(s) still open after ${timeoutMs} ms`));
        }, timeoutMs);
        const wake = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        waiters.add(wake);
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Accepts connections, reads and discards, never writes; `onConnection` may do more. The "silent" server. */
export function startTcpServer(
  options: { host?: string; port?: number; onConnection?: (socket: net.Socket) => void } = {},
): Promise<TestServer> {
  const server = net.createServer((socket) => {
    socket.resume();
    options.onConnection?.(socket);
  });
  return track(server, options.host, options.port);
}

/** Accepts, then resets the connection with a TCP RST: at the first data (default) or as soon as it opens. */
export function startResetServer(options: { host?: string; when?: 'data' | 'connect' } = {}): Promise<TestServer> {
  const server = net.createServer((socket) => {
    if (options.when === 'connect') socket.resetAndDestroy();
    else socket.once('data', () => socket.resetAndDestroy());
  });
  return track(server, options.host);
}

/** Answers the first data with `text` and closes, as a plain-text service (HTTP, SMTP…) would to a ClientHello. */
export function startPlainTextServer(
  text = 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  options: { host?: string } = {},
): Promise<TestServer> {
  const server = net.createServer((socket) => socket.once('data', () => socket.end(text)));
  return track(server, options.host);
}

/**
 * A TLS server: reads and discards what the client sends after the handshake, never writes.
 * Handshake errors on the server side (a client that gives up, no client certificate…) are ignored.
 */
export function startTlsServer(options: tls.TlsOptions & { host?: string; port?: number }): Promise<TestServer> {
  const { host, port, ...tlsOptions } = options;
  const server = tls.createServer(tlsOptions, (socket) => {
    socket.on('error', () => undefined);
    socket.resume();
  });
  server.on('tlsClientError', () => undefined);
  return track(server, host, port);
}

/**
 * A request handler. Under HTTP/2 it gets the compatibility objects (Http2ServerRequest/Response), which answer to
 * the same calls (writeHead, write, end, headers); the authority is then in `req.headers[':authority']`.
 */
export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface HttpServerOptions {
  host?: string;
  /** Serve https with this certificate and key (and any other TLS option). */
  tls?: tls.TlsOptions;
  /** Serve HTTP/2 (ALPN h2, HTTP/1.1 as fallback); needs `tls`. */
  http2?: boolean;
}

/** An http, https or HTTP/2 server calling `handler` for each request. */
export function startHttpServer(handler: HttpHandler, options: HttpServerOptions = {}): Promise<TestServer> {
  let server: net.Server;
  if (options.http2) {
    if (!options.tls) throw new Error('startHttpServer: http2 needs tls');
    const h2 = http2.createSecureServer(
      { ...options.tls, allowHTTP1: true },
      handler as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    h2.on('sessionError', () => undefined);
    h2.on('tlsClientError', () => undefined);
    server = h2;
  } else if (options.tls) {
    const h1s = https.createServer(options.tls, handler);
    h1s.on('tlsClientError', () => undefined);
    server = h1s;
  } else {
    server = http.createServer(handler);
  }
  server.on('clientError', (_err: Error, socket: net.Socket) => socket.destroy());
  return track(server, options.host);
}

/**
 * The loopback addresses tests expect a closed port refused on: 127.0.0.1, 127.0.0.2 (the "refusing" second address
 * beside a server on 127.0.0.1) and ::1 (the same port's IPv6 refusal).
 */
const REFUSING_HOSTS = [LOOPBACK, '127.0.0.2', '::1'];

/**
 * A port that nothing listens on at any of `hosts`: connecting there is refused. It comes from below the ephemeral
 * range (free-port.ts), where neither another test's listen(0) nor an outgoing connect's source port can take it
 * before the test connects; a port from listen(0), closed and handed on, could be.
 */
export function closedPort(hosts: readonly string[] = REFUSING_HOSTS): Promise<number> {
  return freePort(hosts);
}

/** A port refused on one address for as long as the test holds it (holdClosedPort). */
export interface ClosedPort {
  host: string;
  port: number;
  /** Lets the port go. */
  close(): Promise<void>;
}

/**
 * A port on `host` that nothing listens on and nothing can listen on until close(): connecting to it is refused
 * for certain, where a port closedPort() found free may be taken by a parallel test before it is used. The port
 * is the local end of a connection the test keeps open to a listener of its own: a socket that connected without
 * SO_REUSEADDR holds its address and port against every later bind(), the wildcard's too. The kernel picks it
 * among ports no bind() took, or rarely beside a listener on it: a connect that is not refused picks again.
 */
export async function holdClosedPort(host = LOOPBACK): Promise<ClosedPort> {
  const accepted = new Set<net.Socket>();
  const listener = net.createServer((socket) => accepted.add(socket.on('error', () => undefined)));
  await new Promise<void>((resolve, reject) => listener.once('error', reject).listen({ host, port: 0 }, resolve));
  const connected = (port: number): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => resolve(socket)).once('error', reject);
    });
  const close = async (): Promise<void> => {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  };
  try {
    for (let tries = 1; tries <= 20; tries += 1) {
      const holder = await connected((listener.address() as net.AddressInfo).port);
      holder.on('error', () => undefined);
      const port = holder.localPort!;
      const refused = await connected(port).then(
        (socket) => void socket.destroy(),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
      );
      // A reset, not a FIN: the holder's side would otherwise stay in TIME_WAIT, holding the port a minute longer.
      if (refused) return { host, port, close: () => (holder.resetAndDestroy(), close()) };
      holder.resetAndDestroy();
    }
    throw new Error(`no port on ${host} to hold closed in 20 tries`);
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * `start` tried again while the port it chose is in use on the other family (EADDRINUSE: a port free on one
 * loopback may be taken on the other by another process), at most 20 times; `start` undoes its own half-start.
 */
async function untilPortFree<T>(start: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries += 1) {
    try {
      return await start();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries >= 20) throw err;
    }
  }
}

/** A server that `start` listens on 127.0.0.1 and on ::1 at one port: [IPv4, IPv6]. */
export function onBothLoopbacks(start: (host: string, port?: number) => Promise<TestServer>): Promise<TestServer[]> {
  return untilPortFree(async () => {
    const first = await start(LOOPBACK);
    try {
      return [first, await start('::1', first.port)];
    } catch (err) {
      await first.close();
      throw err;
    }
  });
}

/**
 * A server that `start` listens on `host` (127.0.0.1 or ::1) at a port refused on the other loopback
 * (holdClosedPort): the other family's connect is refused for certain. Close both.
 */
export function besideClosedPort(
  host: string,
  start: (host: string, port: number) => Promise<TestServer>,
): Promise<{ server: TestServer; closed: ClosedPort }> {
  return untilPortFree(async () => {
    const closed = await holdClosedPort(host === LOOPBACK ? '::1' : LOOPBACK);
    try {
      return { server: await start(host, closed.port), closed };
    } catch (err) {
      await closed.close();
      throw err;
    }
  });
}

/** Whether this machine can listen on ::1. */
export async function ipv6Available(): Promise<boolean> {
  const server = net.createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
  });
}
